//! The source tree of a package's build: the files of its folder a wheel can come from, plus
//! what its manifest brings in from outside it (Polylith bricks named by `packages = [{ include,
//! from = "../../components" }]`, a `readme` or licence file up the tree). The build gets a
//! private copy of exactly this tree, and its content hash decides whether to rebuild.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;
use sha2::{Digest, Sha256 as Hasher};
use toml::{Table, Value};

use crate::hash::{hex, Sha256};
use crate::model::graph::Package;

/// Folder names that are caches wherever they are.
const CACHE_DIRS: &[&str] = &["__pycache__", "node_modules"];
/// Build output, skipped at the package's top level only (`pkg/build/` may be code).
const OUTPUT_DIRS: &[&str] = &["dist", "build", "target"];
/// Files next to the sources that are not part of the wheel.
const IGNORED_FILES: &[&str] = &["poetry.lock", "uv.lock", "Dockerfile"];
/// Where things from outside the package go in its tree.
const OUTSIDE: &str = "xtask-outside";

/// A package's build tree: where each file goes, where it comes from, and the manifest text
/// when it had to be rewritten to point at what was brought in.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// `(path in the tree, file on the host)`, sorted by the former.
    pub files: Vec<(String, Utf8PathBuf)>,
    pub pyproject: Option<String>,
}

/// The build tree of `pkg` in the repo at `root`.
pub fn tree(root: &Utf8Path, pkg: &Package) -> Result<Tree> {
    let dir = root.join(&pkg.dir);
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    collect(root, &dir, &dir, "", &mut files, &mut seen)
        .with_context(|| format!("read the sources of {}", pkg.dir))?;
    let mut pyproject = None;
    if pkg.manifest.includes.iter().any(|i| i.from.is_some()) || pkg.manifest.package_mode {
        if let Ok(text) = fs::read_to_string(dir.join("pyproject.toml")) {
            pyproject = bring_in(root, pkg, &dir, &text, &mut files, &mut seen)?;
        }
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    Ok(Tree { files, pyproject })
}

/// Brings in what the manifest names outside the package folder, and returns the manifest
/// rewritten to find it in the tree (`None` when nothing is outside).
fn bring_in(
    root: &Utf8Path,
    pkg: &Package,
    dir: &Utf8Path,
    text: &str,
    files: &mut Vec<(String, Utf8PathBuf)>,
    seen: &mut BTreeSet<Utf8PathBuf>,
) -> Result<Option<String>> {
    let mut doc: Table = text.parse().with_context(|| format!("read {}", pkg.manifest_path()))?;
    let mut changed = false;
    let mut n = 0;
    let mut outside = |rel: &str| -> Result<Option<(Utf8PathBuf, String)>> {
        let path = dir.join(rel);
        let Ok(real) = path.canonicalize_utf8() else { return Ok(None) };
        let inside_pkg = dir.canonicalize_utf8().is_ok_and(|d| real.starts_with(d));
        if inside_pkg {
            return Ok(None);
        }
        if !real.starts_with(root.canonicalize_utf8()?) {
            bail!(
                "{}: {rel:?} is outside the repository; a wheel never takes files from there",
                pkg.manifest_path()
            );
        }
        n += 1;
        Ok(Some((real, format!("{OUTSIDE}-{n}"))))
    };
    // Poetry `packages = [{ include = "acme/log", from = "../../components" }]`.
    let entries = doc
        .get_mut("tool")
        .and_then(|t| t.get_mut("poetry"))
        .and_then(|p| p.get_mut("packages"))
        .and_then(Value::as_array_mut);
    for entry in entries.into_iter().flatten() {
        let Some(table) = entry.as_table_mut() else { continue };
        let from = table.get("from").and_then(Value::as_str).map(str::to_string);
        let include = table.get("include").and_then(Value::as_str).unwrap_or_default().to_string();
        let Some(from) = from else { continue };
        let Some((real_from, local)) = outside(&from)? else { continue };
        if include.contains(['*', '?', '[']) {
            bail!(
                "{}: packages include {include:?} from {from:?}: a wildcard outside the package \
                 is not supported; name each folder",
                pkg.manifest_path()
            );
        }
        let source = real_from.join(&include);
        if source.is_dir() {
            collect(root, &source, &source, &format!("{local}/{include}"), files, seen)?;
        } else if source.is_file() {
            files.push((format!("{local}/{include}"), source));
        } else {
            bail!(
                "{}: packages include {include:?} from {from:?}: no such file or folder",
                pkg.manifest_path()
            );
        }
        table.insert("from".into(), Value::String(local));
        changed = true;
    }
    // A readme or licence file up the tree.
    for path in [
        &["tool", "poetry", "readme"][..],
        &["project", "readme"],
        &["project", "readme", "file"],
        &["project", "license", "file"],
    ] {
        let Some(Value::String(rel)) = get_mut(&mut doc, path) else { continue };
        let Some((real, local)) = outside(rel)? else { continue };
        if !real.is_file() {
            continue;
        }
        let name = real.file_name().unwrap_or("file").to_string();
        files.push((format!("{local}/{name}"), real));
        *rel = format!("{local}/{name}");
        changed = true;
    }
    Ok(changed.then(|| toml::to_string(&doc).expect("a manifest serializes")))
}

fn get_mut<'d>(doc: &'d mut Table, path: &[&str]) -> Option<&'d mut Value> {
    let (last, parents) = path.split_last()?;
    let mut table = doc;
    for key in parents {
        table = table.get_mut(*key)?.as_table_mut()?;
    }
    table.get_mut(*last)
}

