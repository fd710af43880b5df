//! Toolchain: the pinned build environments and the build images made from them, one per
//! Python minor. Environments come from docker/toolchain.lock (`cargo xtask lock
//! --toolchain`); a repo without one gets each environment resolved once by the pinned uv
//! into the cache, and is told how to pin them.

pub mod lockfile;
pub mod uv;

use std::cell::RefCell;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use self::lockfile::{canonical, LockedEnv, LockedFile, ToolchainLock, FORMAT};
use crate::engine::Build;
use crate::files::link_or_copy;
use crate::hash::Sha256;
use crate::model::Repo;
use crate::net::{self, Download};
use crate::runtime::Runtime;
use crate::session::Session;
use crate::wheel::WheelName;

pub const BUILD_DOCKERFILE: &str = "docker/build.Dockerfile";
/// Every build environment, pinned by hash (`cargo xtask lock --toolchain` writes it).
pub const TOOLCHAIN_LOCK: &str = "docker/toolchain.lock";
/// Where environments live in a build image.
pub const ENVS: &str = "/opt/xtask-envs";
/// The tools' environment (Poetry) in the build image of the tools' Python, first on PATH.
pub const TOOLS: &str = "/opt/toolchain";

/// The toolchain lock this run uses: the repo's own, or the cache's for a repo without one.
#[derive(Debug)]
pub struct Toolchain {
    lock: RefCell<ToolchainLock>,
    path: Utf8PathBuf,
    /// True for the repo's docker/toolchain.lock: nothing is resolved, a missing env is an
    /// error naming the fix.
    pub pinned: bool,
}

impl Toolchain {
    /// Reads the repo's lock, or the cache's when the repo has none.
    pub fn load(repo: &Repo) -> Result<Toolchain> {
        let own = repo.root.join(TOOLCHAIN_LOCK);
        let (path, pinned) = if own.is_file() {
            (own, true)
        } else {
            (repo.cache.join("toolchain").join("resolved.lock"), false)
        };
        let lock = read(&path, pinned)?;
        Ok(Toolchain { lock: RefCell::new(lock), path, pinned })
    }

    pub fn lock(&self) -> std::cell::Ref<'_, ToolchainLock> {
        self.lock.borrow()
    }
}

