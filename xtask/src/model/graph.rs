//! The local dependency graph: path dependencies resolved by path, closures with extras, cycles.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::manifest::{Dependency, Manifest, Source, MAIN};
use super::names::{levenshtein, normalize, PackageName};
use super::paths::manifest_of;
use order::topological;
pub use resolve::Unresolvable;

mod checks;
mod order;
mod resolve;

/// One pyproject.toml found in the repo, parsed or not.
pub struct Discovered {
    /// Repo-relative folder, `/`-separated, `.` for the root.
    pub dir: String,
    pub manifest: Result<Manifest, String>,
    /// The folder has a Dockerfile: a sign of a project.
    pub dockerfile: bool,
}

/// What is at a folder that discovery did not report a manifest for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    Missing,
    NoManifest,
    /// Has a manifest, but discovery skips the folder (hidden, build output, excluded).
    Skipped,
    /// The folder, or one above it, is a symlink, which discovery never follows.
    Symlink,
    /// An empty folder that `.gitmodules` names: a submodule not checked out.
    Submodule,
}

/// What a manifest is to the repo. Packages are libs or projects; `Config` marks a manifest
/// without a package (repo-wide tool settings), which listings show and nothing builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Lib,
    Project,
    Config,
}

pub struct Package {
    pub dir: String,
    pub name: PackageName,
    pub version: Option<String>,
    pub kind: Kind,
    pub manifest: Manifest,
    /// Its folder has a Dockerfile.
    pub dockerfile: bool,
}

impl Package {
    /// Whether it is built into a wheel: not a Poetry app in non-package mode.
    pub fn installable(&self) -> bool {
        self.manifest.package_mode
    }
}

/// A manifest without a package: a folder of tool settings.
pub struct ConfigOnly {
    pub dir: String,
    pub manifest: Manifest,
}

impl Package {
    pub fn manifest_path(&self) -> String {
        manifest_of(&self.dir)
    }
}

/// A resolved local dependency: `packages[from]` declares `deps[dep]`, found at `packages[to]`.
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub dep: usize,
}

/// A local dependency that does not resolve to a package.
struct Unresolved {
    from: usize,
    dep: usize,
    why: Unresolvable,
}

/// An error or warning about the repo, tied to the manifest it is found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
    #[serde(skip)]
    pub fatal: bool,
}

pub struct Graph {
    pub packages: Vec<Package>,
    /// Manifests that declare no package: only tool settings (`Kind::Config`), such as a
    /// virtual uv workspace root.
    pub configs: Vec<ConfigOnly>,
    pub edges: Vec<Edge>,
    unresolved: Vec<Unresolved>,
    /// Folders whose manifest does not parse (or is not UTF-8), with the reason.
    broken: BTreeMap<String, String>,
}

/// A package's local closure: dependencies first, each with the extras requested of it.
pub struct Closure {
    pub order: Vec<(usize, BTreeSet<String>)>,
    pub problems: Vec<Problem>,
    /// For each package but the root, the package through which it was first reached.
    pub parent: BTreeMap<usize, usize>,
}

impl Closure {
    /// Packages from the root down to `target`: the chain that explains why it is needed.
    pub fn chain(&self, target: usize) -> Vec<usize> {
        let mut chain = vec![target];
        while let Some(&p) = self.parent.get(chain.last().unwrap_or(&target)) {
            if chain.contains(&p) {
                break;
            }
            chain.push(p);
        }
        chain.reverse();
        chain
    }
}

