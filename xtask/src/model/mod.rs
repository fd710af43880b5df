//! The Python monorepo model: discovery (I/O) feeding pure manifest parsing and graph building.

pub mod graph;
pub mod lock;
pub mod manifest;
pub mod markers;
pub mod names;
pub mod paths;
pub mod versions;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use crate::config::{Config, Globs};
use crate::runs;
pub use graph::{DirState, Discovered, Graph, Kind};

/// Folder names that never hold packages of the repo.
const SKIPPED: &[&str] =
    &["node_modules", "target", "dist", "venv", "__pycache__", "site-packages"];

/// A loaded repo: its root, config and package graph, and where xtask keeps its files.
pub struct Repo {
    pub root: Utf8PathBuf,
    pub config: Config,
    pub graph: Graph,
    /// Content-addressed caches shared by every run: `$XTASK_CACHE_DIR` or `target/xtask/cache`.
    pub cache: Utf8PathBuf,
    /// Per-repo outputs (requirements, contexts): `target/xtask`.
    pub work: Utf8PathBuf,
}

/// The Dockerfiles xtask ships, used by repos that do not carry their own copy.
const BUILT_IN: &[(&str, &str)] = &[
    ("docker/build.Dockerfile", include_str!("../../../docker/build.Dockerfile")),
    ("docker/project.Dockerfile", include_str!("../../../docker/project.Dockerfile")),
    ("docker/dev.Dockerfile", include_str!("../../../docker/dev.Dockerfile")),
];

impl Repo {
    /// A repo file xtask needs (`docker/*.Dockerfile`): the repo's own, or the built-in default.
    pub fn read_or_default(&self, rel: &str) -> Result<String> {
        match fs::read_to_string(self.root.join(rel)) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BUILT_IN
                .iter()
                .find(|(path, _)| *path == rel)
                .map(|(_, text)| text.to_string())
                .with_context(|| format!("{rel} is missing")),
            Err(e) => Err(e.into()),
        }
    }

    /// A fresh scratch folder for this process, inside the cache so that finished entries
    /// move into it by rename. Scratch folders of runs that died are removed first.
    pub fn scratch(&self, what: &str) -> Result<Utf8PathBuf> {
        let tmp = self.cache.join("tmp");
        if let Ok(entries) = tmp.read_dir_utf8() {
            for entry in entries.filter_map(Result::ok) {
                let run = entry.file_name().rsplit_once('~').map(|(_, run)| run);
                if run.is_some_and(|run| !runs::alive(run)) {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tmp.join(format!("{what}~{}", runs::this_run()));
        crate::files::fresh_dir(&dir)?;
        Ok(dir)
    }
}

/// Loads the config and every manifest under `root`.
pub fn load(root: &Utf8Path) -> Result<Repo> {
    let root = root
        .canonicalize_utf8()
        .with_context(|| format!("--repo {root}: no such folder; pass the root of a monorepo"))?;
    let config = crate::config::load(&root)?;
    let exclude = Globs::new(&config.repo.exclude, "[repo] exclude")?;
    let projects = Globs::new(&config.repo.projects, "[repo] projects")?;
    let mut discovered = Vec::new();
    walk(&root, &root, &exclude, &mut discovered)
        .with_context(|| format!("scan {root} for pyproject.toml files"))?;
    let probe = |dir: &str| probe(&root, dir);
    let graph = Graph::build(root.as_str(), discovered, &|d: &str| projects.matches(d), &probe);
    check_project_keys(&config, &graph)?;
    let work = root.join("target/xtask");
    let cache = match std::env::var("XTASK_CACHE_DIR") {
        // Absolute, because it is bind-mounted into containers.
        Ok(dir) if !dir.is_empty() => {
            let dir = Utf8PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                Utf8PathBuf::try_from(std::env::current_dir()?)?.join(dir)
            }
        }
        _ => work.join("cache"),
    };
    Ok(Repo { root, config, graph, cache, work })
}

/// The package graph as it was at a git revision (for packages deleted or renamed since).
/// Manifests are read from git objects; the working tree is not touched.
pub fn graph_at(git: &crate::git::Git, repo: &Repo, rev: &str) -> Result<Graph> {
    let exclude = Globs::new(&repo.config.repo.exclude, "[repo] exclude")?;
    let projects = Globs::new(&repo.config.repo.projects, "[repo] projects")?;
    let manifests: Vec<(String, String)> = git
        .tree(rev)?
        .into_iter()
        .filter(|(p, _)| p == "pyproject.toml" || p.ends_with("/pyproject.toml"))
        .filter(|(p, _)| {
            let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
            let mut prefix = String::new();
            dir.split('/').filter(|c| !c.is_empty()).all(|c| {
                prefix = if prefix.is_empty() { c.to_string() } else { format!("{prefix}/{c}") };
                !skipped(c) && !exclude.matches(&prefix)
            })
        })
        .collect();
    let ids: Vec<&str> = manifests.iter().map(|(_, id)| id.as_str()).collect();
    let blobs = git.blobs(&ids).with_context(|| format!("read the manifests of {rev}"))?;
    let discovered = manifests
        .iter()
        .zip(blobs)
        .map(|((path, _), content)| Discovered {
            dir: path.rsplit_once('/').map_or(paths::ROOT.to_string(), |(d, _)| d.to_string()),
            manifest: decode(content).and_then(|t| manifest::parse_manifest(&t)),
        })
        .collect();
    let is_project = |d: &str| projects.matches(d);
    Ok(Graph::build(repo.root.as_str(), discovered, &is_project, &|_: &str| DirState::Missing))
}

/// Every `[projects."<folder>"]` of the config must name a project, or its settings would be
/// silently ignored.
fn check_project_keys(config: &Config, graph: &Graph) -> Result<()> {
    for key in config.projects.keys() {
        let pkg = graph.packages.iter().find(|p| p.dir == *key);
        if pkg.is_some_and(|p| p.kind == Kind::Project) {
            continue;
        }
        let why = match pkg {
            Some(_) => "is a lib: [repo] projects decides which folders hold projects".to_string(),
            None => {
                let mut near: Vec<(usize, &str)> = graph
                    .packages
                    .iter()
                    .filter(|p| p.kind == Kind::Project)
                    .map(|p| (names::levenshtein(key, &p.dir), p.dir.as_str()))
                    .collect();
                near.sort();
                match near.first() {
                    Some((_, dir)) => {
                        format!("names no project; did you mean [projects.\"{dir}\"]?")
                    }
                    None => "names no project, and the repo has none".to_string(),
                }
            }
        };
        anyhow::bail!("{}: [projects.\"{key}\"] {why}", crate::config::CONFIG_PATH);
    }
    Ok(())
}

fn skipped(name: &str) -> bool {
    name.starts_with('.') || SKIPPED.contains(&name)
}

fn rel_dir(root: &Utf8Path, dir: &Utf8Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_str().is_empty() => paths::ROOT.to_string(),
        Ok(rel) => rel.as_str().replace('\\', "/"),
        Err(_) => dir.to_string(),
    }
}

