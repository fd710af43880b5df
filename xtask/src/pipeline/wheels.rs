//! Wheels: every local package of a closure built offline in the build image, its path
//! requirements pinned, cached by content.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use super::plan::{sources, Job};
use super::toolchain::lockfile::LockedEnv;
use super::toolchain::ENVS;
use crate::engine::Container;
use crate::files::owner_of;
use crate::hash::Sha256;
use crate::image::VENV;
use crate::model::names::PackageName;
use crate::model::Repo;
use crate::session::Session;
use crate::wheel::cache::WheelCache;
use crate::wheel::name::WheelName;
use crate::wheel::rewrite::rewrite_wheel;

const BUILD_SCRIPT: &str = include_str!("build_wheels.py");

/// A local package's wheel in the cache.
#[derive(Debug, Clone)]
pub struct LocalWheel {
    pub name: PackageName,
    pub dir: String,
    pub file: Utf8PathBuf,
    pub sha256: Sha256,
    /// False when this run built it.
    pub cached: bool,
}

/// What [`provide`] did: the keys it built and how long the build image and builds took.
#[derive(Debug, Default)]
pub struct Built {
    pub keys: BTreeSet<String>,
    /// How many wheels came from the shared cache instead of a build.
    pub shared: usize,
    pub build_image: Option<(String, Duration)>,
    pub took: Option<Duration>,
}

pub fn cache(repo: &Repo) -> WheelCache {
    WheelCache::new(repo.cache.join("wheels"))
}

/// Builds every job whose wheel is not cached (each key once), one container per Python.
pub fn provide(session: &Session, jobs: &[&Job]) -> Result<Built> {
    let cache = cache(session.repo()?);
    let mut built = Built::default();
    let mut missing: BTreeMap<u32, Vec<&Job>> = BTreeMap::new();
    for job in jobs {
        // A cached wheel is checked against its record here; a bad one is built again.
        if cache.get(&job.key)?.is_none() && built.keys.insert(job.key.clone()) {
            missing.entry(job.minor).or_default().push(job);
        }
    }
    if let Some(shared) = session.shared() {
        for jobs in missing.values_mut() {
            jobs.retain(|job| {
                let taken = from_shared(session, shared, &cache, job).unwrap_or(false);
                if taken {
                    built.keys.remove(&job.key);
                    built.shared += 1;
                }
                !taken
            });
        }
    }
    let t1 = Instant::now();
    for (minor, jobs) in missing.into_iter().filter(|(_, jobs)| !jobs.is_empty()) {
        let t0 = Instant::now();
        let image = session.build_image(minor)?;
        built.build_image = Some((image.clone(), t0.elapsed()));
        let tmp = session.repo()?.scratch("wheels")?;
        let result = build_in(session, &image, &tmp, &cache, &jobs);
        let _ = fs::remove_dir_all(&tmp);
        result?;
        if let Some(shared) = session.shared() {
            for job in &jobs {
                if let Err(e) = to_shared(session, shared, &cache, job) {
                    session
                        .ui
                        .line(&format!("note: the shared cache did not take {}: {e:#}", job.name));
                }
            }
        }
        built.took = Some(t1.elapsed());
    }
    Ok(built)
}

/// Takes a job's wheel (and its bytecode) from the shared cache into the local one; true when
/// it was there.
fn from_shared(
    session: &Session,
    shared: &super::shared::Shared,
    cache: &WheelCache,
    job: &Job,
) -> Result<bool> {
    let Some(found) = shared.get_wheel(&job.key)? else { return Ok(false) };
    let entry = cache.put(&job.key, &found.file, &found.wheel)?;
    super::assemble::bytecode::store_tar(session, job.minor, VENV, &entry.sha256, &found.bytecode)?;
    Ok(true)
}

/// Publishes a job's wheel and bytecode to the shared cache.
fn to_shared(
    session: &Session,
    shared: &super::shared::Shared,
    cache: &WheelCache,
    job: &Job,
) -> Result<()> {
    let entry = cache.get(&job.key)?.context("a wheel just built")?;
    let wheel = fs::read(&entry.file)?;
    let bytecode = super::assemble::bytecode::tar_of(session, job.minor, VENV, &entry.sha256)?
        .unwrap_or_default();
    let file = entry.file.file_name().unwrap_or_default();
    shared.put_wheel(&job.key, file, &wheel, &bytecode)
}

