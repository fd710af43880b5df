//! `cargo xtask bench fetch`: a 40-package lock fetched cold and warm, next to `pip download`.

use std::time::Duration;

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;
use xshell::{cmd, Shell};

use super::{copy_tree, ms, release_binary, report, summarize, timed};

const FIXTURE: &str = "xtask/test_data/bench/fetch40";
const PROJECT: &str = "projects/svc";
const COLD_RUNS: usize = 3;

pub fn run(sh: &Shell, root: &Utf8Path, runs: usize) -> Result<()> {
    let bin = release_binary(sh, root)?;
    let repo = root.join("target/bench/fetch-repo");
    let cache = root.join("target/bench/fetch-cache");
    for dir in [&repo, &cache] {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
    }
    copy_tree(&root.join(FIXTURE), &repo)?;
    let _env = sh.push_env("XTASK_CACHE_DIR", &cache);
    // The first run reads the runtime images' Pythons (once per image id and cache).
    timed(cmd!(sh, "{bin} --repo {repo} fetch {PROJECT}")).context("prepare the fetch cache")?;

    let house = cache.join("wheelhouse");
    let mut cold = Vec::new();
    for _ in 0..COLD_RUNS {
        fs::remove_dir_all(&house)?;
        cold.push(timed(cmd!(sh, "{bin} --repo {repo} fetch {PROJECT}"))?.0);
    }
    let (files, bytes) = folder_size(&house)?;
    report(&format!("xtask fetch, cold ({files} files, {:.1} MB)", mb(bytes)), cold.clone(), None);
    let (median, _, _) = summarize(cold);
    println!("  = {:.1} MB/s", mb(bytes) / median.as_secs_f64());

    let warm = |what: &str| -> Result<()> {
        let mut times = Vec::new();
        for _ in 0..runs.max(1) {
            times.push(timed(cmd!(sh, "{bin} --repo {repo} fetch {PROJECT}"))?.0);
        }
        report(what, times, Some(50));
        Ok(())
    };
    warm("xtask fetch, warm, no config (Python chosen among the images)")?;
    fs::create_dir_all(repo.join("docker"))?;
    fs::write(
        repo.join("docker/images.toml"),
        "[toolchain]\npython_image = \"python:3.11-slim\"\n",
    )?;
    warm("xtask fetch, warm, [toolchain] python_image set")?;

    // The same files by pip: every hash the lock has for each pinned version (pip picks its
    // own file among them), the host's certificate settings, its own cache.
    let requirements = pip_requirements(&repo, &root.join("target/bench/fetch-pip.txt"))?;
    let (dest, pip_cache) =
        (root.join("target/bench/fetch-pip"), root.join("target/bench/pip-cache"));
    let cert =
        std::env::var("PIP_CERT").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    let pip = |fresh_cache: bool| -> Result<Duration> {
        for dir in [&dest].into_iter().chain(fresh_cache.then_some(&pip_cache)) {
            if dir.exists() {
                fs::remove_dir_all(dir)?;
            }
        }
        Ok(timed(cmd!(
            sh,
            "python3 -m pip --isolated --disable-pip-version-check --cert {cert} --cache-dir {pip_cache} download -q --no-deps --only-binary :all: --require-hashes -r {requirements} -d {dest}"
        ))?
        .0)
    };
    let cold_pip = (0..COLD_RUNS).map(|_| pip(true)).collect::<Result<Vec<_>>>()?;
    report("pip download, cold", cold_pip, None);
    let warm_pip = (0..5).map(|_| pip(false)).collect::<Result<Vec<_>>>()?;
    report("pip download, warm (its HTTP cache full)", warm_pip, None);
    println!("(medians: {} is the goal for xtask warm)", ms(Duration::from_millis(50)));
    Ok(())
}

/// The pins xtask installs (its requirements file: `name==version`, one hash), each with every
/// hash the lock has for that version, so that pip may pick its own file among them.
fn pip_requirements(repo: &Utf8Path, out: &Utf8Path) -> Result<camino::Utf8PathBuf> {
    let lock = fs::read_to_string(repo.join(PROJECT).join("poetry.lock"))?;
    let lock: toml::Value = toml::from_str(&lock)?;
    let packages = lock["package"].as_array().context("a lock without packages")?;
    let pins = fs::read_to_string(repo.join("target/xtask/requirements/svc.txt"))?;
    let mut text = String::new();
    for pin in pins.lines().filter_map(|l| l.split_whitespace().next()) {
        let (name, version) = pin.split_once("==").context("a pin")?;
        let found = packages
            .iter()
            .find(|p| p["name"].as_str() == Some(name) && p["version"].as_str() == Some(version));
        let files = found.and_then(|p| p["files"].as_array()).context("a pin not in the lock")?;
        text += pin;
        for f in files {
            text += &format!(" --hash={}", f["hash"].as_str().unwrap_or_default());
        }
        text += "\n";
    }
    fs::write(out, text)?;
    Ok(out.to_owned())
}

fn folder_size(dir: &Utf8Path) -> Result<(usize, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for entry in dir.read_dir_utf8()? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files += 1;
            bytes += entry.metadata()?.len();
        }
    }
    Ok((files, bytes))
}

#[allow(clippy::cast_precision_loss)] // sizes for people
fn mb(n: u64) -> f64 {
    n as f64 / 1e6
}
