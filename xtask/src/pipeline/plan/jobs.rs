//! The local wheels a closure needs, each with its build environment and the cache key that
//! decides whether to build it.

use std::collections::BTreeMap;

use anyhow::Result;

use super::sources;
use crate::hash::Sha256;
use crate::model::graph::Closure;
use crate::model::manifest::MAIN;
use crate::model::names::PackageName;
use crate::pipeline::toolchain::{self, lockfile::LockedEnv};
use crate::session::Session;

/// Bumped when the rewrite or the build script changes what they write, so old cache entries
/// are not reused.
const BUILD_VERSION: &str = "build-2";

/// One local package to provide: its folder, name, version, how it builds and the pins for
/// its path dependencies.
#[derive(Debug, Clone)]
pub struct Job {
    pub dir: String,
    pub name: PackageName,
    /// The static version, or `dynamic` when the backend computes it.
    pub version: String,
    /// The cache key: build tree, environment, Python, pins and version.
    pub key: String,
    /// Versions of its local dependencies: path requirements become `==version`.
    pub pins: BTreeMap<PackageName, String>,
    /// The Python minor it is built with (the project's runtime's).
    pub minor: u32,
    pub env: LockedEnv,
    /// PEP 517 backend (`module:object`) and its in-tree path.
    pub backend: String,
    pub backend_path: Vec<String>,
    /// The version a VCS-versioning plugin (setuptools-scm, hatch-vcs, pdm's scm) is told,
    /// since the build's private copy has no `.git` to read it from.
    pub vcs_version: Option<String>,
}

/// The wheel jobs of a closure for Python 3.`minor`, with their cache keys; nothing is built.
/// A package whose build requirements are not pinned fails here, before anything slow.
pub fn jobs(session: &Session, closure: &Closure, minor: u32) -> Result<Vec<Job>> {
    let repo = session.repo()?;
    let g = &repo.graph;
    let mut jobs = Vec::new();
    for (idx, _) in &closure.order {
        let pkg = &g.packages[*idx];
        let Some(system) = pkg.manifest.build_system() else { continue };
        // A version the backend computes (from a file, or from git) is read from the wheel;
        // dependents then name the package without pinning its version.
        let version = pkg.version.clone().unwrap_or_else(|| "dynamic".to_string());
        let vcs_version = pkg.manifest.vcs_version.then(|| git_version(session)).flatten();
        let mut pins = BTreeMap::new();
        for e in g.edges.iter().filter(|e| e.from == *idx && g.dep(e).group == MAIN) {
            let to = &g.packages[e.to];
            pins.insert(to.name.clone(), to.version.clone().unwrap_or_default());
        }
        let env = toolchain::env(session, minor, &system.requires, &pkg.dir)?;
        let tree = sources::tree(&repo.root, pkg)?;
        let hash = sources::hash(&tree)?;
        let pin_text: String = pins.iter().map(|(n, v)| format!("{n}=={v};")).collect();
        let input = format!(
            "{hash}\n3.{minor}\n{}\n{} {:?}\n{pin_text}\n{version}\n{vcs_version:?}\n{BUILD_VERSION}",
            toolchain::env_key(&env),
            system.backend,
            system.backend_path
        );
        let key = Sha256::of(input.as_bytes()).short(32).to_string();
        jobs.push(Job {
            dir: pkg.dir.clone(),
            name: pkg.name.clone(),
            version,
            key,
            pins,
            minor,
            env,
            backend: system.backend,
            backend_path: system.backend_path,
            vcs_version,
        });
    }
    Ok(jobs)
}

/// The version setuptools-scm would compute from the repo's git (its default scheme): the
/// last tag `X.Y.Z` when HEAD is that tag and clean, else `X.Y.(Z+1).devN+gHASH`; without a
/// tag, `0.1.devN+gHASH`. `None` outside git.
fn git_version(session: &Session) -> Option<String> {
    let repo = session.repo().ok()?;
    let git = crate::git::Git::open(&session.sh, &repo.root).ok()?;
    let (tag, distance, hash, dirty) = git.describe().ok()?;
    let hash = &hash[..hash.len().min(9)];
    let suffix = if dirty { ".d" } else { "" };
    let Some(tag) = tag else {
        return Some(format!("0.1.dev{distance}+g{hash}{suffix}"));
    };
    let release = tag.trim_start_matches(['v', 'V']);
    if distance == 0 && !dirty {
        return Some(release.to_string());
    }
    let mut parts: Vec<String> = release.split('.').map(str::to_string).collect();
    if let Some(last) = parts.last_mut() {
        if let Ok(n) = last.parse::<u64>() {
            *last = (n + 1).to_string();
        }
    }
    Some(format!("{}.dev{distance}+g{hash}{suffix}", parts.join(".")))
}
