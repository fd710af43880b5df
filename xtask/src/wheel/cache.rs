//! Content hashes of package folders and the content-addressed wheel cache (atomic, locked).

use std::io::Write;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err::{self as fs, File};
use sha2::{Digest, Sha256 as Hasher};

use crate::hash::{hex, Sha256};

/// Folder names whose content never goes into a wheel: caches and build output.
const IGNORED_DIRS: &[&str] = &["__pycache__", "dist", "build", "node_modules", "target"];
/// Files next to the sources that are not part of the wheel.
const IGNORED_FILES: &[&str] = &["poetry.lock", "uv.lock"];

/// Hash of a package folder: every file's path and bytes, skipping hidden entries, caches,
/// build output, lock files and nested packages (folders with their own pyproject.toml).
pub fn content_hash(dir: &Utf8Path) -> Result<Sha256> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files).with_context(|| format!("hash the sources in {dir}"))?;
    files.sort();
    let mut h = Hasher::new();
    for rel in files {
        let bytes = fs::read(dir.join(&rel))?;
        h.update(rel.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(Sha256::from_hex(&hex(&h.finalize())).expect("a sha256 digest is 64 hex digits"))
}

fn collect(root: &Utf8Path, dir: &Utf8Path, out: &mut Vec<String>) -> Result<()> {
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.starts_with('.') {
            continue;
        }
        let ft = entry.file_type()?;
        let path = entry.path();
        if ft.is_dir() {
            if !IGNORED_DIRS.contains(&name) && !path.join("pyproject.toml").exists() {
                collect(root, path, out)?;
            }
        } else if ft.is_file() && !name.ends_with(".pyc") && !IGNORED_FILES.contains(&name) {
            out.push(path.strip_prefix(root).unwrap_or(path).as_str().replace('\\', "/"));
        }
    }
    Ok(())
}

/// `<dir>/<key>/<file>.whl` entries. An entry appears by one rename of a complete folder,
/// under a file lock, so readers never see a half-written wheel.
pub struct WheelCache {
    dir: Utf8PathBuf,
}

impl WheelCache {
    pub fn new(dir: Utf8PathBuf) -> WheelCache {
        WheelCache { dir }
    }

    /// The cached wheel for `key`, if complete.
    pub fn get(&self, key: &str) -> Option<Utf8PathBuf> {
        let entry = self.dir.join(key);
        let mut wheels = entry
            .read_dir_utf8()
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().ends_with(".whl"));
        let first = wheels.next()?.into_path();
        wheels.next().is_none().then_some(first)
    }

    /// Stores `bytes` as `file` under `key`; returns the cached path. When another run stored
    /// the key first, its entry wins (the contents are the same by construction).
    pub fn put(&self, key: &str, file: &str, bytes: &[u8]) -> Result<Utf8PathBuf> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".tmp-{key}-{}-{}", std::process::id(), nanos()));
        fs::create_dir(&tmp)?;
        let result = (|| {
            let mut f =
                File::create(tmp.join(file)).with_context(|| format!("write {tmp}/{file}"))?;
            f.write_all(bytes)?;
            f.sync_all()?;
            let lock = File::create(self.dir.join(".lock"))?;
            lock.file().lock().context("lock the wheel cache")?;
            let entry = self.dir.join(key);
            if self.get(key).is_none() {
                if entry.exists() {
                    fs::remove_dir_all(&entry)
                        .with_context(|| format!("remove incomplete {entry}"))?;
                }
                fs::rename(&tmp, &entry)?;
            }
            lock.file().unlock()?;
            self.get(key).with_context(|| format!("cache entry {entry} vanished"))
        })();
        if tmp.exists() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }
}

/// Nanoseconds since the epoch: part of scratch names, so two runs never share one.
pub fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::temp_dir as temp;

    #[test]
    fn content_hash_ignores_caches_and_nested_packages() {
        let dir = temp("hash");
        fs::create_dir_all(dir.join("pkg/__pycache__")).unwrap();
        fs::create_dir_all(dir.join("nested")).unwrap();
        fs::write(dir.join("pyproject.toml"), "[project]\n").unwrap();
        fs::write(dir.join("pkg/a.py"), "x = 1\n").unwrap();
        let before = content_hash(&dir).unwrap();
        fs::write(dir.join("pkg/__pycache__/a.cpython-311.pyc"), "junk").unwrap();
        fs::write(dir.join("poetry.lock"), "junk").unwrap();
        fs::write(dir.join("nested/pyproject.toml"), "[project]\n").unwrap();
        fs::write(dir.join(".hidden"), "junk").unwrap();
        assert_eq!(content_hash(&dir).unwrap(), before);
        fs::write(dir.join("pkg/a.py"), "x = 2\n").unwrap();
        assert_ne!(content_hash(&dir).unwrap(), before);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn put_then_get_and_first_writer_wins() {
        let dir = temp("cache");
        let cache = WheelCache::new(dir.clone());
        assert!(cache.get("k").is_none());
        let p = cache.put("k", "a-1-py3-none-any.whl", b"one").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        let again = cache.put("k", "a-1-py3-none-any.whl", b"two").unwrap();
        assert_eq!(fs::read(again).unwrap(), b"one");
        // An interrupted run leaves only a temp folder, which is not an entry.
        fs::create_dir_all(dir.join(".tmp-x")).unwrap();
        fs::create_dir_all(dir.join("half")).unwrap();
        assert!(cache.get("half").is_none());
        assert_eq!(
            fs::read_dir(&dir)
                .unwrap()
                .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
                .count(),
            2
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
