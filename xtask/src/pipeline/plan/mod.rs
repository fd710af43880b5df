//! Plan: which projects to build, under which names, from which closure, which local wheels
//! (with their cache keys) and which locked third-party set. Everything that can fail without
//! the engine fails here, before anything slow.

use anyhow::{bail, Context, Result};

pub mod dockerfile;
mod jobs;
mod lock;
pub mod python;
pub mod sources;

pub use dockerfile::ProjectDockerfile;
pub use jobs::{jobs, Job};
pub use lock::{resolve, Groups, LockFile, Resolved};

use crate::image::reference;
use crate::model::graph::{Closure, Problem};
use crate::model::{Kind, Repo};
use crate::runtime::Runtime;
use crate::session::Session;

/// What to build: named projects (paths or names) or all, under which tag and registry.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub projects: Vec<String>,
    pub all: bool,
    pub tag: String,
    pub registry: Option<String>,
    pub push: bool,
    /// Plan without the engine: the runtime last read from each image, or the assumed one.
    pub dry_run: bool,
}

/// One project to build: where it is, what it will be called, and what goes into it.
#[derive(Clone)]
pub struct Target {
    pub idx: usize,
    /// The image's name, without registry or tag (`gw-iaas/export`).
    pub name: String,
    pub reference: String,
    pub runtime_image: String,
    pub runtime: Runtime,
    pub jobs: Vec<Job>,
    pub third_party: Resolved,
    pub dockerfile: ProjectDockerfile,
}

/// Resolves every target of `request` and checks everything that can fail before any build.
pub fn targets(session: &Session, request: &Request) -> Result<Vec<Target>> {
    let repo = session.repo()?;
    let g = &repo.graph;
    let indices: Vec<usize> = if request.all {
        projects(repo)
    } else if request.projects.is_empty() {
        bail!("name the projects to build (paths or names), or pass --all");
    } else {
        request
            .projects
            .iter()
            .map(|q| g.find(q).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    let mut targets = Vec::new();
    for idx in indices {
        let pkg = &g.packages[idx];
        // Any package can be built when named; a manifest without a package cannot.
        if pkg.kind == Kind::Config {
            let all: Vec<&str> =
                projects(repo).into_iter().map(|i| g.packages[i].dir.as_str()).collect();
            bail!(
                "{} declares no package to install (a workspace or tool configuration); the \
                 projects are: {}",
                pkg.dir,
                all.join(", ")
            );
        }
        let (name, reference) = image_reference(repo, idx, request)?;
        refuse_shared_name(repo, idx, &name)?;
        // The build asks whether the tag exists: with the runtime image's call, not after.
        session.expect_image(&reference);
        let python = python::of_project(
            session,
            idx,
            if request.dry_run { python::Read::Assumed } else { python::Read::Image },
        )?;
        let (runtime_image, runtime) = (python.image, python.runtime);
        let dockerfile = dockerfile::read(repo, &pkg.dir)?;
        if let ProjectDockerfile::Standalone { path, from } = &dockerfile {
            session.ui.line(&format!(
                "note: {path} starts FROM {from}, not FROM app, so it is not an extension of the \
                 project's image; building {} without it (`cargo xtask adopt {}` turns it into one, \
                 keeping its ENTRYPOINT, CMD, EXPOSE, ENV and system packages)",
                pkg.dir,
                pkg.dir
            ));
        }
        let closure = closure(repo, idx)?;
        let jobs = jobs(session, &closure, runtime.python_minor())?;
        let third_party = resolve(repo, idx, Groups::Main, &runtime)?;
        targets.push(Target {
            idx,
            name,
            reference,
            runtime_image,
            runtime,
            jobs,
            third_party,
            dockerfile,
        });
    }
    if request.push && request.registry.is_none() {
        bail!("--push needs --registry (or XTASK_REGISTRY), e.g. --registry 127.0.0.1:5000");
    }
    Ok(targets)
}

/// Every project of the repo, in folder order.
pub fn projects(repo: &Repo) -> Vec<usize> {
    (0..repo.graph.packages.len())
        .filter(|&i| repo.graph.packages[i].kind == Kind::Project)
        .collect()
}

/// The main-group closure of a package, or an error listing every problem in it.
pub fn closure(repo: &Repo, idx: usize) -> Result<Closure> {
    let closure = repo.graph.closure(idx, &extras_of(repo, idx));
    fail_on(&closure.problems)?;
    Ok(closure)
}

/// Fails with every fatal problem listed, one per line.
pub fn fail_on(problems: &[Problem]) -> Result<()> {
    let fatal: Vec<String> = problems
        .iter()
        .filter(|p| p.fatal)
        .map(|p| format!("  {}: {}", p.path, p.message))
        .collect();
    if !fatal.is_empty() {
        bail!(
            "{} problem(s) in the repo's manifests; fix them and run again:\n{}",
            fatal.len(),
            fatal.join("\n")
        );
    }
    Ok(())
}

/// The extras of the project at `idx` its image installs (`[projects."<dir>"] extras`).
pub fn extras_of(repo: &Repo, idx: usize) -> Vec<String> {
    let dir = &repo.graph.packages[idx].dir;
    repo.config.projects.get(dir).map(|p| p.extras.clone()).unwrap_or_default()
}

/// The image name of a project: `[projects."<dir>"] image`, or its package name.
pub fn image_name(repo: &Repo, idx: usize) -> String {
    let pkg = &repo.graph.packages[idx];
    let configured = repo.config.projects.get(&pkg.dir).and_then(|p| p.image.clone());
    configured.unwrap_or_else(|| pkg.name.to_string())
}

/// Two projects whose images share a name would overwrite each other's tag and context.
fn refuse_shared_name(repo: &Repo, idx: usize, name: &str) -> Result<()> {
    let g = &repo.graph;
    let other = projects(repo).into_iter().find(|&i| i != idx && image_name(repo, i) == name);
    if let Some(other) = other {
        let (a, b) = (&g.packages[idx].dir, &g.packages[other].dir);
        bail!(
            "{a} and {b} both make the image {name:?}; give one its own name in {}: \
             [projects.\"{b}\"] image = \"…\"",
            crate::config::CONFIG_PATH
        );
    }
    Ok(())
}

/// The image name and `[registry/]name:tag`.
fn image_reference(repo: &Repo, idx: usize, request: &Request) -> Result<(String, String)> {
    let pkg = &repo.graph.packages[idx];
    let name = image_name(repo, idx);
    let mut reference = format!("{name}:{}", request.tag);
    if let Some(registry) = &request.registry {
        reference = format!("{}/{reference}", registry.trim_end_matches('/'));
    }
    reference::validate(&reference)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("name the image of {}", pkg.dir))?;
    Ok((name, reference))
}

impl Target {
    /// The folder of its context under `target/xtask/contexts/`: the image name, one level.
    pub fn context_name(&self) -> String {
        self.name.replace('/', "-")
    }
}
