//! `cargo xtask wheels <project>`: installable wheels of every local package of a closure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;
use xshell::{cmd, Shell};

use super::print_json;
use crate::cli::WheelsArgs;
use crate::engine::Engine;
use crate::model::{self, manifest::MAIN, Repo};
use crate::toolchain;
use crate::wheel::{cache::content_hash, cache::WheelCache, rewrite::rewrite_wheel, sha256_hex};

/// Bumped when the rewrite changes what it writes, so old cache entries are not reused.
const REWRITE_VERSION: &str = "rewrite-1";
const BUILD_SCRIPT: &str = include_str!("../wheel/build_wheels.py");

#[derive(Serialize, Clone)]
pub struct WheelRow {
    pub package: String,
    pub path: String,
    pub file: Utf8PathBuf,
    pub sha256: String,
    pub cached: bool,
}

#[derive(Serialize)]
struct WheelsJson<'a> {
    wheels: &'a [WheelRow],
}

pub fn run(root: &Utf8Path, args: &WheelsArgs) -> Result<()> {
    let start = Instant::now();
    let repo = model::load(root)?;
    let rows = ensure(&repo, &args.project, !args.json)?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("create {out}"))?;
        for r in &rows {
            let dest = out.join(r.file.file_name().unwrap_or_default());
            std::fs::copy(&r.file, &dest).with_context(|| format!("copy {} to {dest}", r.file))?;
        }
    }
    if args.json {
        print_json(&WheelsJson { wheels: &rows })?;
    } else {
        let built = rows.iter().filter(|r| !r.cached).count();
        println!(
            "{} wheels ({built} built, {} cached) in {:.2} s",
            rows.len(),
            rows.len() - built,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// One local package to provide: its folder, name, version and the pins for its path deps.
pub struct Job {
    pub dir: String,
    pub name: String,
    pub version: String,
    pub key: String,
    pins: BTreeMap<String, String>,
}

/// Wheels for the closure of `project`, from the cache or built in the build image.
pub fn ensure(repo: &Repo, project: &str, verbose: bool) -> Result<Vec<WheelRow>> {
    let idx = repo.graph.find(project).map_err(anyhow::Error::msg)?;
    let jobs = plan(repo, idx)?;
    let built = build_missing(repo, &jobs, verbose)?;
    rows(repo, &jobs, &built, verbose)
}

/// The wheel jobs of a package's main closure, with their cache keys; nothing is built.
pub fn plan(repo: &Repo, root_idx: usize) -> Result<Vec<Job>> {
    let g = &repo.graph;
    let closure = g.closure(root_idx, &[]);
    super::report(&closure.problems)?;
    let toolchain_id = toolchain::identity(repo)?;
    let mut jobs = Vec::new();
    for (idx, _) in &closure.order {
        let pkg = &g.packages[*idx];
        let version = pkg.version.clone().with_context(|| {
            format!(
                "{}: no static version; xtask pins local dependencies by version, so set one",
                pkg.manifest_path()
            )
        })?;
        let mut pins = BTreeMap::new();
        for e in g.edges.iter().filter(|e| e.from == *idx && g.dep(e).group == MAIN) {
            let to = &g.packages[e.to];
            pins.insert(to.name.clone(), to.version.clone().unwrap_or_default());
        }
        let hash = content_hash(&repo.root.join(&pkg.dir))?;
        let pin_text: String = pins.iter().map(|(n, v)| format!("{n}=={v};")).collect();
        let key = sha256_hex(
            format!("{hash}\n{toolchain_id}\n{pin_text}\n{version}\n{REWRITE_VERSION}").as_bytes(),
        )[..32]
            .to_string();
        jobs.push(Job { dir: pkg.dir.clone(), name: pkg.name.clone(), version, key, pins });
    }
    Ok(jobs)
}

pub fn cache(repo: &Repo) -> WheelCache {
    WheelCache::new(repo.cache.join("wheels"))
}

/// Builds, in one container, every job whose wheel is not cached (each key once); returns
/// the keys it built.
pub fn build_missing(repo: &Repo, jobs: &[Job], verbose: bool) -> Result<BTreeSet<String>> {
    build_missing_refs(repo, &jobs.iter().collect::<Vec<_>>(), verbose)
}

/// [`build_missing`] over jobs gathered from several projects.
pub fn build_missing_refs(repo: &Repo, jobs: &[&Job], verbose: bool) -> Result<BTreeSet<String>> {
    let cache = cache(repo);
    let mut seen = BTreeSet::new();
    let missing: Vec<&Job> = jobs
        .iter()
        .copied()
        .filter(|j| cache.get(&j.key).is_none() && seen.insert(j.key.clone()))
        .collect();
    if !missing.is_empty() {
        build(repo, &cache, &missing, verbose)?;
    }
    Ok(seen)
}

/// The cached wheel of each job, with its hash.
pub fn rows(
    repo: &Repo,
    jobs: &[Job],
    built: &BTreeSet<String>,
    verbose: bool,
) -> Result<Vec<WheelRow>> {
    let cache = cache(repo);
    jobs.iter()
        .map(|j| {
            let file = cache
                .get(&j.key)
                .with_context(|| format!("wheel for {} missing from the cache", j.name))?;
            let sha256 = crate::wheel::cache::sha256_of(&file)?;
            let cached = !built.contains(&j.key);
            if verbose {
                println!(
                    "  {:7} {} ({})",
                    if cached { "cached" } else { "built" },
                    file.file_name().unwrap_or_default(),
                    j.dir
                );
            }
            Ok(WheelRow { package: j.name.clone(), path: j.dir.clone(), file, sha256, cached })
        })
        .collect()
}

fn build(repo: &Repo, cache: &WheelCache, jobs: &[&Job], verbose: bool) -> Result<()> {
    let sh = Shell::new()?;
    let engine = Engine::connect(&sh)?;
    let t0 = Instant::now();
    let image = toolchain::ensure_build_image(&sh, &engine, repo)?;
    if verbose {
        println!("  build image {image} ({:.2} s)", t0.elapsed().as_secs_f64());
    }
    let tmp = repo.scratch("wheels")?;
    let result = build_in(&sh, &engine, repo, &image, &tmp, cache, jobs, verbose);
    let _ = sh.remove_path(&tmp);
    result
}

#[allow(clippy::too_many_arguments)]
fn build_in(
    sh: &Shell,
    engine: &Engine,
    repo: &Repo,
    image: &str,
    tmp: &Utf8Path,
    cache: &WheelCache,
    jobs: &[&Job],
    verbose: bool,
) -> Result<()> {
    let t0 = Instant::now();
    let user = toolchain::owner_of(tmp)?;
    let src = format!("{}:/repo:ro", repo.root);
    let out = format!("{tmp}:/out");
    let dirs: Vec<String> = jobs
        .iter()
        .map(|j| if j.dir == "." { "/repo".into() } else { format!("/repo/{}", j.dir) })
        .collect();
    let bin = &engine.bin;
    // Offline, sources read-only: a build can neither fetch nor write into the repo.
    let output = cmd!(sh, "{bin} run --rm --network none --user {user} -e HOME=/tmp -v {src} -v {out} {image} python3 -c {BUILD_SCRIPT} /out {dirs...}")
        .quiet()
        .ignore_status()
        .output()
        .context("run the wheel builds in the build image")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let failures = failed_builds(&stderr);
        let Some((dir, tail)) = failures.first() else {
            bail!("the wheel build container failed:\n{}", stderr.trim());
        };
        let dir = dir.strip_prefix("/repo/").unwrap_or(dir);
        let name = jobs.iter().find(|j| j.dir == dir).map_or(dir, |j| j.name.as_str());
        bail!("build wheel for {name} ({dir}): the build backend failed; last lines of its output:\n{tail}");
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("read build result {line:?}"))?;
        let (Some(dir), Some(wheel)) = (v["dir"].as_str(), v["wheel"].as_str()) else { continue };
        let dir = dir.strip_prefix("/repo/").unwrap_or(if dir == "/repo" { "." } else { dir });
        let job = jobs
            .iter()
            .find(|j| j.dir == dir)
            .with_context(|| format!("unexpected build result for {dir}"))?;
        let host = tmp.join(wheel.strip_prefix("/out/").unwrap_or(wheel));
        let bytes = std::fs::read(&host).with_context(|| format!("read built wheel {host}"))?;
        let fixed =
            rewrite_wheel(&bytes, &job.pins).map_err(anyhow::Error::msg).with_context(|| {
                format!("fix the metadata of {}", host.file_name().unwrap_or_default())
            })?;
        cache
            .put(&job.key, host.file_name().unwrap_or_default(), &fixed)
            .with_context(|| format!("store the wheel of {}", job.name))?;
    }
    if verbose {
        println!("  built {} wheel(s) offline in {:.2} s", jobs.len(), t0.elapsed().as_secs_f64());
    }
    Ok(())
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