fn read(path: &Utf8Path, pinned: bool) -> Result<ToolchainLock> {
    match fs::read_to_string(path) {
        Ok(text) => ToolchainLock::parse(&text).map_err(|e| {
            let fix = if pinned { "run `cargo xtask lock --toolchain`" } else { "delete it" };
            anyhow::anyhow!("{path}: {e}; {fix}")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(ToolchainLock { version: FORMAT, ..ToolchainLock::default() })
        }
        Err(e) => Err(e.into()),
    }
}

/// What the tools' environment installs: Poetry, and its export plugin.
pub fn tools_requires(repo: &Repo) -> Vec<String> {
    let t = &repo.config.toolchain;
    vec![
        format!("poetry=={}", t.poetry),
        format!("poetry-plugin-export=={}", t.poetry_plugin_export),
    ]
}

/// The environment for `requires` on Python 3.`minor`, for `used_by` (named in errors). From
/// the repo's lock, or resolved into the cache's when the repo has none.
pub fn env(session: &Session, minor: u32, requires: &[String], used_by: &str) -> Result<LockedEnv> {
    let toolchain = session.toolchain()?;
    let python = format!("3.{minor}");
    let requires = canonical(requires).map_err(|e| anyhow::anyhow!("{used_by}: {e}"))?;
    if let Some(env) = toolchain.lock().env(&python, &requires) {
        return Ok(env.clone());
    }
    if toolchain.pinned {
        bail!(
            "{used_by} builds with {} on Python {python}, which {TOOLCHAIN_LOCK} does not pin; \
             run `cargo xtask lock --toolchain`",
            requires.join(", ")
        );
    }
    // Resolved once per machine and kept in the cache, under a lock: concurrent runs agree.
    let dir = toolchain.path.parent().unwrap_or(Utf8Path::new("."));
    fs::create_dir_all(dir)?;
    let guard = crate::files::open_lock(&dir.join(".resolve.lock"))?;
    guard.file().lock().context("lock the toolchain resolution")?;
    let mut lock = read(&toolchain.path, false)?;
    if lock.env(&python, &requires).is_none() {
        session.ui.line(&format!(
            "note: resolving the build requirements {} for Python {python} with uv (pin them in \
             the repo with `cargo xtask lock --toolchain`)",
            requires.join(", ")
        ));
        let resolved = resolve(session, &mut lock, minor, &requires, used_by)?;
        lock.envs.push(resolved);
        crate::files::write_atomic(&toolchain.path, lock.to_text())?;
    }
    let env = lock.env(&python, &requires).cloned().context("the resolved environment")?;
    *toolchain.lock.borrow_mut() = lock;
    Ok(env)
}

/// Resolves one environment with the pinned uv (recorded in `lock`).
pub fn resolve(
    session: &Session,
    lock: &mut ToolchainLock,
    minor: u32,
    requires: &[String],
    used_by: &str,
) -> Result<LockedEnv> {
    let (uv_dir, uv_wheel) = uv::binary(session, lock.uv.as_ref())?;
    lock.uv = Some(uv_wheel);
    let packages = uv::compile(session, &uv_dir, minor, requires)
        .with_context(|| format!("pin the build requirements of {used_by}"))?;
    Ok(LockedEnv {
        python: format!("3.{minor}"),
        requires: requires.to_vec(),
        used_by: vec![used_by.to_string()],
        packages,
    })
}

/// What identifies an environment's content in cache keys: its requirements and pins.
pub fn env_key(env: &LockedEnv) -> String {
    let mut text = format!("{}\n", env.id());
    for p in &env.packages {
        let shas: Vec<&str> = p.files.iter().map(|f| f.sha256.as_str()).collect();
        text += &format!("{}=={} {}\n", p.name, p.version, shas.join(","));
    }
    Sha256::of(text.as_bytes()).short(16).to_string()
}

/// The build image of Python 3.`minor`: built once (offline unless system packages are
/// configured) from every environment the lock has for that Python; its tag is the hash of
/// everything that goes in.
pub fn ensure_build_image(session: &Session, minor: u32) -> Result<String> {
    let repo = session.repo()?;
    let t = &repo.config.toolchain;
    if minor == t.tools_minor() {
        env(session, minor, &tools_requires(repo), "tools (Poetry)")?;
    }
    // Concurrent runs wait here instead of fetching and building the same image twice.
    fs::create_dir_all(&repo.cache)?;
    let guard = crate::files::open_lock(&repo.cache.join("build-image.lock"))?;
    guard.file().lock().context("lock the build image")?;
    let base = format!("python:3.{minor}-slim");
    let base_id = session.engine()?.require_image(&session.sh, &base)?;
    let runtime = session.runtime(&base)?;
    let toolchain = session.toolchain()?;
    let lock = toolchain.lock();
    let envs = lock.envs_of(&format!("3.{minor}"));
    let chosen = wheels_for(&envs, &runtime)?;
    let dockerfile = repo.read_or_default(BUILD_DOCKERFILE)?;
    let tools = tools_env(repo, &lock, minor).map(LockedEnv::id);
    let mut input =
        format!("{dockerfile}\n{base_id}\n{}\n{tools:?}\n", t.system_packages.join(" "));
    for (env, files) in &chosen {
        input += &format!("{}:", env.id());
        for f in files {
            input += &format!(" {}", f.sha256);
        }
        input.push('\n');
    }
    let tag = format!("{}:3.{minor}-{}", t.build_image, Sha256::of(input.as_bytes()).short(16));
    if session.engine()?.image_id(&session.sh, &tag)?.is_some() {
        return Ok(tag);
    }
    // Another runner may have built it already: the shared cache has it then.
    if let Some(shared) = session.shared() {
        if shared.pull_image(session, &tag) {
            return Ok(tag);
        }
    }
    let ctx = repo.scratch("build-image")?;
    let result = (|| {
        fetch_wheels(session, &chosen)?;
        write_context(repo, &ctx, &chosen, tools.as_deref(), &dockerfile)?;
        let build = Build {
            context: ctx.clone(),
            tag: Some(tag.clone()),
            build_args: vec![
                ("PYTHON_IMAGE".into(), base.clone()),
                ("SYSTEM_PACKAGES".into(), t.system_packages.join(" ")),
            ],
            labels: vec![("xtask.toolchain".into(), tag.clone())],
            network: !t.system_packages.is_empty(),
            ..Build::default()
        };
        session.engine()?.build(&build, &mut |_| {})
    })();
    let _ = fs::remove_dir_all(&ctx);
    result.with_context(|| format!("build the build image {tag} from {BUILD_DOCKERFILE}"))?;
    if let Some(shared) = session.shared() {
        shared.push_image(session, &tag);
    }
    Ok(tag)
}

/// The tools' environment, in the build image of the tools' Python only.
fn tools_env<'l>(repo: &Repo, lock: &'l ToolchainLock, minor: u32) -> Option<&'l LockedEnv> {
    if minor != repo.config.toolchain.tools_minor() {
        return None;
    }
    let requires = canonical(&tools_requires(repo)).ok()?;
    lock.env(&format!("3.{minor}"), &requires)
}