impl Graph {
    /// Builds the graph. `is_project` classifies folders; `probe` says what is at a folder
    /// that no discovered manifest accounts for.
    /// Builds the graph. `is_project` classifies folders (`None`: projects are inferred, see
    /// [`Graph::classify`]); `probe` says what is at a folder that no discovered manifest
    /// accounts for.
    pub fn build(
        repo_abs: &str,
        discovered: Vec<Discovered>,
        is_project: Option<&dyn Fn(&str) -> bool>,
        probe: &dyn Fn(&str) -> DirState,
    ) -> Graph {
        let mut g = Graph {
            packages: Vec::new(),
            configs: Vec::new(),
            edges: Vec::new(),
            unresolved: Vec::new(),
            broken: BTreeMap::new(),
        };
        for d in discovered {
            match d.manifest {
                Ok(manifest) => match package_name(&d.dir, &manifest) {
                    Some(name) => {
                        let version = manifest.version.clone();
                        let dockerfile = d.dockerfile;
                        g.packages.push(Package {
                            dir: d.dir,
                            name,
                            version,
                            kind: Kind::Lib,
                            manifest,
                            dockerfile,
                        });
                    }
                    None => g.configs.push(ConfigOnly { dir: d.dir, manifest }),
                },
                Err(e) => {
                    g.broken.insert(d.dir, e);
                }
            }
        }
        g.packages.sort_by(|a, b| a.dir.cmp(&b.dir));
        g.configs.sort_by(|a, b| a.dir.cmp(&b.dir));
        g.resolve(repo_abs, probe);
        g.classify(is_project);
        g
    }

    /// Projects are what `is_project` says; without it, a package is a project when its
    /// folder has a Dockerfile, it is a Poetry app in non-package mode, or nothing in the
    /// repo depends on it. A non-package app is a project either way, except at the root of a
    /// repo of several packages without a Dockerfile: that is the workspace's development
    /// environment (Polylith's, say), shown as config and built only when configured.
    fn classify(&mut self, is_project: Option<&dyn Fn(&str) -> bool>) {
        // Depended on in any group: a dev-only tool package is no image either.
        let depended: BTreeSet<usize> =
            self.edges.iter().filter(|e| e.from != e.to).map(|e| e.to).collect();
        let depends: BTreeSet<usize> = self
            .edges
            .iter()
            .filter(|e| e.from != e.to && self.dep(e).group == MAIN)
            .map(|e| e.from)
            .collect();
        let many = self.packages.len() > 1;
        for (i, p) in self.packages.iter_mut().enumerate() {
            let at_root = p.dir == "." && !p.dockerfile && many;
            let workspace_root = at_root && !p.manifest.package_mode;
            // A packaged root of a repo of several packages that uses none of them and has no
            // command is the repo's tooling, not an application.
            let tooling_root = at_root && !depends.contains(&i) && p.manifest.scripts.is_empty();
            let project = match is_project {
                Some(matches) => matches(&p.dir),
                None => {
                    !workspace_root && !tooling_root && (p.dockerfile || !depended.contains(&i))
                }
            };
            p.kind = match (project, p.manifest.package_mode) {
                (true, _) => Kind::Project,
                (false, true) => Kind::Lib,
                (false, false) if workspace_root => Kind::Config,
                (false, false) => Kind::Project,
            };
        }
    }

    /// Resolves every local dependency to a package folder, by path, never by name.
    fn resolve(&mut self, repo_abs: &str, probe: &dyn Fn(&str) -> DirState) {
        let by_dir: BTreeMap<&str, usize> =
            self.packages.iter().enumerate().map(|(i, p)| (p.dir.as_str(), i)).collect();
        let (mut edges, mut unresolved) = (Vec::new(), Vec::new());
        for (from, pkg) in self.packages.iter().enumerate() {
            // A uv workspace root's [tool.uv.sources] apply to its members too.
            let inherited = resolve::workspace_roots(self, &pkg.dir)
                .into_iter()
                .find(|(root, m)| *root != pkg.dir && resolve::is_member(root, m, &pkg.dir));
            for (dep_idx, dep) in pkg.manifest.deps.iter().enumerate() {
                let from_root =
                    inherited.and_then(|(root, m)| Some((root, m.uv_sources.get(&dep.name)?)));
                let target = match (&dep.source, from_root) {
                    (Source::Path { path, .. }, _) => resolve::path(repo_abs, &pkg.dir, path),
                    (Source::Workspace, _) => resolve::workspace(self, pkg, dep),
                    (Source::Registry(_), Some((root, Source::Path { path, .. }))) => {
                        resolve::path(repo_abs, root, path)
                    }
                    (Source::Registry(_), Some((_, Source::Workspace))) => {
                        resolve::workspace(self, pkg, dep)
                    }
                    _ => continue,
                };
                let result = target.and_then(|dir| match by_dir.get(dir.as_str()) {
                    Some(&to) => resolve::check_target(&self.packages[to], dep, &dir).map(|()| to),
                    None => Err(self.missing(&dir, probe)),
                });
                match result {
                    Ok(to) => edges.push(Edge { from, to, dep: dep_idx }),
                    Err(why) => unresolved.push(Unresolved { from, dep: dep_idx, why }),
                }
            }
        }
        (self.edges, self.unresolved) = (edges, unresolved);
    }

