//! The third-party set a project installs, walked from its lock (no engine, no network).

use anyhow::{bail, Context, Result};
use fs_err as fs;

use crate::model::lock::{parse_lock, third_party, LockError, Pinned, Root};
use crate::model::manifest::MAIN;
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
pub struct Resolved {
    pub pinned: Vec<Pinned>,
    /// The Python the set was chosen for.
    pub runtime: Runtime,
    /// The project's folder.
    pub dir: String,
    /// Names the requirements file: the project's name, `-dev` for every group.
    pub label: String,
    /// The lock as read, for the freshness check.
    pub lock_text: String,
}

/// Reads the project's poetry.lock and walks it from its dependencies (no engine, no network).
/// Callers have already checked the package's closure for problems.
pub fn resolve(repo: &Repo, idx: usize, groups: Groups, runtime: &Runtime) -> Result<Resolved> {
    let pkg = &repo.graph.packages[idx];
    let lock_rel = format!("{}/poetry.lock", pkg.dir);
    let lock_text = match fs::read_to_string(repo.root.join(&lock_rel)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{lock_rel} is missing; run `cargo xtask lock {}` to create it", pkg.dir)
        }
        Err(e) => return Err(e.into()),
    };
    let lock = parse_lock(&lock_text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("read {lock_rel}"))?;
    let roots: Vec<Root> = pkg
        .manifest
        .deps
        .iter()
        .filter(|d| (d.group == MAIN || groups == Groups::All) && !d.optional)
        .map(|d| Root {
            name: d.name.clone(),
            extras: d.extras.clone(),
            markers: d.markers.clone(),
        })
        .collect();
    let pinned = match third_party(&lock, &roots, runtime) {
        Ok(pinned) => pinned,
        Err(e @ LockError::Missing(_)) => bail!(
            "{lock_rel} is stale ({e}, which a manifest asks for); run `cargo xtask lock {}`",
            pkg.dir
        ),
        Err(e) => {
            let what = format!("resolve the third-party set of {} from {lock_rel}", pkg.dir);
            return Err(e).context(what);
        }
    };
    let label = match groups {
        Groups::Main => pkg.name.to_string(),
        Groups::All => format!("{}-dev", pkg.name),
    };
    Ok(Resolved { pinned, runtime: runtime.clone(), dir: pkg.dir.clone(), label, lock_text })
}