fn walk(root: &Utf8Path, dir: &Utf8Path, exclude: &Globs, out: &mut Vec<Discovered>) -> Result<()> {
    let mut subdirs = Vec::new();
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let entry = entry.with_context(|| format!("read folder {dir}"))?;
        // Symlinked folders are not followed: they could loop or leave the repo.
        let file_type = entry.file_type().with_context(|| format!("stat {}", entry.path()))?;
        if file_type.is_dir() && !skipped(entry.file_name()) {
            subdirs.push(entry.into_path());
        } else if file_type.is_file() && entry.file_name() == "pyproject.toml" {
            let bytes = fs::read(entry.path())?;
            out.push(Discovered {
                dir: rel_dir(root, dir),
                manifest: decode(bytes).and_then(|t| manifest::parse_manifest(&t)),
            });
        }
    }
    subdirs.sort();
    for sub in subdirs {
        if !exclude.matches(&rel_dir(root, &sub)) {
            walk(root, &sub, exclude, out)?;
        }
    }
    Ok(())
}

/// Manifests must be UTF-8 (TOML requires it); say where the first bad byte is.
fn decode(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        format!(
            "not UTF-8 (line {line}, byte offset {at}); TOML files must be UTF-8: re-save it with that encoding"
        )
    })
}

fn probe(root: &Utf8Path, dir: &str) -> DirState {
    let path = root.join(dir);
    let mut prefix = root.to_owned();
    for part in dir.split('/') {
        prefix.push(part);
        if fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink()) {
            return DirState::Symlink;
        }
    }
    if !path.is_dir() {
        DirState::Missing
    } else if !path.join("pyproject.toml").is_file() {
        DirState::NoManifest
    } else {
        DirState::Skipped
    }
}
