//! Discovery (the model's I/O): every package folder of the repo, on disk or at a git
//! revision, with the files that declare it; and what is at a folder that holds none.

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;

use super::graph::{DirState, Discovered};
use super::manifest::{parse_package, setuptools, PackageFiles};
use super::paths;
use crate::config::Globs;
use crate::git::Git;

/// Folder names that never hold packages of the repo: build output, environments, and the
/// tests' own fixtures (a package there is test data, not part of the monorepo).
const SKIPPED: &[&str] = &[
    "node_modules",
    "target",
    "dist",
    "build",
    "venv",
    "__pycache__",
    "site-packages",
    "tests",
    "test",
    "fixtures",
    "test_data",
    "testdata",
];

/// The files that can declare a package.
const MANIFESTS: [&str; 3] = ["pyproject.toml", "setup.cfg", "setup.py"];

/// Whether discovery skips a folder of this name (hidden ones too).
pub fn skipped(name: &str) -> bool {
    name.starts_with('.') || SKIPPED.contains(&name)
}

/// Every package folder under `root` (but excluded and skipped ones), sorted.
pub fn walk(root: &Utf8Path, exclude: &Globs) -> Result<Vec<Discovered>> {
    let mut out = Vec::new();
    walk_in(root, root, exclude, &mut out)
        .with_context(|| format!("scan {root} for package manifests"))?;
    declared_members(root, &mut out)?;
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

/// uv workspace members in folders discovery skips (`tests/utils`): a workspace that names
/// one makes it a package all the same.
fn declared_members(root: &Utf8Path, out: &mut Vec<Discovered>) -> Result<()> {
    let mut extra = Vec::new();
    for d in out.iter() {
        let Ok(m) = &d.manifest else { continue };
        for member in &m.uv_members {
            let base = if d.dir == "." { root.to_owned() } else { root.join(&d.dir) };
            let pattern = base.join(member);
            let Ok(paths) = glob::glob(pattern.as_str()) else { continue };
            for path in paths.filter_map(Result::ok) {
                let Some(path) = camino::Utf8PathBuf::from_path_buf(path).ok() else { continue };
                let rel = rel_dir(root, &path);
                let hidden = rel.split('/').any(|p| p.starts_with('.'));
                let known = out.iter().chain(&extra).any(|o: &Discovered| o.dir == rel);
                if !path.is_dir() || hidden || known {
                    continue;
                }
                let mut found = Found::default();
                for name in MANIFESTS.iter().chain(&["Dockerfile"]) {
                    if let Ok(bytes) = fs::read(path.join(name)) {
                        found.add(name, bytes);
                    }
                }
                extra.extend(found.discovered(rel));
            }
        }
    }
    out.extend(extra);
    Ok(())
}

fn walk_in(
    root: &Utf8Path,
    dir: &Utf8Path,
    exclude: &Globs,
    out: &mut Vec<Discovered>,
) -> Result<()> {
    let mut subdirs = Vec::new();
    let mut found = Found::default();
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let entry = entry.with_context(|| format!("read folder {dir}"))?;
        // Symlinked folders are not followed: they could loop or leave the repo.
        let file_type = entry.file_type().with_context(|| format!("stat {}", entry.path()))?;
        let name = entry.file_name();
        if file_type.is_dir() && !skipped(name) {
            subdirs.push(entry.into_path());
        } else if file_type.is_file() && (MANIFESTS.contains(&name) || name == "Dockerfile") {
            found.add(name, fs::read(entry.path())?);
        }
    }
    out.extend(found.discovered(rel_dir(root, dir)));
    subdirs.sort();
    for sub in subdirs {
        if !exclude.matches(&rel_dir(root, &sub)) {
            walk_in(root, &sub, exclude, out)?;
        }
    }
    Ok(())
}

/// The files of one folder that matter to discovery.
#[derive(Default)]
struct Found {
    pyproject: Option<Result<String, String>>,
    setup_cfg: Option<String>,
    setup_py: Option<String>,
    dockerfile: bool,
}

impl Found {
    fn add(&mut self, name: &str, bytes: Vec<u8>) {
        match name {
            "pyproject.toml" => self.pyproject = Some(decode(bytes)),
            "setup.cfg" => self.setup_cfg = decode(bytes).ok(),
            "setup.py" => self.setup_py = decode(bytes).ok(),
            _ => self.dockerfile = true,
        }
    }