/// The cached wheel of each job; `built` says which this run made.
pub fn wheels(repo: &Repo, jobs: &[Job], built: &BTreeSet<String>) -> Result<Vec<LocalWheel>> {
    let cache = cache(repo);
    jobs.iter()
        .map(|j| {
            let entry = cache.get(&j.key)?;
            let entry =
                entry.with_context(|| format!("wheel for {} missing from the cache", j.name))?;
            let cached = !built.contains(&j.key);
            let (file, sha256) = (entry.file, entry.sha256);
            Ok(LocalWheel { name: j.name.clone(), dir: j.dir.clone(), file, sha256, cached })
        })
        .collect()
}

/// Writes each job's build tree (a private copy: backends may write next to the sources),
/// builds them, then fixes each wheel's metadata and caches it.
fn build_in(
    session: &Session,
    image: &str,
    tmp: &Utf8Path,
    cache: &WheelCache,
    jobs: &[&Job],
) -> Result<()> {
    let repo = session.repo()?;
    let mut specs = Vec::new();
    for (n, job) in jobs.iter().enumerate() {
        let pkg =
            repo.graph.packages.iter().find(|p| p.dir == job.dir).context("a job's package")?;
        let tree = sources::tree(&repo.root, pkg)?;
        sources::write(&tree, &tmp.join("src").join(n.to_string()))?;
        specs.push(BuildSpec {
            what: format!("{} ({})", job.name, job.dir),
            name: job.name.clone(),
            env: job.env.clone(),
            backend: job.backend.clone(),
            backend_path: job.backend_path.clone(),
            site: Some(format!("{VENV}/lib/python3.{}/site-packages", job.minor)),
            vars: job
                .vcs_version
                .iter()
                .flat_map(|v| {
                    [
                        "SETUPTOOLS_SCM_PRETEND_VERSION",
                        "PDM_BUILD_SCM_VERSION",
                        "POETRY_DYNAMIC_VERSIONING_BYPASS",
                        "UV_DYNAMIC_VERSIONING_BYPASS",
                    ]
                    .map(|k| (k.to_string(), v.clone()))
                })
                .collect(),
        });
    }
    fs::create_dir_all(tmp.join("pyc"))?;
    let wheels = run(session, image, tmp, &specs)?;
    for (n, (job, host)) in jobs.iter().zip(wheels).enumerate() {
        let file = host.file_name().unwrap_or_default();
        let fixed = rewrite_wheel(&fs::read(&host)?, &job.pins)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("fix the metadata of {file}"))?;
        let entry = cache
            .put(&job.key, file, &fixed)
            .with_context(|| format!("store the wheel of {}", job.name))?;
        // Its bytecode came out of the same container: no second run at image time.
        let pyc = tmp.join("pyc").join(n.to_string());
        let mut tree = crate::oci::layer::Tree::new();
        if pyc.is_dir() {
            super::assemble::bytecode::collect_pyc(&pyc, &pyc, &mut tree)?;
        }
        super::assemble::bytecode::store(session, job.minor, VENV, &entry.sha256, &tree)?;
    }
    Ok(())
}

/// One source tree to build into a wheel, at `<tmp>/src/<n>`.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// For messages: `name (folder)`, or the sdist's file name.
    pub what: String,
    pub name: PackageName,
    pub env: LockedEnv,
    pub backend: String,
    pub backend_path: Vec<String>,
    /// Where the wheel's modules will be installed (`/opt/venv/lib/python3.11/site-packages`),
    /// to compile their bytecode during the build; `None` for none.
    pub site: Option<String>,
    /// Variables of this build only (the version VCS-versioning plugins are told).
    pub vars: Vec<(String, String)>,
}