/// Walks `dir` into `out` as `prefix/…`. A symlink is followed when its target is in the
/// repository (the backend would read through it too), and left out when it leads out of it:
/// a wheel never takes host files.
fn collect(
    root: &Utf8Path,
    top: &Utf8Path,
    dir: &Utf8Path,
    prefix: &str,
    out: &mut Vec<(String, Utf8PathBuf)>,
    seen: &mut BTreeSet<Utf8PathBuf>,
) -> Result<()> {
    if let Ok(real) = dir.canonicalize_utf8() {
        if !seen.insert(real) {
            return Ok(()); // a symlink loop, or a folder already taken
        }
    }
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let at_top = dir == top;
        let rel = if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") };
        let mut kind = entry.file_type()?;
        if kind.is_symlink() {
            let Ok(real) = path.canonicalize_utf8() else { continue }; // dangling: nothing to read
            if !real.starts_with(root.canonicalize_utf8()?) {
                continue;
            }
            kind = fs::metadata(&real)?.file_type();
        }
        if kind.is_dir() {
            let skipped = CACHE_DIRS.contains(&name) || at_top && OUTPUT_DIRS.contains(&name);
            let nested = path.join("pyproject.toml").exists() || path.join("setup.py").exists();
            if !skipped && !nested {
                collect(root, top, path, &rel, out, seen)?;
            }
        } else if kind.is_file()
            && !name.ends_with(".pyc")
            && !(at_top && IGNORED_FILES.contains(&name))
        {
            out.push((rel, path.to_owned()));
        }
    }
    Ok(())
}

/// The content hash of a tree: every path, executable bit and byte, and the rewritten manifest.
pub fn hash(tree: &Tree) -> Result<Sha256> {
    let mut h = Hasher::new();
    for (rel, path) in &tree.files {
        let bytes = if rel == "pyproject.toml" && tree.pyproject.is_some() {
            tree.pyproject.clone().unwrap_or_default().into_bytes()
        } else {
            fs::read(path)?
        };
        let mode = fs::metadata(path)?.permissions().mode();
        h.update(rel.as_bytes());
        h.update(if mode & 0o111 != 0 { b"\0x\0" } else { b"\0-\0" });
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(Sha256::from_hex(&hex(&h.finalize())).expect("a sha256 digest is 64 hex digits"))
}

/// Writes the tree into the empty folder `dest`: plain files (never links), modes kept.
pub fn write(tree: &Tree, dest: &Utf8Path) -> Result<()> {
    for (rel, path) in &tree.files {
        let to = dest.join(rel);
        fs::create_dir_all(to.parent().unwrap_or(dest))?;
        if rel == "pyproject.toml" {
            if let Some(text) = &tree.pyproject {
                fs::write(&to, text)?;
                continue;
            }
        }
        fs::copy(path, &to)?;
    }
    Ok(())
}

/// The content hash of a package folder alone (its tree without what it brings in).
pub fn content_hash(dir: &Utf8Path) -> Result<Sha256> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    let root = dir.parent().unwrap_or(dir);
    collect(root, dir, dir, "", &mut files, &mut seen)?;
    files.sort();
    hash(&Tree { files, pyproject: None })
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
        let pkg = dir.join("pkg");
        fs::create_dir_all(pkg.join("mod/build")).unwrap();
        fs::write(pkg.join("mod/build/steps.py"), "x = 1\n").unwrap();
        fs::write(dir.join("shared.txt"), "one\n").unwrap();
        std::os::unix::fs::symlink("../../shared.txt", pkg.join("mod/shared.txt")).unwrap();
        let mut seen = vec![content_hash(&pkg).unwrap()];
        let mut changed = |what: &str, hash: Sha256| {
            assert!(!seen.contains(&hash), "{what} did not change the hash");
            seen.push(hash);
        };
        fs::write(pkg.join("mod/build/steps.py"), "x = 2\n").unwrap();
        changed("code under mod/build", content_hash(&pkg).unwrap());
        let mode = std::fs::Permissions::from_mode(0o755);
        fs::set_permissions(pkg.join("mod/build/steps.py"), mode).unwrap();
        changed("the executable bit", content_hash(&pkg).unwrap());
        fs::write(dir.join("shared.txt"), "two\n").unwrap();
        changed("a symlinked file's content", content_hash(&pkg).unwrap());
        fs::remove_dir_all(dir).unwrap();
    }
}