    /// A folder with a pyproject.toml, or a setuptools package (`setup.py`, or `setup.cfg`
    /// with a name): its manifest, parsed. A lone setup.cfg of tool settings is no package.
    fn discovered(self, dir: String) -> Option<Discovered> {
        if !self.declares_a_package() {
            return None;
        }
        let manifest = match self.pyproject {
            Some(Err(e)) => Err(e),
            pyproject => {
                let files = PackageFiles {
                    pyproject: pyproject.and_then(Result::ok),
                    setup_cfg: self.setup_cfg,
                    setup_py: self.setup_py,
                };
                parse_package(&files)
            }
        };
        Some(Discovered { dir, manifest, dockerfile: self.dockerfile })
    }

    /// A pyproject.toml, a setup.py that calls `setup(…)`, or a setup.cfg with a name.
    fn declares_a_package(&self) -> bool {
        let named_cfg =
            self.setup_cfg.as_deref().is_some_and(|c| setuptools::parse_cfg(c).name.is_some());
        let setup_call =
            self.setup_py.as_deref().is_some_and(|p| setuptools::parse_py(p).is_some());
        self.pyproject.is_some() || setup_call || named_cfg
    }
}

/// The package folders as they were at a git revision (for packages deleted or moved
/// since), read from git objects; the working tree is not touched.
pub fn at_revision(git: &Git, rev: &str, exclude: &Globs) -> Result<Vec<Discovered>> {
    let mut by_dir: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for (path, id) in git.tree(rev)? {
        let (dir, file) =
            path.rsplit_once('/').map_or((paths::ROOT, path.as_str()), |(d, f)| (d, f));
        if !(MANIFESTS.contains(&file) || file == "Dockerfile") || !kept(dir, exclude) {
            continue;
        }
        by_dir.entry(dir.to_string()).or_default().push((file.to_string(), id));
    }
    let ids: Vec<&str> = by_dir
        .values()
        .flatten()
        .filter(|(f, _)| f != "Dockerfile")
        .map(|(_, id)| id.as_str())
        .collect();
    let mut blobs =
        git.blobs(&ids).with_context(|| format!("read the manifests of {rev}"))?.into_iter();
    let mut out = Vec::new();
    for (dir, entries) in by_dir {
        let mut found = Found::default();
        for (file, _) in entries {
            let bytes =
                if file == "Dockerfile" { Vec::new() } else { blobs.next().unwrap_or_default() };
            found.add(&file, bytes);
        }
        out.extend(found.discovered(dir));
    }
    Ok(out)
}

/// Whether no folder on the way to `dir` is skipped or excluded.
fn kept(dir: &str, exclude: &Globs) -> bool {
    let mut prefix = String::new();
    dir.split('/').filter(|c| !c.is_empty() && *c != paths::ROOT).all(|c| {
        prefix = if prefix.is_empty() { c.to_string() } else { format!("{prefix}/{c}") };
        !skipped(c) && !exclude.matches(&prefix)
    })
}

fn rel_dir(root: &Utf8Path, dir: &Utf8Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_str().is_empty() => paths::ROOT.to_string(),
        Ok(rel) => rel.as_str().replace('\\', "/"),
        Err(_) => dir.to_string(),
    }
}

/// Manifests must be UTF-8 (TOML requires it); say where the first bad byte is.
fn decode(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        format!("not UTF-8 (line {line}, byte offset {at}); TOML files must be UTF-8: re-save it with that encoding")
    })
}

/// What is at a folder that no discovered package accounts for.
pub fn probe(root: &Utf8Path, dir: &str) -> DirState {
    let path = root.join(dir);
    let mut prefix = root.to_owned();
    for part in dir.split('/') {
        prefix.push(part);
        if fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink()) {
            return DirState::Symlink;
        }
    }
    let empty = path.read_dir_utf8().map_or(true, |mut d| d.next().is_none());
    if empty && is_submodule(root, dir) {
        return DirState::Submodule;
    }
    if !path.is_dir() {
        return DirState::Missing;
    }
    let mut found = Found::default();
    for m in MANIFESTS {
        if let Ok(bytes) = fs::read(path.join(m)) {
            found.add(m, bytes);
        }
    }
    if found.declares_a_package() {
        DirState::Skipped
    } else {
        DirState::NoManifest
    }
}

/// Whether `.gitmodules` names `dir` (or a folder above it) as a submodule's path.
fn is_submodule(root: &Utf8Path, dir: &str) -> bool {
    let Ok(text) = fs::read_to_string(root.join(".gitmodules")) else { return false };
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("path"))
        .filter_map(|l| l.trim_start().strip_prefix('='))
        .map(|p| p.trim().trim_end_matches('/'))
        .any(|p| paths::is_within(dir, p))
}
