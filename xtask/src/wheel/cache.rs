//! Content hashes of package folders and the content-addressed wheel cache (atomic, locked).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

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

/// `<dir>/<key>/<file>.whl` entries, each with the sha256 it was stored with (`<key>/.sha256`).
/// An entry appears by one rename of a complete folder, under a file lock, so readers never see
/// a half-written wheel; entries are read-only, and their content is checked against the
/// record whenever one is used, so a wheel changed in place is found and replaced.
pub struct WheelCache {
    dir: Utf8PathBuf,
}

/// A cached wheel and the digest it was stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: Utf8PathBuf,
    pub sha256: Sha256,
}

const RECORD: &str = ".sha256";

impl WheelCache {
    pub fn new(dir: Utf8PathBuf) -> WheelCache {
        WheelCache { dir }
    }

    /// Whether a complete entry for `key` is there, without reading the wheel.
    pub fn has(&self, key: &str) -> bool {
        self.read(key).is_some()
    }

    /// The entry for `key`, its wheel checked against its record. An entry whose wheel no
    /// longer has the recorded digest (changed in place, truncated, flipped bits) is removed,
    /// so the caller builds it again.
    pub fn get(&self, key: &str) -> Result<Option<Entry>> {
        let Some(entry) = self.read(key) else { return Ok(None) };
        let intact = fs::read(&entry.file).is_ok_and(|bytes| Sha256::of(&bytes) == entry.sha256);
        if intact {
            return Ok(Some(entry));
        }
        self.evict(key)?;
        Ok(None)
    }

    /// The entry as recorded, unchecked.
    fn read(&self, key: &str) -> Option<Entry> {
        let dir = self.dir.join(key);
        let sha256 =
            fs::read_to_string(dir.join(RECORD)).ok().and_then(|t| Sha256::from_hex(t.trim()))?;
        let mut wheels = dir
            .read_dir_utf8()
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().ends_with(".whl"));
        let first = wheels.next()?.into_path();
        wheels.next().is_none().then_some(Entry { file: first, sha256 })
    }

    fn evict(&self, key: &str) -> Result<()> {
        let dir = self.dir.join(key);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        Ok(())
    }

    /// Stores `bytes` as `file` under `key`; returns the entry. When another run stored the
    /// key first, its entry wins (the contents are the same by construction).
    pub fn put(&self, key: &str, file: &str, bytes: &[u8]) -> Result<Entry> {
        fs::create_dir_all(&self.dir)?;
        let tmp =
            self.dir.join(format!(".tmp-{key}-{}-{}", std::process::id(), crate::files::nanos()));
        fs::create_dir(&tmp)?;
        let result = (|| {
            let mut f = File::create(tmp.join(file))?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::write(tmp.join(RECORD), Sha256::of(bytes).hex())?;
            // Read-only files (folders stay writable, so `rm -rf target` works for everyone).
            for name in [file, RECORD] {
                fs::set_permissions(tmp.join(name), std::fs::Permissions::from_mode(0o444))?;
            }
            let lock = crate::files::open_lock(&self.dir.join(".lock"))?;
            lock.file().lock().context("lock the wheel cache")?;
            let entry = self.dir.join(key);
            if self.get(key)?.is_none() {
                self.evict(key)?;
                fs::rename(&tmp, &entry)?;
            }
            lock.file().unlock()?;
            self.get(key)?.with_context(|| format!("cache entry {entry} vanished"))
        })();
        if tmp.exists() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }
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
        assert!(cache.get("k").unwrap().is_none());
        let p = cache.put("k", "a-1-py3-none-any.whl", b"one").unwrap();
        assert_eq!(
            (fs::read(&p.file).unwrap(), p.sha256.clone()),
            (b"one".to_vec(), Sha256::of(b"one"))
        );
        let again = cache.put("k", "a-1-py3-none-any.whl", b"two").unwrap();
        assert_eq!(fs::read(again.file).unwrap(), b"one");
        // An interrupted run leaves only a temp folder, which is not an entry.
        fs::create_dir_all(dir.join(".tmp-x")).unwrap();
        fs::create_dir_all(dir.join("half")).unwrap();
        assert!(cache.get("half").unwrap().is_none());
        assert_eq!(
            fs::read_dir(&dir)
                .unwrap()
                .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
                .count(),
            2
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_entry_changed_in_place_is_found_and_evicted() {
        let dir = temp("tamper");
        let cache = WheelCache::new(dir.clone());
        let entry = cache.put("k", "a-1-py3-none-any.whl", b"the wheel").unwrap();
        assert_eq!(fs::metadata(&entry.file).unwrap().permissions().mode() & 0o777, 0o444);
        // Same size, same mtime, other bytes: what a stat-based check would miss.
        let mtime = fs::metadata(&entry.file).unwrap().modified().unwrap();
        fs::set_permissions(&entry.file, std::fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&entry.file, b"the wheeL").unwrap();
        File::options().write(true).open(&entry.file).unwrap().file().set_modified(mtime).unwrap();
        assert!(cache.get("k").unwrap().is_none(), "a changed wheel was served");
        assert!(!dir.join("k").exists(), "the bad entry stays");
        assert!(cache.put("k", "a-1-py3-none-any.whl", b"the wheel").is_ok());
        fs::remove_dir_all(dir).unwrap();
    }
}
