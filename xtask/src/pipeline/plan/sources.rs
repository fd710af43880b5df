//! The content hash of a package folder: what decides whether its wheel must be rebuilt.

use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;
use sha2::{Digest, Sha256 as Hasher};

use crate::hash::{hex, Sha256};

/// Folder names that are caches wherever they are.
const CACHE_DIRS: &[&str] = &["__pycache__", "node_modules"];
/// Build output, skipped at the package's top level only (`pkg/build/` may be code).
const OUTPUT_DIRS: &[&str] = &["dist", "build", "target"];
/// Files next to the sources that are not part of the wheel.
const IGNORED_FILES: &[&str] = &["poetry.lock", "uv.lock"];

/// Hash of a package folder: every file's path, executable bit and bytes, and every
/// symlink's target (a symlinked file's bytes too, as backends follow it), skipping hidden
/// entries, caches, top-level build output, lock files and nested packages (folders with
/// their own `pyproject.toml` or `setup.py`). Sockets and devices are not sources.
pub fn content_hash(dir: &Utf8Path) -> Result<Sha256> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files).with_context(|| format!("hash the sources in {dir}"))?;
    files.sort();
    let mut h = Hasher::new();
    for rel in files {
        let path = dir.join(&rel);
        let meta = fs::symlink_metadata(&path)?;
        h.update(rel.as_bytes());
        if meta.file_type().is_symlink() {
            h.update(b"\0link\0");
            h.update(fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        }
        h.update(if is_executable(&path) { b"\0x\0" } else { b"\0-\0" });
        // A symlink to a folder, or a dangling one, has no bytes of its own here.
        let bytes = if path.is_file() { fs::read(&path)? } else { Vec::new() };
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(Sha256::from_hex(&hex(&h.finalize())).expect("a sha256 digest is 64 hex digits"))
}

fn is_executable(path: &Utf8Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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
        let top = dir == root;
        if ft.is_dir() {
            let skipped = CACHE_DIRS.contains(&name) || top && OUTPUT_DIRS.contains(&name);
            let nested = path.join("pyproject.toml").exists() || path.join("setup.py").exists();
            if !skipped && !nested {
                collect(root, path, out)?;
            }
        } else if (ft.is_file() || ft.is_symlink())
            && !name.ends_with(".pyc")
            && !(top && IGNORED_FILES.contains(&name))
        {
            out.push(path.strip_prefix(root).unwrap_or(path).to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::temp_dir as temp;

    #[test]
    fn caches_nested_packages_and_top_level_output_are_ignored() {
        let dir = temp("hash");
        fs::create_dir_all(dir.join("pkg/__pycache__")).unwrap();
        fs::create_dir_all(dir.join("nested")).unwrap();
        fs::create_dir_all(dir.join("build/lib")).unwrap();
        fs::write(dir.join("pyproject.toml"), "[project]\n").unwrap();
        fs::write(dir.join("pkg/a.py"), "x = 1\n").unwrap();
        let before = content_hash(&dir).unwrap();
        fs::write(dir.join("pkg/__pycache__/a.cpython-311.pyc"), "junk").unwrap();
        fs::write(dir.join("poetry.lock"), "junk").unwrap();
        fs::write(dir.join("nested/pyproject.toml"), "[project]\n").unwrap();
        fs::write(dir.join(".hidden"), "junk").unwrap();
        fs::write(dir.join("build/lib/a.py"), "junk").unwrap();
        assert_eq!(content_hash(&dir).unwrap(), before);
        fs::write(dir.join("pkg/a.py"), "x = 2\n").unwrap();
        assert_ne!(content_hash(&dir).unwrap(), before);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn code_in_a_build_subpackage_modes_and_symlinks_count() {
        let dir = temp("hash-more");
        fs::create_dir_all(dir.join("pkg/build")).unwrap();
        fs::write(dir.join("pkg/build/steps.py"), "x = 1\n").unwrap();
        fs::write(dir.join("shared.txt"), "one\n").unwrap();
        std::os::unix::fs::symlink("../shared.txt", dir.join("pkg/shared.txt")).unwrap();
        let mut seen = vec![content_hash(&dir).unwrap()];
        let mut changed = |what: &str, hash: Sha256| {
            assert!(!seen.contains(&hash), "{what} did not change the hash");
            seen.push(hash);
        };
        fs::write(dir.join("pkg/build/steps.py"), "x = 2\n").unwrap();
        changed("code under pkg/build", content_hash(&dir).unwrap());
        let mode = std::fs::Permissions::from_mode(0o755);
        fs::set_permissions(dir.join("pkg/build/steps.py"), mode).unwrap();
        changed("the executable bit", content_hash(&dir).unwrap());
        fs::write(dir.join("shared.txt"), "two\n").unwrap();
        changed("a symlinked file's content", content_hash(&dir).unwrap());
        fs::remove_dir_all(dir).unwrap();
    }
}