    /// The folder of the uv workspace root the package at `idx` belongs to (itself included).
    pub fn uv_workspace_root(&self, idx: usize) -> Option<String> {
        let dir = &self.packages[idx].dir;
        let roots = resolve::workspace_roots(self, dir);
        roots
            .into_iter()
            .find(|(root, m)| resolve::is_member(root, m, dir))
            .map(|(root, _)| root.to_string())
    }

    /// Why `dir` holds no package the graph knows.
    fn missing(&self, dir: &str, probe: &dyn Fn(&str) -> DirState) -> Unresolvable {
        let dir = dir.to_string();
        if let Some(error) = self.broken.get(&dir) {
            return Unresolvable::Broken { dir, error: error.clone() };
        }
        if self.configs.iter().any(|c| c.dir == dir) {
            return Unresolvable::NotAPackage { dir };
        }
        match probe(&dir) {
            DirState::Missing => Unresolvable::Missing { dir },
            DirState::NoManifest => Unresolvable::NoManifest { dir },
            DirState::Skipped => Unresolvable::Skipped { dir },
            DirState::Symlink => Unresolvable::Symlink { dir },
            DirState::Submodule => Unresolvable::Submodule { dir },
        }
    }

    fn unresolved_problem(&self, u: &Unresolved, fatal: bool) -> Problem {
        let pkg = &self.packages[u.from];
        let key = &pkg.manifest.deps[u.dep].key;
        Problem { path: pkg.manifest_path(), message: u.why.message(key), fatal }
    }

    pub fn dep(&self, edge: &Edge) -> &Dependency {
        &self.packages[edge.from].manifest.deps[edge.dep]
    }

