//! Image layers written by xtask: tar archives whose bytes depend only on their content
//! (entries sorted, parents listed, owner root, fixed modes and timestamps), their digests,
//! and their gzip form (also deterministic: no name, no time in the gzip header).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{bail, Result};

use crate::hash::Sha256;

/// One entry of a layer, by its path in the image (relative, `/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
}

/// A layer's content before it is written: path → entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

/// A written layer: the tar, its digest (the image config's `diff_id`), and, once asked for,
/// its gzip blob and that blob's digest.
#[derive(Debug, Clone)]
pub struct Layer {
    pub tar: Vec<u8>,
    pub diff_id: Sha256,
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds a file; its parent folders are added as 0755 folders unless given.
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<()> {
        self.add(path, Entry::File { mode, data })
    }

    pub fn dir(&mut self, path: &str, mode: u32) -> Result<()> {
        self.add(path, Entry::Dir { mode })
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.add(path, Entry::Symlink { target: target.to_string() })
    }

    fn add(&mut self, path: &str, entry: Entry) -> Result<()> {
        let path = path.trim_start_matches('/').trim_end_matches('/');
        if !crate::wheel::install::safe_path(path) {
            bail!("{path:?} is not a path inside the image");
        }
        let mut parent = path;
        while let Some((p, _)) = parent.rsplit_once('/') {
            self.entries.entry(p.to_string()).or_insert(Entry::Dir { mode: 0o755 });
            parent = p;
        }
        self.entries.insert(path.to_string(), entry);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every path and entry, sorted.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    /// Merges `other` in (its entries win).
    pub fn extend(&mut self, other: Tree) {
        self.entries.extend(other.entries);
    }

    /// The tar archive: entries in path order, every one owned by root, timestamped `mtime`.
    pub fn write(&self, mtime: u64) -> Result<Layer> {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(mtime);
            match entry {
                Entry::Dir { mode } => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_size(0);
                    builder.append_data(&mut header, format!("{path}/"), std::io::empty())?;
                }
                Entry::File { mode, data } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, data.as_slice())?;
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target)?;
                }
            }
        }
        let tar = builder.into_inner()?;
        let diff_id = Sha256::of(&tar);
        Ok(Layer { tar, diff_id })
    }
}

impl Layer {
    /// The gzip blob of the layer (no file name, time 0 in its header): the same tar gives
    /// the same blob on every machine.
    pub fn gzip(&self) -> Result<(Vec<u8>, Sha256)> {
        gzip(&self.tar)
    }
}

/// Gzip of `bytes` with a header that holds nothing of the machine or the time.
pub fn gzip(bytes: &[u8]) -> Result<(Vec<u8>, Sha256)> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::with_capacity(bytes.len() / 3), flate2::Compression::new(6));
    encoder.write_all(bytes)?;
    let blob = encoder.finish()?;
    let digest = Sha256::of(&blob);
    Ok((blob, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_gives_the_same_bytes_in_any_order() {
        let mut a = Tree::new();
        a.file("opt/venv/lib/x.py", 0o644, b"x = 1\n".to_vec()).unwrap();
        a.symlink("opt/venv/lib64", "lib").unwrap();
        a.file("etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n".to_vec()).unwrap();
        let mut b = Tree::new();
        b.file("etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n".to_vec()).unwrap();
        b.symlink("opt/venv/lib64", "lib").unwrap();
        b.file("opt/venv/lib/x.py", 0o644, b"x = 1\n".to_vec()).unwrap();
        let (la, lb) = (a.write(315_532_800).unwrap(), b.write(315_532_800).unwrap());
        assert_eq!(la.diff_id, lb.diff_id);
        assert_eq!(la.gzip().unwrap().1, lb.gzip().unwrap().1);
        let mut archive = tar::Archive::new(la.tar.as_slice());
        let paths: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            paths,
            [
                "etc/",
                "etc/passwd",
                "opt/",
                "opt/venv/",
                "opt/venv/lib/",
                "opt/venv/lib/x.py",
                "opt/venv/lib64"
            ]
        );
        assert!(a.file("../etc/x", 0o644, Vec::new()).is_err());
    }

    #[test]
    fn long_paths_survive() {
        let long = format!("opt/venv/lib/python3.11/site-packages/{}/mod.py", "a".repeat(150));
        let mut t = Tree::new();
        t.file(&long, 0o644, b"1".to_vec()).unwrap();
        let layer = t.write(0).unwrap();
        let mut archive = tar::Archive::new(layer.tar.as_slice());
        let found = archive
            .entries()
            .unwrap()
            .any(|e| e.unwrap().path().unwrap().to_string_lossy() == long);
        assert!(found);
    }
}
