//! Filesystem steps shared by the pipeline: linking cached files, fresh folders, owners.

use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;

/// Puts a cached file into a context: a hard link when possible, a copy otherwise.
pub fn link_or_copy(src: &Utf8Path, dest: &Utf8Path) -> Result<()> {
    fs::hard_link(src, dest)
        .or_else(|_| fs::copy(src, dest).map(|_| ()))
        .with_context(|| format!("put {src} into {dest}"))
}

/// The user and group that own `dir` (`uid:gid`): containers that write into it run as them.
pub fn owner_of(dir: &Utf8Path) -> Result<String> {
    let meta = fs::metadata(dir)?;
    Ok(format!("{}:{}", meta.uid(), meta.gid()))
}

/// Empties `dir` (creating it when missing).
pub fn fresh_dir(dir: &Utf8Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    Ok(())
}
