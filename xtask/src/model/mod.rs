//! The Python monorepo model: discovery (I/O) feeding pure manifest parsing and graph building.

pub mod discover;
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

    /// The context folder `name` under the work folder, locked for this process until the
    /// returned lock is dropped: concurrent runs for one image take turns with it.
    pub fn context_dir(&self, name: &str) -> Result<(Utf8PathBuf, fs::File)> {
        let contexts = self.work.join("contexts");
        fs::create_dir_all(&contexts)?;
        let lock = crate::files::open_lock(&contexts.join(format!(".{name}.lock")))?;
        lock.file().lock().with_context(|| format!("lock the context folder {name}"))?;
        Ok((contexts.join(name), lock))
    }

    /// Where runs register (see [`runs`]).
    pub fn runs(&self) -> Utf8PathBuf {
        self.cache.join("runs")
    }

    /// A fresh scratch folder for this process, inside the cache so that finished entries
    /// move into it by rename. Scratch folders of runs that died are removed first.
    pub fn scratch(&self, what: &str) -> Result<Utf8PathBuf> {
        let tmp = self.cache.join("tmp");
        runs::register(&self.runs())?;
        if let Ok(entries) = tmp.read_dir_utf8() {
            for entry in entries.filter_map(Result::ok) {
                let run = entry.file_name().rsplit_once('~').map(|(_, run)| run);
                if run.is_some_and(|run| !runs::alive(&self.runs(), run)) {
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
    let projects =
        config.repo.projects.as_ref().map(|p| Globs::new(p, "[repo] projects")).transpose()?;
    let discovered = discover::walk(&root, &exclude)?;
    let probe = |dir: &str| discover::probe(&root, dir);
    let is_project = projects.as_ref().map(|g| move |d: &str| g.matches(d));
    let graph = Graph::build(
        root.as_str(),
        discovered,
        is_project.as_ref().map(|f| f as &dyn Fn(&str) -> bool),
        &probe,
    );
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
    let owned = ["contexts", "requirements", "registry"].map(|d| work.join(d));
    let cached = [
        "wheels",
        "wheelhouse",
        "wheelhouse/.sha256",
        "tmp",
        "runtimes",
        "lock-checks",
        "toolchain",
        "runs",
    ]
    .map(|d| cache.join(d));
    let all: Vec<&Utf8Path> = [work.as_path(), cache.as_path()]
        .into_iter()
        .chain(owned.iter().map(Utf8PathBuf::as_path))
        .chain(cached.iter().map(Utf8PathBuf::as_path))
        .collect();
    crate::files::refuse_symlinked(&root, &all)?;
    Ok(Repo { root, config, graph, cache, work })
}

/// The package graph as it was at a git revision (for packages deleted or moved since).
pub fn graph_at(git: &crate::git::Git, repo: &Repo, rev: &str) -> Result<Graph> {
    let exclude = Globs::new(&repo.config.repo.exclude, "[repo] exclude")?;
    let projects =
        repo.config.repo.projects.as_ref().map(|p| Globs::new(p, "[repo] projects")).transpose()?;
    let discovered = discover::at_revision(git, rev, &exclude)?;
    let is_project = projects.as_ref().map(|g| move |d: &str| g.matches(d));
    let missing = |_: &str| DirState::Missing;
    Ok(Graph::build(
        repo.root.as_str(),
        discovered,
        is_project.as_ref().map(|f| f as &dyn Fn(&str) -> bool),
        &missing,
    ))
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
