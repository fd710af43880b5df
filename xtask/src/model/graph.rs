//! The local dependency graph: path dependencies resolved by path, closures with extras, cycles.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::manifest::{Dependency, Manifest, Source, MAIN};
use super::names::{levenshtein, normalize};
use super::paths::manifest_of;
use order::{adjacency, topological};
use resolve::{check_target, missing_target, resolve_path, resolve_workspace};

mod order;
mod resolve;

/// One pyproject.toml found in the repo, parsed or not.
pub struct Discovered {
    /// Repo-relative folder, `/`-separated, `.` for the root.
    pub dir: String,
    pub manifest: Result<Manifest, String>,
}

/// What is at a folder that discovery did not report a manifest for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    Missing,
    NoManifest,
    /// Has a manifest, but discovery skips the folder (hidden, build output, excluded).
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Lib,
    Project,
    Config,
}

pub struct Package {
    pub dir: String,
    /// PEP 503-normalised name; empty for config-only manifests.
    pub name: String,
    pub version: Option<String>,
    pub kind: Kind,
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
    message: String,
    /// False when the target only fails to parse: that is fatal only for closures that need it.
    fatal_in_repo: bool,
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
    pub fn build(
        repo_abs: &str,
        discovered: Vec<Discovered>,
        is_project: &dyn Fn(&str) -> bool,
        probe: &dyn Fn(&str) -> DirState,
    ) -> Graph {
        let mut packages = Vec::new();
        let mut broken = BTreeMap::new();
        for d in discovered {
            match d.manifest {
                Ok(manifest) => {
                    let name = manifest.name.as_deref().map(normalize).unwrap_or_default();
                    let kind = match () {
                        _ if name.is_empty() => Kind::Config,
                        _ if is_project(&d.dir) => Kind::Project,
                        _ => Kind::Lib,
                    };
                    let version = manifest.version.clone();
                    packages.push(Package { dir: d.dir, name, version, kind, manifest });
                }
                Err(e) => {
                    broken.insert(d.dir, e);
                }
            }
        }
        packages.sort_by(|a, b| a.dir.cmp(&b.dir));
        let by_dir: BTreeMap<&str, usize> =
            packages.iter().enumerate().map(|(i, p)| (p.dir.as_str(), i)).collect();

        let mut edges = Vec::new();
        let mut unresolved = Vec::new();
        for (from, pkg) in packages.iter().enumerate() {
            for (dep_idx, dep) in pkg.manifest.deps.iter().enumerate() {
                let target = match &dep.source {
                    Source::Path { path, .. } => resolve_path(repo_abs, pkg, dep, path),
                    Source::Workspace => resolve_workspace(&packages, pkg, dep),
                    _ => continue,
                };
                let result = target.and_then(|dir| match by_dir.get(dir.as_str()) {
                    Some(&to) => check_target(&packages[to], dep, &dir).map(|()| to),
                    None => Err(missing_target(dep, &dir, &broken, probe)),
                });
                match result {
                    Ok(to) => edges.push(Edge { from, to, dep: dep_idx }),
                    Err((message, fatal_in_repo)) => {
                        unresolved.push(Unresolved { from, dep: dep_idx, message, fatal_in_repo })
                    }
                }
            }
        }
        Graph { packages, edges, unresolved, broken }
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
            out.push(Problem {
                path: self.packages[u.from].manifest_path(),
                message: u.message.clone(),
                fatal: u.fatal_in_repo,
            });
        }
        let main_edges: Vec<(usize, usize)> = self
            .edges
            .iter()
            .filter(|e| self.dep(e).group == MAIN && e.from != e.to)
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
                    let problem = Problem {
                        path: self.packages[p].manifest_path(),
                        message: u.message.clone(),
                        fatal: true,
                    };
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
        let name = normalize(query);
        let hits: Vec<usize> =
            (0..self.packages.len()).filter(|&i| self.packages[i].name == name).collect();
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
            .filter(|p| p.kind != Kind::Config)
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
        format!("no package {query:?} in this repo; {hint}")
    }

    fn duplicate_names(&self, nodes: impl Iterator<Item = usize>) -> Vec<Problem> {
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for i in nodes {
            by_name.entry(&self.packages[i].name).or_default().push(&self.packages[i].dir);
        }
        by_name
            .into_iter()
            .filter(|(_, dirs)| dirs.len() > 1)
            .map(|(name, dirs)| Problem {
                path: manifest_of(dirs[1]),
                message: format!(
                    "two packages named {name:?} in one closure: {}; rename one ([project] name or [tool.poetry] name)",
                    dirs.join(" and ")
                ),
                fatal: true,
            })
            .collect()
    }

    /// One problem per dependency cycle among `nodes`.
    fn cycles(&self, nodes: &BTreeSet<usize>, edges: &[(usize, usize)]) -> Vec<Problem> {
        let adj = adjacency(nodes, edges);
        let mut state: BTreeMap<usize, u8> = BTreeMap::new(); // 1 = on the stack, 2 = done
        let mut found: Vec<Vec<usize>> = Vec::new();
        for &start in nodes {
            if state.contains_key(&start) {
                continue;
            }
            // Iterative DFS keeps deep synthetic graphs off the call stack.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state.insert(start, 1);
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&to) = adj[&node].get(*next) {
                    *next += 1;
                    match state.get(&to) {
                        None => {
                            state.insert(to, 1);
                            stack.push((to, 0));
                        }
                        Some(1) => {
                            let pos = stack.iter().position(|&(n, _)| n == to).unwrap_or(0);
                            found.push(stack[pos..].iter().map(|&(n, _)| n).collect());
                        }
                        _ => {}
                    }
                } else {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
        found
            .into_iter()
            .map(|cycle| {
                let mut names: Vec<String> = cycle.iter().map(|&i| self.label(i)).collect();
                names.push(self.label(cycle[0]));
                Problem {
                    path: self.packages[cycle[0]].manifest_path(),
                    message: format!(
                        "dependency cycle: {}; remove one of these path dependencies",
                        names.join(" -> ")
                    ),
                    fatal: true,
                }
            })
            .collect()
    }

    fn label(&self, i: usize) -> String {
        format!("{} ({})", self.packages[i].name, self.packages[i].dir)
    }
}

#[cfg(test)]
mod tests;
