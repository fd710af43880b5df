//! `cargo xtask lock`: a package's lock made by the tool it belongs to (the pinned Poetry in
//! the build image, or the pinned uv in the project's Python image), and the toolchain lock.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fs_err as fs;

use crate::cli::LockArgs;
use crate::engine::Container;
use crate::files::owner_of;
use crate::pipeline::plan::{self, python, Groups};
use crate::pipeline::toolchain::{self, lockfile, TOOLCHAIN_LOCK};
use crate::session::Session;
use crate::wheel::{sdist, WheelName};

pub fn run(session: &Session, args: &LockArgs) -> Result<()> {
    let repo = session.repo()?;
    let g = &repo.graph;
    let targets: Vec<usize> = if args.all {
        (0..g.packages.len()).collect()
    } else if args.packages.is_empty() && !args.toolchain {
        bail!("name the packages to lock (paths or names), or pass --all or --toolchain");
    } else {
        args.packages
            .iter()
            .map(|q| g.find(q).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    session.engine()?;
    let mut done = Vec::new();
    for i in targets {
        // One uv.lock serves a whole workspace: lock it once.
        let root = g.uv_workspace_root(i);
        if root.is_some() && done.contains(&root) {
            continue;
        }
        lock_one(session, i)?;
        done.push(root);
    }
    if args.toolchain {
        lock_toolchain(session)?;
    }
    Ok(())
}

/// Which tool a package's lock belongs to.
enum Tool {
    Poetry,
    Uv { dir: String },
}

fn tool_of(session: &Session, idx: usize) -> Result<Tool> {
    let repo = session.repo()?;
    let pkg = &repo.graph.packages[idx];
    if let Some(root) = repo.graph.uv_workspace_root(idx) {
        return Ok(Tool::Uv { dir: root });
    }
    let has = |file: &str| repo.root.join(&pkg.dir).join(file).is_file();
    let text =
        fs::read_to_string(repo.root.join(&pkg.dir).join("pyproject.toml")).unwrap_or_default();
    if has("poetry.lock") || text.contains("[tool.poetry") {
        return Ok(Tool::Poetry);
    }
    if !has("pyproject.toml") && (has("pylock.toml")) {
        bail!("{} is locked by its pylock.toml, which another tool writes (`uv export --format pylock.toml`, `pip lock`); run that tool", pkg.dir);
    }
    // uv locks a project: without a [project] table here it would walk up to an outer
    // pyproject.toml and lock (and write) that instead.
    let table: Option<toml::Table> = toml::from_str(&text).ok();
    if !table.is_some_and(|t| t.contains_key("project")) {
        bail!(
            "{dir} declares its package in setup.py or setup.cfg only, and uv (which xtask locks \
             such packages with) locks a pyproject.toml [project]; add {dir}/pyproject.toml with \
             [project] name, version and dependencies, or write {dir}/pylock.toml with \
             `pip lock` (pip ≥ 25.1) from its requirements",
            dir = pkg.dir
        );
    }
    Ok(Tool::Uv { dir: pkg.dir.clone() })
}

fn lock_one(session: &Session, idx: usize) -> Result<()> {
    let repo = session.repo()?;
    let pkg = &repo.graph.packages[idx];
    let t0 = Instant::now();
    match tool_of(session, idx)? {
        Tool::Poetry => poetry_lock(session, idx)?,
        Tool::Uv { dir } => uv_lock(session, idx, &dir)?,
    }
    println!("locked {} in {:.1} s", pkg.dir, t0.elapsed().as_secs_f64());
    Ok(())
}

/// `poetry lock` for one package. The repo is read-only but for the package's own folder,
/// where Poetry writes poetry.lock; it sits at /repo on every machine, so the `file://` URLs
/// Poetry writes are the same everywhere.
fn poetry_lock(session: &Session, idx: usize) -> Result<()> {
    let repo = session.repo()?;
    let pkg = &repo.graph.packages[idx];
    let host_dir = repo.root.join(&pkg.dir);
    let inside = if pkg.dir == "." { "/repo".to_string() } else { format!("/repo/{}", pkg.dir) };
    let poetry_cache = repo.cache.join("poetry");
    fs::create_dir_all(&poetry_cache)?;
    let image = session.build_image(repo.config.toolchain.tools_minor())?;
    let container = Container::online(&image)
        .user(&owner_of(&host_dir)?)
        .with(&crate::hostenv::pip())
        .with(&crate::hostenv::poetry())
        .env("POETRY_CACHE_DIR=/tmp/poetry-cache")
        .mount(&poetry_cache, "/tmp/poetry-cache");
    let container = writable_at(container, &repo.root, &host_dir, &inside)
        .workdir(&inside)
        .command(["poetry", "lock", "--no-interaction"]);
    session
        .engine()?
        .run(&session.sh, &container)
        .map(drop)
        .with_context(|| format!("lock {} with Poetry {}", pkg.dir, repo.config.toolchain.poetry))
}

/// The repo at /repo, read-only but for the folder being locked (`inside`). A package at the
/// repo's root makes the whole repo writable: two mounts at one point are an engine error.
fn writable_at(
    container: Container,
    root: &camino::Utf8Path,
    host_dir: &camino::Utf8Path,
    inside: &str,
) -> Container {
    if inside == "/repo" {
        container.mount(root, "/repo")
    } else {
        container.mount_ro(root, "/repo").mount(host_dir, inside)
    }
}

/// `uv lock` with the pinned uv, in the Python image the project runs on (uv needs an
/// interpreter its `requires-python` allows), for the workspace or project at `dir`.
fn uv_lock(session: &Session, idx: usize, dir: &str) -> Result<()> {
    let repo = session.repo()?;
    let pinned = session.toolchain()?.lock().uv.clone();
    let (uv_dir, _) = toolchain::uv::binary(session, pinned.as_ref())?;
    let image = python::of_project(session, idx, python::Read::Image)?.image;
    let host_dir = repo.root.join(dir);
    let inside = if dir == "." { "/repo".to_string() } else { format!("/repo/{dir}") };
    let work = repo.scratch("uv-lock")?;
    let result = (|| {
        let settings = session.net()?.settings();
        crate::files::write_private(
            &work.join("uv.toml"),
            &format!(
                "index-url = {:?}\nextra-index-url = {:?}\n",
                settings.index_url, settings.extra_index_urls
            ),
        )?;
        let container = Container::online(&image)
            .user(&owner_of(&host_dir)?)
            .with(&crate::hostenv::uv())
            .env("UV_CONFIG_FILE=/work/uv.toml")
            .env("UV_PYTHON_DOWNLOADS=never")
            .env("UV_NO_CACHE=1")
            .mount_ro(&uv_dir, "/opt/uv")
            .mount(&work, "/work");
        let container = writable_at(container, &repo.root, &host_dir, &inside)
            .workdir(&inside)
            .command(["/opt/uv/uv", "lock", "--python", "python3"]);
        session.engine()?.run(&session.sh, &container).map(drop)
    })();
    let _ = fs::remove_dir_all(&work);
    result.with_context(|| format!("lock {dir} with uv {}", repo.config.toolchain.uv))
}

/// Pins every build environment the repo needs with the pinned uv and writes
/// docker/toolchain.lock: the tools (Poetry), the build backend of every local package, and
/// the build requirements of every sdist a project installs, for each project's Python.
fn lock_toolchain(session: &Session) -> Result<()> {
    let repo = session.repo()?;
    let t0 = Instant::now();
    let needed = needed_envs(session)?;
    let mut lock = lockfile::ToolchainLock { version: lockfile::FORMAT, ..Default::default() };
    lock.uv = session.toolchain()?.lock().uv.clone();
    for ((minor, requires), used_by) in &needed {
        let mut env =
            toolchain::resolve(session, &mut lock, *minor, requires, &used_by.join(", "))?;
        env.used_by = used_by.clone();
        lock.envs.push(env);
    }
    let path = repo.root.join(TOOLCHAIN_LOCK);
    fs::create_dir_all(path.parent().unwrap_or(&repo.root))?;
    crate::files::write_atomic(&path, lock.to_text())?;
    println!(
        "locked the toolchain ({} environments) in {:.1} s: {TOOLCHAIN_LOCK}",
        lock.envs.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `(Python minor, canonical requirements)` → who needs them.
type Needed = BTreeMap<(u32, Vec<String>), Vec<String>>;

/// Every environment the repo's projects need.
fn needed_envs(session: &Session) -> Result<Needed> {
    let repo = session.repo()?;
    let mut needed = Needed::new();
    let mut add = |minor: u32, requires: &[String], who: &str| -> Result<()> {
        let requires = lockfile::canonical(requires).map_err(|e| anyhow::anyhow!("{who}: {e}"))?;
        let users = needed.entry((minor, requires)).or_default();
        if !users.iter().any(|u| u == who) {
            users.push(who.to_string());
        }
        Ok(())
    };
    add(repo.config.toolchain.tools_minor(), &toolchain::tools_requires(repo), "tools")?;
    let mut minors = std::collections::BTreeSet::new();
    let mut covered = std::collections::BTreeSet::new();
    for idx in plan::projects(repo) {
        let runtime = python::of_project(session, idx, python::Read::Image)?.runtime;
        let minor = runtime.python_minor();
        minors.insert(minor);
        let closure = plan::closure(repo, idx)?;
        for (i, _) in &closure.order {
            covered.insert(*i);
            let pkg = &repo.graph.packages[*i];
            if let Some(system) = pkg.manifest.build_system() {
                add(minor, &system.requires, &pkg.dir)?;
            }
        }
        let Ok(resolved) = plan::resolve(repo, idx, Groups::All, &runtime) else { continue };
        for (file, system) in sdists_needed(session, &resolved)? {
            add(minor, &system.requires, &file)?;
        }
    }
    // A package no project uses can still be built by name: pinned for every Python in use.
    if minors.is_empty() {
        minors.insert(repo.config.toolchain.tools_minor());
    }
    for (_, pkg) in repo.graph.packages.iter().enumerate().filter(|(i, _)| !covered.contains(i)) {
        if let Some(system) = pkg.manifest.build_system() {
            for minor in &minors {
                add(*minor, &system.requires, &pkg.dir)?;
            }
        }
    }
    Ok(needed)
}

/// The sdists a project builds (packages without a wheel for its runtime), each with its
/// build system, read from the sdist itself (fetched into the cache once, checked).
fn sdists_needed(
    session: &Session,
    resolved: &plan::Resolved,
) -> Result<Vec<(String, crate::model::manifest::BuildSystem)>> {
    let repo = session.repo()?;
    let dir = repo.cache.join("sdists");
    fs::create_dir_all(&dir)?;
    let mut out = Vec::new();
    for p in &resolved.pinned {
        let has_wheel = p
            .files
            .iter()
            .any(|f| WheelName::parse(&f.name).is_some_and(|w| w.fits(&resolved.runtime)));
        if has_wheel {
            continue;
        }
        let Some(file) = p.files.iter().find(|f| crate::wheel::name::sdist(&f.name).is_some())
        else {
            continue;
        };
        let path = dir.join(&file.name);
        if !path.is_file() || crate::hash::of_file(&path)? != file.sha256 {
            crate::pipeline::fetch::fetch_file(session, p, file, &path)?;
        }
        out.push((file.name.clone(), sdist::build_system(&path)?));
    }
    Ok(out)
}
