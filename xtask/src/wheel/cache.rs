//! The content-addressed wheel cache (atomic, locked, checked on every use).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use fs_err::{self as fs, File};

use crate::hash::Sha256;

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

/// An entry as found on disk.
enum Checked {
    Intact(Entry),
    Absent,
    Changed,
}

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
        match self.check(key)? {
            Checked::Intact(entry) => Ok(Some(entry)),
            Checked::Absent => Ok(None),
            Checked::Changed => {
                // Removed under the lock, after a second look: another run may have just
                // replaced it with a good entry.
                let lock = self.lock()?;
                if matches!(self.check(key)?, Checked::Changed) {
                    self.evict(key)?;
                }
                drop(lock);
                Ok(None)
            }
        }
    }

    /// What the entry for `key` is. A wheel that cannot be read is an error, not a miss:
    /// only bytes that differ from the record make an entry changed.
    fn check(&self, key: &str) -> Result<Checked> {
        let Some(entry) = self.read(key) else { return Ok(Checked::Absent) };
        let bytes = fs::read(&entry.file)?;
        Ok(if Sha256::of(&bytes) == entry.sha256 {
            Checked::Intact(entry)
        } else {
            Checked::Changed
        })
    }

    /// The cache's lock, held until dropped.
    fn lock(&self) -> Result<File> {
        fs::create_dir_all(&self.dir)?;
        let lock = crate::files::open_lock(&self.dir.join(".lock"))?;
        lock.file().lock().context("lock the wheel cache")?;
        Ok(lock)
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
            let lock = self.lock()?;
            let entry = self.dir.join(key);
            if !matches!(self.check(key)?, Checked::Intact(_)) {
                self.evict(key)?;
                fs::rename(&tmp, &entry)?;
            }
            drop(lock);
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
