//! Wheels: every local package of a closure built offline in the build image, its path
//! requirements pinned, cached by content.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use fs_err as fs;

use super::plan::Job;
use crate::engine::Container;
use crate::files::owner_of;
use crate::hash::Sha256;
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
    pub file: camino::Utf8PathBuf,
    pub sha256: Sha256,
    /// False when this run built it.
    pub cached: bool,
}

/// What [`provide`] did: the keys it built and how long the build image and builds took.
#[derive(Debug, Default)]
pub struct Built {
    pub keys: BTreeSet<String>,
    pub build_image: Option<(String, Duration)>,
    pub took: Option<Duration>,
}

pub fn cache(repo: &Repo) -> WheelCache {
    WheelCache::new(repo.cache.join("wheels"))
}

/// Builds, in one container, every job whose wheel is not cached (each key once).
pub fn provide(session: &Session, jobs: &[&Job]) -> Result<Built> {
    let cache = cache(session.repo()?);
    let mut built = Built::default();
    let mut missing: Vec<&Job> = Vec::new();
    for job in jobs {
        // A cached wheel is checked against its record here; a bad one is built again.
        if cache.get(&job.key)?.is_none() && built.keys.insert(job.key.clone()) {
            missing.push(job);
        }
    }
    if missing.is_empty() {
        return Ok(built);
    }
    let t0 = Instant::now();
    let image = session.build_image()?;
    built.build_image = Some((image.to_string(), t0.elapsed()));
    let t1 = Instant::now();
    let tmp = session.repo()?.scratch("wheels")?;
    let result = build_in(session, image, &tmp, &cache, &missing);
    let _ = fs::remove_dir_all(&tmp);
    result?;
    built.took = Some(t1.elapsed());
    Ok(built)
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

/// Runs build_wheels.py over the jobs' folders, offline, sources read-only, then fixes each
/// wheel's metadata and stores it in the cache.
fn build_in(
    session: &Session,
    image: &str,
    tmp: &Utf8Path,
    cache: &WheelCache,
    jobs: &[&Job],
) -> Result<()> {
    let repo = session.repo()?;
    let dirs =
        jobs.iter().map(|j| if j.dir == "." { "/repo".into() } else { format!("/repo/{}", j.dir) });
    // Offline, sources read-only: a build can neither fetch nor write into the repo.
    let container = Container::offline(image)
        .user(&owner_of(tmp)?)
        .env("HOME=/tmp")
        .mount_ro(&repo.root, "/repo")
        .mount(tmp, "/out")
        .command(
            ["python3".to_string(), "-c".into(), BUILD_SCRIPT.into(), "/out".into()]
                .into_iter()
                .chain(dirs),
        );
    let output = session
        .engine()?
        .output(&session.sh, &container)
        .context("run the wheel builds in the build image")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let failures = failed_builds(&stderr);
        let Some((dir, tail)) = failures.first() else {
            bail!("the wheel build container failed:\n{}", stderr.trim());
        };
        let dir = dir.strip_prefix("/repo/").unwrap_or(dir);
        let name = jobs.iter().find(|j| j.dir == dir).map_or(dir, |j| j.name.as_str());
        bail!("build wheel for {name} ({dir}): the build backend failed; last lines of its output:\n{tail}");
    }
    let mut built = BTreeSet::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("read build result {line:?}"))?;
        let (Some(dir), Some(wheel)) = (v["dir"].as_str(), v["wheel"].as_str()) else { continue };
        let dir = dir.strip_prefix("/repo/").unwrap_or(if dir == "/repo" { "." } else { dir });
        let job = jobs
            .iter()
            .find(|j| j.dir == dir)
            .with_context(|| format!("unexpected build result for {dir}"))?;
        let host = built_wheel(tmp, wheel, job)?;
        let file = host.file_name().unwrap_or_default();
        let fixed = rewrite_wheel(&fs::read(&host)?, &job.pins)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("fix the metadata of {file}"))?;
        cache
            .put(&job.key, file, &fixed)
            .with_context(|| format!("store the wheel of {}", job.name))?;
        built.insert(&job.dir);
    }
    if let Some(job) = jobs.iter().find(|j| !built.contains(&j.dir)) {
        bail!("build wheel for {} ({}): the build reported no wheel", job.name, job.dir);
    }
    Ok(())
}

/// The host path of the wheel a build reported, after checking that the report cannot point
/// anywhere else: a plain wheel file name of this job's package, directly in `/out`, a
/// regular file (not a symlink to a host file).
fn built_wheel(tmp: &Utf8Path, reported: &str, job: &Job) -> Result<camino::Utf8PathBuf> {
    // build_wheels.py writes the n-th build's wheel into /out/<n>/.
    let file =
        reported.strip_prefix("/out/").and_then(|rest| rest.split_once('/')).filter(|(n, f)| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !f.contains('/')
        });
    let name = file.and_then(|(_, f)| WheelName::parse(f));
    let (Some((n, file)), Some(name)) = (file, name) else {
        bail!("the build of {} reported {reported:?}, not a wheel in /out/<n>/", job.name);
    };
    if name.name != job.name {
        bail!("the build of {} made a wheel of another package: {file}", job.name);
    }
    let host = tmp.join(n).join(file);
    if !fs::symlink_metadata(tmp.join(n))?.is_dir()
        || !fs::symlink_metadata(&host)?.file_type().is_file()
    {
        bail!("the build of {} left {file}, which is not a regular file", job.name);
    }
    Ok(host)
}

/// `(dir, tail)` of each failed build reported by build_wheels.py.
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
        let stderr =
            "noise\nxtask-build-failed /repo/libs/a\nTraceback\nValueError: bad\nxtask-build-end\n";
        assert_eq!(
            super::failed_builds(stderr),
            vec![("/repo/libs/a".to_string(), "Traceback\nValueError: bad".to_string())]
        );
    }
}
