//! Filesystem steps shared by the code that stages build contexts.

use anyhow::{Context, Result};
use camino::Utf8Path;

use crate::wheel::install::Placed;

/// Timestamp of every file xtask installs into a layer (1980-01-01, as in wheels), so an
/// unchanged package gives a byte-identical layer.
const FIXED_MTIME: u64 = 315_532_800;

/// Puts a cached file into a context: a hard link when possible, a copy otherwise.
pub fn link_or_copy(src: &Utf8Path, dest: &Utf8Path) -> Result<()> {
    std::fs::hard_link(src, dest)
        .or_else(|_| std::fs::copy(src, dest).map(|_| ()))
        .with_context(|| format!("put {src} into {dest}"))
}

/// Writes installed files under `root` with their modes, then gives everything below `root`
/// the fixed timestamp.
pub fn write_tree(root: &Utf8Path, files: &[Placed]) -> Result<()> {
    std::fs::create_dir_all(root).with_context(|| format!("create {root}"))?;
    for f in files {
        let dest = root.join(&f.path);
        std::fs::create_dir_all(dest.parent().unwrap_or(root))?;
        std::fs::write(&dest, &f.data).with_context(|| format!("write {dest}"))?;
        std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(f.mode))?;
    }
    fix_times(root)
}

/// Sets the fixed timestamp on everything below `dir` (files and folders, deepest first).
fn fix_times(dir: &Utf8Path) -> Result<()> {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(FIXED_MTIME);
    for entry in dir.read_dir_utf8()? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fix_times(entry.path())?;
        } else {
            std::fs::File::options().write(true).open(entry.path())?.set_modified(time)?;
        }
    }
    std::fs::File::open(dir)?.set_modified(time).with_context(|| format!("set the time of {dir}"))
}
