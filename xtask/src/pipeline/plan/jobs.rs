//! The local wheels a closure needs, each with the cache key that decides whether to build it.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::sources::content_hash;
use crate::hash::Sha256;
use crate::model::graph::Closure;
use crate::model::manifest::MAIN;
use crate::model::names::PackageName;
use crate::model::Repo;

/// Bumped when the rewrite changes what it writes, so old cache entries are not reused.
const REWRITE_VERSION: &str = "rewrite-1";
/// One local package to provide: its folder, name, version and the pins for its path deps.
#[derive(Debug, Clone)]
pub struct Job {
    pub dir: String,
    pub name: PackageName,
    pub version: String,
    /// The cache key: sources, toolchain, pins and version.
    pub key: String,
    /// Versions of its local dependencies: path requirements become `==version`.
    pub pins: BTreeMap<PackageName, String>,
}

/// The wheel jobs of a closure, with their cache keys; nothing is built.
pub fn jobs(repo: &Repo, closure: &Closure, toolchain_id: &str) -> Result<Vec<Job>> {
    let g = &repo.graph;
    let mut jobs = Vec::new();
    for (idx, _) in &closure.order {
        let pkg = &g.packages[*idx];
        let version = pkg.version.clone().with_context(|| {
            format!(
                "{}: no static version; xtask pins local dependencies by version, so set one",
                pkg.manifest_path()
            )
        })?;
        let mut pins = BTreeMap::new();
        for e in g.edges.iter().filter(|e| e.from == *idx && g.dep(e).group == MAIN) {
            let to = &g.packages[e.to];
            pins.insert(to.name.clone(), to.version.clone().unwrap_or_default());
        }
        let hash = content_hash(&repo.root.join(&pkg.dir))?;
        let pin_text: String = pins.iter().map(|(n, v)| format!("{n}=={v};")).collect();
        let input = format!("{hash}\n{toolchain_id}\n{pin_text}\n{version}\n{REWRITE_VERSION}");
        let key = Sha256::of(input.as_bytes()).short(32).to_string();
        jobs.push(Job { dir: pkg.dir.clone(), name: pkg.name.clone(), version, key, pins });
    }
    Ok(jobs)
}
