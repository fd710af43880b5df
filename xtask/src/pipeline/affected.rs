//! Affected: the projects a change touches (files changed since a revision, through the graph
//! now and, for deleted or moved packages, the graph then), each with its reasons.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use serde::Serialize;
use xshell::Shell;

use crate::git::Git;

use crate::model::{self, graph::Graph, Kind, Repo};

/// Changes under these can change every image: the build definition (docker/: config,
/// Dockerfiles, toolchain lock) and the code that makes images (xtask's sources, its crates).
const EVERYTHING: &[&str] =
    &["docker/", "xtask/src/", ".cargo/", "Cargo.lock", "Cargo.toml", "xtask/Cargo.toml"];
/// ...except these, which make no image: benchmarks, and prose.
const NOTHING: &[&str] = &["docker/bench/", "xtask/src/commands/bench/"];

/// Whether a changed path can change every image.
fn repo_wide(path: &str) -> bool {
    let under =
        |p: &&str| path == p.trim_end_matches('/') || (p.ends_with('/') && path.starts_with(*p));
    EVERYTHING.iter().any(under) && !NOTHING.iter().any(under) && !path.ends_with(".md")
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone)]
pub struct Reason {
    pub changed: String,
    /// Package folders from the project down to the changed package; empty for repo-wide causes.
    pub chain: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Affected {
    pub project: String,
    pub path: String,
    pub reasons: Vec<Reason>,
}

/// Changed files since the merge base of `since` and HEAD (plus the working tree with `dirty`),
/// mapped to projects through the graph now and, for deleted or moved packages, the graph then.
pub fn compute(sh: &Shell, repo: &Repo, since: &str, dirty: bool) -> Result<Vec<Affected>> {
    let git = Git::open(sh, &repo.root)?;
    git.verify_commit(since)?;
    let base = git.merge_base(since, "HEAD")?;
    let mut changed = git.changed(&base, "HEAD")?;
    if dirty {
        changed.extend(git.dirty()?);
    }
    changed.sort();
    changed.dedup();
    // The old graph matters only when manifests changed: packages added, deleted or moved.
    let before = if changed.iter().any(|p| p == "pyproject.toml" || p.ends_with("/pyproject.toml"))
    {
        Some(model::graph_at(&git, repo, &base)?)
    } else {
        None
    };
    Ok(affected(&repo.graph, before.as_ref(), &changed))
}

/// Which projects of `now` the `changed` paths touch (pure). `before` is the graph at the base
/// revision, so that a deleted or moved package still affects its former dependents.
pub fn affected(now: &Graph, before: Option<&Graph>, changed: &[String]) -> Vec<Affected> {
    let projects: BTreeMap<&str, &str> = now
        .packages
        .iter()
        .filter(|p| p.kind == Kind::Project)
        .map(|p| (p.dir.as_str(), p.name.as_str()))
        .collect();
    let mut reasons: BTreeMap<&str, Vec<Reason>> = BTreeMap::new();
    let graphs: Vec<&Graph> = std::iter::once(now).chain(before).collect();
    let indexes: Vec<Index> = graphs.iter().map(|g| Index::new(g, &projects)).collect();
    for path in changed {
        if repo_wide(path) {
            for dir in projects.keys() {
                reasons
                    .entry(dir)
                    .or_default()
                    .push(Reason { changed: path.clone(), chain: Vec::new() });
            }
            continue;
        }
        for (g, index) in graphs.iter().zip(&indexes) {
            for owner in index.owners(path) {
                let pkg = &g.packages[owner];
                if pkg.kind == Kind::Lib && *path == format!("{}/poetry.lock", pkg.dir) {
                    continue; // a lib's own lock only matters to the lib's own checks
                }
                for (project, chain) in index.dependents.get(&owner).into_iter().flatten() {
                    let reason = Reason { changed: path.clone(), chain: chain.clone() };
                    let list = reasons.entry(project).or_default();
                    if !list.contains(&reason) {
                        list.push(reason);
                    }
                }
            }
        }
    }
    reasons
        .into_iter()
        .map(|(dir, reasons)| Affected {
            project: projects[dir].to_string(),
            path: dir.to_string(),
            reasons,
        })
        .collect()
}

/// For one graph: folder → package, and package → the current projects whose main closure
/// (extras applied) contains it, with the chain of folders that leads there.
struct Index<'g> {
    by_dir: HashMap<&'g str, usize>,
    /// Folders outside a package that its wheel includes (Polylith bricks), with the package.
    included: Vec<(String, usize)>,
    dependents: HashMap<usize, Vec<(&'g str, Vec<String>)>>,
}

impl<'g> Index<'g> {
    fn new(g: &'g Graph, projects: &BTreeMap<&str, &str>) -> Index<'g> {
        let by_dir = g.packages.iter().enumerate().map(|(i, p)| (p.dir.as_str(), i)).collect();
        let mut included = Vec::new();
        for (i, p) in g.packages.iter().enumerate() {
            for inc in &p.manifest.includes {
                let Some(from) = &inc.from else { continue };
                let Some(dir) = model::paths::join("/", &p.dir, &format!("{from}/{}", inc.include))
                else {
                    continue;
                };
                if !model::paths::is_within(&dir, &p.dir) {
                    included.push((dir, i));
                }
            }
        }
        let mut dependents: HashMap<usize, Vec<(&'g str, Vec<String>)>> = HashMap::new();
        for (i, p) in g.packages.iter().enumerate() {
            // Only projects that still exist now can be rebuilt.
            if p.kind != Kind::Project || !projects.contains_key(p.dir.as_str()) {
                continue;
            }
            // Every extra of the project counts (an image may install any, by config): a
            // change to a package only an extra brings in may rebuild it, never go unseen.
            let extras: Vec<String> =
                p.manifest.deps.iter().flat_map(|d| d.enabled_by.iter().cloned()).collect();
            let closure = g.closure(i, &extras);
            for (member, _) in &closure.order {
                let chain =
                    closure.chain(*member).iter().map(|&c| g.packages[c].dir.clone()).collect();
                dependents.entry(*member).or_default().push((p.dir.as_str(), chain));
            }
        }
        Index { by_dir, included, dependents }
    }

    /// The packages a file belongs to: the one whose folder is the longest prefix of `path`,
    /// and every package whose wheel includes a folder above it from outside its own.
    fn owners(&self, path: &str) -> Vec<usize> {
        let mut owners: Vec<usize> = self
            .included
            .iter()
            .filter(|(dir, _)| model::paths::is_within(path, dir))
            .map(|(_, i)| *i)
            .collect();
        let mut dir = path;
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if let Some(&i) = self.by_dir.get(parent) {
                owners.push(i);
                return owners;
            }
            dir = parent;
        }
        owners.extend(self.by_dir.get(model::paths::ROOT).copied());
        owners
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::Discovered;
    use crate::model::manifest::parse_manifest;

    fn poetry(name: &str, deps: &str) -> String {
        format!("[tool.poetry]\nname = \"{name}\"\nversion = \"1\"\n[tool.poetry.dependencies]\n{deps}\n")
    }

    fn graph(files: &[(&str, String)]) -> Graph {
        let d = files
            .iter()
            .map(|(dir, t)| Discovered {
                dir: dir.to_string(),
                manifest: parse_manifest(t),
                dockerfile: false,
            })
            .collect();
        Graph::build("/r", d, Some(&|d: &str| d.starts_with("projects/")), &|_: &str| {
            model::DirState::Missing
        })
    }

    fn sample() -> Graph {
        graph(&[
            ("libs/a", poetry("a", "")),
            ("libs/b", poetry("b", "a = { path = \"../a\" }")),
            ("libs/c", poetry("c", "")),
            ("projects/x", poetry("x", "b = { path = \"../../libs/b\" }")),
            ("projects/y", poetry("y", "c = { path = \"../../libs/c\" }")),
        ])
    }

    fn dirs(list: &[Affected]) -> Vec<&str> {
        list.iter().map(|a| a.path.as_str()).collect()
    }

    #[test]
    fn a_deep_lib_affects_exactly_its_transitive_dependents() {
        let list = affected(&sample(), None, &["libs/a/a/__init__.py".into()]);
        assert_eq!(dirs(&list), vec!["projects/x"]);
        assert_eq!(list[0].reasons[0].chain, vec!["projects/x", "libs/b", "libs/a"]);
    }

    #[test]
    fn repo_wide_paths_projects_and_locks() {
        let g = sample();
        assert_eq!(
            dirs(&affected(&g, None, &["docker/project.Dockerfile".into()])),
            vec!["projects/x", "projects/y"]
        );
        assert_eq!(
            dirs(&affected(&g, None, &["Cargo.lock".into()])),
            vec!["projects/x", "projects/y"]
        );
        assert_eq!(
            dirs(&affected(&g, None, &["xtask/src/pipeline/build.rs".into()])),
            vec!["projects/x", "projects/y"]
        );
        for nothing in [
            "xtask/tests/images_e2e.rs",
            "xtask/test_data/x/pyproject.toml",
            "docker/bench/a.Dockerfile",
            "xtask/src/commands/bench/images.rs",
            "BENCHMARKS.md",
            "xtask/README.md",
        ] {
            assert!(
                affected(&g, None, &[nothing.into()]).is_empty(),
                "{nothing} rebuilt something"
            );
        }
        assert_eq!(
            dirs(&affected(&g, None, &["projects/y/poetry.lock".into()])),
            vec!["projects/y"]
        );
        assert!(affected(&g, None, &["libs/b/poetry.lock".into()]).is_empty());
        assert!(affected(&g, None, &["README.md".into(), "docs/x.md".into()]).is_empty());
    }

    #[test]
    fn a_deleted_package_affects_its_former_dependents() {
        let before = sample();
        let now = graph(&[
            ("libs/b", poetry("b", "")),
            ("libs/c", poetry("c", "")),
            ("projects/x", poetry("x", "b = { path = \"../../libs/b\" }")),
            ("projects/y", poetry("y", "c = { path = \"../../libs/c\" }")),
        ]);
        let list = affected(
            &now,
            Some(&before),
            &["libs/a/pyproject.toml".into(), "libs/b/pyproject.toml".into()],
        );
        assert_eq!(dirs(&list), vec!["projects/x"]);
        assert!(list[0].reasons.iter().any(|r| r.changed == "libs/a/pyproject.toml"
            && r.chain.last().map(String::as_str) == Some("libs/a")));
    }

    #[test]
    fn a_brick_included_from_outside_affects_the_project_that_includes_it() {
        let project = "[tool.poetry]\nname = \"cli\"\nversion = \"1\"\npackages = [{ include = \"acme/log\", from = \"../../components\" }]\n";
        let g = graph(&[
            ("projects/cli", project.to_string()),
            ("projects/other", poetry("other", "")),
        ]);
        let list = affected(&g, None, &["components/acme/log/core.py".into()]);
        assert_eq!(dirs(&list), vec!["projects/cli"]);
        assert!(affected(&g, None, &["components/acme/greeting/core.py".into()]).is_empty());
    }
}