    /// Every problem of the repo as a whole. Manifests that do not parse are warnings here:
    /// they are fatal only for a closure that needs them.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out: Vec<Problem> = self
            .broken
            .iter()
            .map(|(dir, e)| Problem { path: manifest_of(dir), message: e.clone(), fatal: false })
            .collect();
        for u in &self.unresolved {
            out.push(self.unresolved_problem(u, u.why.fatal_in_repo()));
        }
        // A cycle through an optional dependency exists only when its extra is asked for:
        // the closure that asks for it reports it.
        let main_edges: Vec<(usize, usize)> = self
            .edges
            .iter()
            .filter(|e| self.dep(e).group == MAIN && !self.dep(e).optional && e.from != e.to)
            .map(|e| (e.from, e.to))
            .collect();
        let nodes: BTreeSet<usize> = (0..self.packages.len()).collect();
        out.extend(self.cycles(&nodes, &main_edges));
        out
    }

    /// The main-group closure of `root` with `extras` requested, in topological order.
    pub fn closure(&self, root: usize, extras: &[String]) -> Closure {
        let mut want: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        want.insert(root, extras.iter().map(|e| normalize(e)).collect());
        let mut queue = vec![root];
        let mut visited = BTreeSet::from([root]);
        let mut parent = BTreeMap::new();
        let mut active: BTreeSet<(usize, usize)> = BTreeSet::new();
        let mut problems: Vec<Problem> = Vec::new();
        while let Some(p) = queue.pop() {
            let requested = want[&p].clone();
            let is_active = |d: &Dependency| {
                d.group == MAIN
                    && (!d.optional || d.enabled_by.iter().any(|e| requested.contains(e)))
            };
            for edge in self.edges.iter().filter(|e| e.from == p) {
                let dep = self.dep(edge);
                if !is_active(dep) {
                    continue;
                }
                if edge.to != p {
                    active.insert((p, edge.to));
                }
                let entry = want.entry(edge.to).or_default();
                let before = entry.len();
                entry.extend(dep.extras.iter().cloned());
                // Revisit a package when it is new or asked for more extras than before.
                if visited.insert(edge.to) {
                    parent.insert(edge.to, p);
                    queue.push(edge.to);
                } else if entry.len() > before {
                    queue.push(edge.to);
                }
            }
            for u in self.unresolved.iter().filter(|u| u.from == p) {
                if is_active(&self.packages[p].manifest.deps[u.dep]) {
                    let problem = self.unresolved_problem(u, true);
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
            }
        }
        problems.extend(self.duplicate_names(want.keys().copied()));
        let nodes: BTreeSet<usize> = want.keys().copied().collect();
        let edges: Vec<(usize, usize)> = active.iter().copied().collect();
        problems.extend(self.cycles(&nodes, &edges));
        let order =
            topological(&nodes, &edges).into_iter().map(|i| (i, want[&i].clone())).collect();
        Closure { order, problems, parent }
    }

    /// Finds a package by repo-relative path, PEP 503 name or raw name.
    pub fn find(&self, query: &str) -> Result<usize, String> {
        let trimmed = query.trim_start_matches("./").trim_end_matches('/');
        if let Some(i) = self.packages.iter().position(|p| p.dir == trimmed) {
            return Ok(i);
        }
        if let Some(e) = self.broken.get(trimmed) {
            return Err(format!("{} does not parse: {e}", manifest_of(trimmed)));
        }
        if self.configs.iter().any(|c| c.dir == trimmed) {
            return Err(format!(
                "{} declares no package (only tool settings); pass a project or a lib",
                manifest_of(trimmed)
            ));
        }
        let name = normalize(query);
        let hits: Vec<usize> =
            (0..self.packages.len()).filter(|&i| self.packages[i].name == *name).collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(self.unknown(query)),
            many => {
                let dirs: Vec<&str> = many.iter().map(|&i| self.packages[i].dir.as_str()).collect();
                Err(format!(
                    "{query:?} names {} packages: {}; pass a path instead",
                    many.len(),
                    dirs.join(", ")
                ))
            }
        }
    }

    fn unknown(&self, query: &str) -> String {
        let name = normalize(query);
        let mut near: Vec<(usize, &Package)> = self
            .packages
            .iter()
            .map(|p| (levenshtein(&name, &p.name).min(levenshtein(query, &p.dir)), p))
            .filter(|(d, p)| *d <= 3.max(name.len() / 3) || p.name.contains(&name))
            .collect();
        near.sort_by_key(|(d, p)| (*d, p.dir.clone()));
        let hint = if near.is_empty() {
            "run `cargo xtask list` to see every package".to_string()
        } else {
            let names: Vec<String> =
                near.iter().take(3).map(|(_, p)| format!("{} ({})", p.name, p.dir)).collect();
            format!("did you mean {}?", names.join(", "))
        };
        // A package whose manifest does not parse is not in the graph: name those that might be
        // the one asked for (by folder name), with why.
        let last = |dir: &str| normalize(dir.rsplit('/').next().unwrap_or(dir));
        let broken: Vec<String> = self
            .broken
            .iter()
            .filter(|(dir, _)| last(dir) == name || levenshtein(&last(dir), &name) <= 2)
            .map(|(dir, e)| format!("{} does not parse: {e}", manifest_of(dir)))
            .collect();
        if !broken.is_empty() {
            return format!("no package {query:?} in this repo; {}", broken.join("; "));
        }
        format!("no package {query:?} in this repo; {hint}")
    }
}

/// A package's name: its manifest's, or, for a Poetry app in non-package mode without one,
/// its folder's; `None` for a manifest of tool settings only.
fn package_name(dir: &str, manifest: &Manifest) -> Option<PackageName> {
    if let Some(name) = manifest.name.as_deref() {
        return Some(PackageName::new(name));
    }
    if manifest.package_mode {
        return None;
    }
    let folder = dir.rsplit('/').next().filter(|f| *f != super::paths::ROOT)?;
    PackageName::parse(folder).ok()
}

#[cfg(test)]
mod tests;