/// For each environment, the wheel of each pinned distribution that the build image's
/// Python installs (chosen from the lock, nothing fetched).
fn wheels_for<'e>(
    envs: &[&'e LockedEnv],
    runtime: &Runtime,
) -> Result<Vec<(&'e LockedEnv, Vec<LockedFile>)>> {
    let mut chosen = Vec::new();
    for env in envs {
        let mut files = Vec::new();
        for dist in &env.packages {
            let best = dist
                .files
                .iter()
                .filter_map(|f| Some((f, WheelName::parse(&f.name)?)))
                .filter(|(_, w)| w.fits(runtime))
                .max_by_key(|(_, w)| w.specificity(runtime));
            let Some((file, _)) = best else {
                bail!(
                    "{}=={} (a build requirement in {TOOLCHAIN_LOCK}) has no wheel for Python {}",
                    dist.name,
                    dist.version,
                    runtime.python_version()
                );
            };
            files.push(file.clone());
        }
        chosen.push((*env, files));
    }
    Ok(chosen)
}

/// Puts the chosen wheels in the wheelhouse: fetched when missing, checked by digest.
fn fetch_wheels(session: &Session, chosen: &[(&LockedEnv, Vec<LockedFile>)]) -> Result<()> {
    let house = session.repo()?.cache.join("wheelhouse");
    fs::create_dir_all(&house)?;
    let mut downloads: Vec<Download> = Vec::new();
    for file in chosen.iter().flat_map(|(_, files)| files) {
        let sha256 = Sha256::from_hex(&file.sha256).context("a digest in the toolchain lock")?;
        let dest = house.join(&file.name);
        let have = dest.is_file() && crate::hash::of_file(&dest)? == sha256;
        if !have && !downloads.iter().any(|d| d.dest == dest) {
            downloads.push(Download { url: file.url.clone(), dest, sha256 });
        }
    }
    if !downloads.is_empty() {
        net::download_all(session.net()?, &downloads, 8).context("fetch the build backends")?;
    }
    Ok(())
}

/// The build image's context: its Dockerfile, the wheels, one requirements file per
/// environment and the script that makes the venvs.
fn write_context(
    repo: &Repo,
    ctx: &Utf8Path,
    chosen: &[(&LockedEnv, Vec<LockedFile>)],
    tools: Option<&str>,
    dockerfile: &str,
) -> Result<()> {
    let dir = ctx.join("toolchain");
    fs::create_dir_all(&dir)?;
    fs::write(ctx.join("Dockerfile"), dockerfile)?;
    let house = repo.cache.join("wheelhouse");
    let mut script = String::from("set -eu\n");
    let pip = "-m pip install --no-index --no-deps --require-hashes --no-cache-dir \
               --disable-pip-version-check --no-warn-script-location --find-links /tmp/toolchain";
    for (env, files) in chosen {
        let id = env.id();
        let mut requirements = String::new();
        for (dist, file) in env.packages.iter().zip(files) {
            requirements +=
                &format!("{}=={} --hash=sha256:{}\n", dist.name, dist.version, file.sha256);
            let dest = dir.join(&file.name);
            if !dest.exists() {
                link_or_copy(&house.join(&file.name), &dest)?;
            }
        }
        fs::write(dir.join(format!("{id}.txt")), requirements)?;
        let venv =
            if tools == Some(id.as_str()) { TOOLS.to_string() } else { format!("{ENVS}/{id}") };
        script += &format!(
            "python3 -m venv {venv}\n{venv}/bin/python {pip} -r /tmp/toolchain/{id}.txt\n"
        );
        if venv == TOOLS {
            // Found by id too, like every other environment.
            script += &format!("mkdir -p {ENVS} && ln -s {TOOLS} {ENVS}/{id}\n");
        }
    }
    fs::write(dir.join("install.sh"), script)?;
    Ok(())
}
