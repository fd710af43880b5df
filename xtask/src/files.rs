//! Filesystem steps shared by the pipeline: linking cached files, fresh folders, owners.

use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;

/// Puts a cached file at a new path of a context: a hard link when possible, a copy
/// otherwise. Never follows a symlink, and never writes into an existing file.
pub fn link_or_copy(src: &Utf8Path, dest: &Utf8Path) -> Result<()> {
    if fs::symlink_metadata(src)?.file_type().is_symlink() {
        anyhow::bail!("{src} is a symlink; xtask puts only regular files into a context");
    }
    fs::hard_link(src, dest)
        .or_else(|_| {
            std::fs::OpenOptions::new().write(true).create_new(true).open(dest)?;
            fs::copy(src, dest).map(|_| ())
        })
        .with_context(|| format!("put {src} into {dest}"))
}

/// Copies `src` to `dest` by a new file renamed over `dest`: if `dest` is a hard link to a
/// cached file, the link is replaced and the cached file left as it was.
pub fn copy_replacing(src: &Utf8Path, dest: &Utf8Path) -> Result<()> {
    write_atomic(dest, fs::read(src)?)
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

/// Writes `path` whole or not at all: a file of its own first, then one rename over `path`
/// (so a reader, or a concurrent writer of the same content, never sees half of it, and a
/// hard link or symlink that `path` may be is replaced, never written through).
pub fn write_atomic(path: &Utf8Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    use std::io::Write;
    let name = path.file_name().unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{}", std::process::id(), nanos()));
    fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?.write_all(bytes.as_ref())?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    Ok(())
}

/// Writes a new file only its owner can read (it holds credentials): created with mode 0600,
/// never through an existing path.
pub fn write_private(path: &Utf8Path, text: &str) -> Result<()> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// A lock file, opened without truncating and without following a symlink (a link planted
/// at its path makes the open fail instead of emptying the file it points to).
pub fn open_lock(path: &Utf8Path) -> Result<fs::File> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc_nofollow())
        .open(path)?;
    Ok(file)
}

/// O_NOFOLLOW on Linux (the only platform xtask's engine runs on here).
const fn libc_nofollow() -> i32 {
    0o400_000
}

/// Nanoseconds since the epoch: part of scratch names, so two runs never share one.
pub fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Fails when a folder below `root` on the way to one of `dirs` is a symlink: xtask writes
/// and removes files below them, and must never do so elsewhere through a link a repo
/// committed (`target/xtask/contexts -> /var/lib`).
pub fn refuse_symlinked(root: &Utf8Path, dirs: &[&Utf8Path]) -> Result<()> {
    for dir in dirs {
        let Ok(rel) = dir.strip_prefix(root) else { continue };
        let mut path = root.to_owned();
        for part in rel.components() {
            path.push(part);
            if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                anyhow::bail!(
                    "{} is a symlink; xtask writes and removes files below it, so it must be a \
                     real folder (or absent): remove the link",
                    path.strip_prefix(root).unwrap_or(&path)
                );
            }
        }
    }
    Ok(())
}
