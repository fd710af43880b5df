//! The third-party set a project installs, walked from its lock (no engine, no network): its
//! own poetry.lock or uv.lock, its uv workspace's uv.lock, or a PEP 751 pylock.toml.

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use fs_err as fs;

use crate::model::lock::{self, Format, LockError, Pinned, Request, Root};
use crate::model::manifest::{Source, MAIN};
use crate::model::Repo;
use crate::runtime::Runtime;

/// Which dependency groups of the project to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    /// The main group: what an image holds.
    Main,
    /// Every group (dev, test, …): what the dev environment holds.
    All,
}

/// A project's third-party set, read from its lock; nothing fetched yet.
#[derive(Clone)]
pub struct Resolved {
    pub pinned: Vec<Pinned>,
    /// The Python the set was chosen for.
    pub runtime: Runtime,
    /// The project's folder.
    pub dir: String,
    /// Names the requirements file: the project's name, `-dev` for every group.
    pub label: String,
    /// `None` when nothing in the closure depends on a third-party package: no lock needed.
    pub lock: Option<LockFile>,
}

/// A project's lock: where it is (repo-relative and absolute), which format, its text.
#[derive(Clone)]
pub struct LockFile {
    pub rel: String,
    pub path: Utf8PathBuf,
    pub format: Format,
    pub text: String,
}

/// Finds the lock of the package at `idx`: its own poetry.lock or uv.lock, the uv.lock of
/// the uv workspace it belongs to, its own pylock.toml (or a single `pylock.<name>.toml`),
/// or a `pylock.<name>.toml` in a folder above it.
pub fn find_lock(repo: &Repo, idx: usize) -> Result<LockFile> {
    let pkg = &repo.graph.packages[idx];
    let rel =
        |dir: &str, file: &str| if dir == "." { file.to_string() } else { format!("{dir}/{file}") };
    let mut candidates = vec![
        (rel(&pkg.dir, "poetry.lock"), Format::Poetry),
        (rel(&pkg.dir, "uv.lock"), Format::Uv),
    ];
    if let Some(root) = repo.graph.uv_workspace_root(idx) {
        candidates.push((rel(&root, "uv.lock"), Format::Uv));
    }
    candidates.push((rel(&pkg.dir, "pylock.toml"), Format::Pylock));
    candidates.push((rel(&pkg.dir, &format!("pylock.{}.toml", pkg.name)), Format::Pylock));
    let mut above = pkg.dir.as_str();
    while let Some((parent, _)) = above.rsplit_once('/') {
        candidates.push((rel(parent, &format!("pylock.{}.toml", pkg.name)), Format::Pylock));
        above = parent;
    }
    if pkg.dir != "." {
        candidates.push((format!("pylock.{}.toml", pkg.name), Format::Pylock));
    }
    for (rel, format) in candidates {
        let path = repo.root.join(&rel);
        if path.is_file() {
            let text = fs::read_to_string(&path)?;
            return Ok(LockFile { rel, path, format, text });
        }
    }
    let has = |file: &str| repo.root.join(&pkg.dir).join(file).is_file();
    let hint = if has("pdm.lock") {
        " (its pdm.lock is PDM's own format: export a PEP 751 pylock.toml next to it with `pdm \
         export -f pylock -o pylock.toml`, or)"
    } else if has("requirements.txt") {
        " (a requirements.txt pins no files by hash; or)"
    } else {
        ""
    };
    bail!(
        "{} has no lock: xtask reads its poetry.lock or uv.lock, its uv workspace's uv.lock, or a \
         pylock.toml;{hint} run `cargo xtask lock {}` to create one",
        pkg.dir,
        pkg.dir
    )
}

/// Reads the project's lock and walks it from its dependencies for `runtime`. Callers have
/// already checked the package's closure for problems.
pub fn resolve(repo: &Repo, idx: usize, groups: Groups, runtime: &Runtime) -> Result<Resolved> {
    let pkg = &repo.graph.packages[idx];
    let label = match groups {
        Groups::Main => pkg.name.to_string(),
        Groups::All => format!("{}-dev", pkg.name),
    };
    let lock = match find_lock(repo, idx) {
        Ok(lock) => lock,
        Err(_) if !needs_third_party(repo, idx, groups) => {
            let (runtime, dir) = (runtime.clone(), pkg.dir.clone());
            return Ok(Resolved { pinned: Vec::new(), runtime, dir, label, lock: None });
        }
        Err(e) => return Err(e),
    };
    let extras: Vec<String> =
        super::extras_of(repo, idx).iter().map(|e| crate::model::names::normalize(e)).collect();
    let wanted = |d: &&crate::model::manifest::Dependency| {
        !d.optional || d.enabled_by.iter().any(|e| extras.contains(e))
    };
    let roots: Vec<Root> = pkg
        .manifest
        .deps
        .iter()
        .filter(|d| (d.group == MAIN || groups == Groups::All) && wanted(d))
        .map(|d| Root {
            name: d.name.clone(),
            extras: d.extras.clone(),
            markers: d.markers.clone(),
            python: d.python.clone(),
            constraint: match &d.source {
                Source::Registry(c) if !c.is_empty() => Some(c.clone()),
                _ => None,
            },
        })
        .collect();
    let all_groups = groups == Groups::All;
    let request =
        Request { project: &pkg.name, roots: &roots, all_groups, extras: &extras, runtime };
    let pinned = match lock::third_party(lock.format, &lock.text, &request) {
        Ok(pinned) => pinned,
        Err(e @ (LockError::Missing(_) | LockError::NoVersion { .. })) => bail!(
            "{} does not fit {} ({e}); run `cargo xtask lock {}`",
            lock.rel,
            pkg.manifest_path(),
            pkg.dir
        ),
        Err(e) => {
            let what = format!("read the third-party set of {} from {}", pkg.dir, lock.rel);
            return Err(e).context(what);
        }
    };
    Ok(Resolved { pinned, runtime: runtime.clone(), dir: pkg.dir.clone(), label, lock: Some(lock) })
}

/// Whether any package of the closure declares a dependency that is not local (in the main
/// group, or in any group for `Groups::All`): only then is a lock needed.
fn needs_third_party(repo: &Repo, idx: usize, groups: Groups) -> bool {
    let closure = repo.graph.closure(idx, &super::extras_of(repo, idx));
    closure.order.iter().any(|(i, _)| {
        repo.graph.packages[*i]
            .manifest
            .deps
            .iter()
            .any(|d| !d.is_local() && (d.group == MAIN || groups == Groups::All))
    })
}
