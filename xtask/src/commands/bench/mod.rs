//! `cargo xtask bench`: committed benchmarks that time the release binary against the goals.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;
use xshell::{cmd, Shell};

use crate::cli::{Bench, BenchArgs};
use crate::session::Session;

mod affected;
mod fetch;
mod graph;
mod images;
mod wheels;

/// Benchmarks always run on this repo (its sample and generated repos), whatever `--repo` says.
pub fn run(session: &Session, args: &BenchArgs) -> Result<()> {
    let (sh, root) = (&session.sh, &crate::project_root());
    match args.bench {
        Bench::Graph { packages, runs } => graph::run(sh, root, packages, runs),
        Bench::Wheels { runs } => wheels::run(sh, root, runs),
        Bench::Images { runs } => images::run(session, root, runs),
        Bench::Affected { runs } => affected::run(sh, root, runs),
        Bench::Fetch { runs } => fetch::run(sh, root, runs),
    }
}

/// Median, min and max of timed runs.
pub(crate) fn summarize(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn release_binary(sh: &Shell, root: &Utf8Path) -> Result<camino::Utf8PathBuf> {
    cmd!(sh, "cargo build --quiet --release --package xtask")
        .run()
        .context("build the release xtask")?;
    Ok(root.join("target/release/xtask"))
}

/// Prints one figure: median (min, max) against a goal in milliseconds.
pub(crate) fn report(what: &str, times: Vec<Duration>, goal_ms: Option<u64>) {
    let runs = times.len();
    let (median, min, max) = summarize(times);
    let verdict = match goal_ms {
        Some(goal) if median <= Duration::from_millis(goal) => format!("; goal <= {goal} ms: met"),
        Some(goal) => format!("; goal <= {goal} ms: MISSED"),
        None => String::new(),
    };
    println!(
        "{what}, {runs} run(s): median {} (min {}, max {}){verdict}",
        ms(median),
        ms(min),
        ms(max)
    );
}

/// Copies the sample monorepo (libs, projects, docker, root manifest) to `to`, fresh,
/// leaving caches behind.
pub(crate) fn copy_sample(root: &Utf8Path, to: &Utf8Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to)?;
    }
    for part in ["libs", "projects", "docker"] {
        copy_tree(&root.join(part), &to.join(part))?;
    }
    fs::copy(root.join("pyproject.toml"), to.join("pyproject.toml"))?;
    Ok(())
}

pub(crate) fn copy_tree(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in from.read_dir_utf8().with_context(|| format!("read {from}"))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(entry.path(), &to.join(name))?;
        } else {
            fs::copy(entry.path(), to.join(name))?;
        }
    }
    Ok(())
}

/// Runs a command once and returns its wall time; fails with its stderr when it fails.
pub(crate) fn timed(cmd: xshell::Cmd<'_>) -> Result<(Duration, String)> {
    let start = Instant::now();
    let out = cmd.quiet().ignore_status().output()?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((elapsed, String::from_utf8_lossy(&out.stdout).into_owned()))
}