/// Runs build_wheels.py in `image` over the trees `<tmp>/src/<n>`, offline, each with the
/// Python of its environment; returns each wheel's host path, checked.
pub fn run(
    session: &Session,
    image: &str,
    tmp: &Utf8Path,
    specs: &[BuildSpec],
) -> Result<Vec<Utf8PathBuf>> {
    let jobs: Vec<serde_json::Value> = specs
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            serde_json::json!({
                "src": format!("/work/src/{n}"),
                "out": format!("/work/out/{n}"),
                "python": format!("{ENVS}/{}/bin/python", spec.env.id()),
                "backend": spec.backend,
                "backend_path": spec.backend_path,
                "pyc": spec.site.as_ref().map(|_| format!("/work/pyc/{n}")),
                "site": spec.site,
                "env": spec.vars.iter().cloned().collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    fs::create_dir_all(tmp.join("out"))?;
    fs::write(tmp.join("jobs.json"), serde_json::to_string(&jobs)?)?;
    fs::write(tmp.join("build_wheels.py"), BUILD_SCRIPT)?;
    // Offline, only the copies mounted: a build can neither fetch nor touch the repo.
    let container = Container::offline(image)
        .user(&owner_of(tmp)?)
        .env("HOME=/tmp")
        .mount(tmp, "/work")
        .command(["python3", "/work/build_wheels.py", "/work/jobs.json"]);
    let output = session
        .engine()?
        .output(&session.sh, &container)
        .context("run the wheel builds in the build image")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let failures = failed_builds(&stderr);
        let Some((n, tail)) = failures.first() else {
            bail!("the wheel build container failed:\n{}", stderr.trim());
        };
        let spec = n.parse::<usize>().ok().and_then(|n| specs.get(n)).context("a failed build")?;
        let compiler = ["gcc", "g++", "Python.h", "cc1", "command 'cc'", "linker", "No such file"]
            .iter()
            .any(|w| tail.contains(w));
        let hint = if compiler {
            "\nIt looks like a compiler or headers were missing: list the Debian packages it needs \
             in docker/images.toml, [toolchain] system_packages = [\"gcc\", \"python3-dev\", …]"
        } else {
            ""
        };
        bail!(
            "build a wheel of {} with {}: the build backend failed; last lines of its output:\n{tail}{hint}",
            spec.what,
            spec.backend
        );
    }
    let mut wheels: Vec<Option<Utf8PathBuf>> = vec![None; specs.len()];
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("read build result {line:?}"))?;
        let (Some(n), Some(wheel)) = (v["job"].as_u64(), v["wheel"].as_str()) else { continue };
        let n = usize::try_from(n)?;
        let spec = specs.get(n).with_context(|| format!("unexpected build result {line:?}"))?;
        wheels[n] = Some(built_wheel(tmp, n, wheel, spec)?);
    }
    wheels
        .into_iter()
        .zip(specs)
        .map(|(w, spec)| {
            w.with_context(|| format!("build {}: the build reported no wheel", spec.what))
        })
        .collect()
}

/// The host path of the wheel build `n` reported, after checking that the report cannot point
/// anywhere else: a plain wheel file name of this build's package, directly in its out
/// folder, a regular file (not a symlink to a host file).
fn built_wheel(tmp: &Utf8Path, n: usize, reported: &str, spec: &BuildSpec) -> Result<Utf8PathBuf> {
    let file = reported.strip_prefix(&format!("/work/out/{n}/")).filter(|f| !f.contains('/'));
    let name = file.and_then(WheelName::parse);
    let (Some(file), Some(name)) = (file, name) else {
        bail!("the build of {} reported {reported:?}, not a wheel in its out folder", spec.what);
    };
    if name.name != spec.name {
        bail!("the build of {} made a wheel of another package: {file}", spec.what);
    }
    let out = tmp.join("out").join(n.to_string());
    let host = out.join(file);
    if !fs::symlink_metadata(&out)?.is_dir() || !fs::symlink_metadata(&host)?.file_type().is_file()
    {
        bail!("the build of {} left {file}, which is not a regular file", spec.what);
    }
    Ok(host)
}

/// `(n, tail)` of each failed build reported by build_wheels.py.
fn failed_builds(stderr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in stderr.lines() {
        if let Some(dir) = line.strip_prefix("xtask-build-failed ") {
            current = Some((dir.to_string(), Vec::new()));
        } else if line == "xtask-build-end" {
            if let Some((dir, lines)) = current.take() {
                out.push((dir, lines.join("\n")));
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn failed_builds_are_read_from_stderr() {
        let stderr = "noise\nxtask-build-failed 3\nTraceback\nValueError: bad\nxtask-build-end\n";
        assert_eq!(
            super::failed_builds(stderr),
            vec![("3".to_string(), "Traceback\nValueError: bad".to_string())]
        );
    }
}
