//! `cargo xtask bench`: committed benchmarks that time the release binary against the goals.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use crate::cli::{Bench, BenchArgs, GenRepoArgs};

pub fn run(root: &Utf8Path, args: &BenchArgs) -> Result<()> {
    let sh = Shell::new()?;
    match args.bench {
        Bench::Graph { packages, runs } => graph(&sh, root, packages, runs),
    }
}

/// Median, min and max of timed runs.
fn summarize(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn release_binary(sh: &Shell, root: &Utf8Path) -> Result<camino::Utf8PathBuf> {
    cmd!(sh, "cargo build --quiet --release --package xtask").run().context("build the release xtask")?;
    Ok(root.join("target/release/xtask"))
}

fn graph(sh: &Shell, root: &Utf8Path, packages: usize, runs: usize) -> Result<()> {
    let bin = release_binary(sh, root)?;
    let repo = root.join(format!("target/bench/graph-{packages}"));
    if repo.exists() {
        sh.remove_path(&repo)?;
    }
    let projects = packages / 5;
    let gen = GenRepoArgs { out: repo.clone(), libs: packages - projects, projects, depth: 8, seed: 1 };
    super::gen_repo::run(&gen)?;
    // One untimed run warms the page cache, as a developer's second call would be.
    cmd!(sh, "{bin} --repo {repo} graph --json").ignore_stdout().run().context("graph --json on the generated repo")?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        cmd!(sh, "{bin} --repo {repo} graph --json").quiet().ignore_stdout().run()?;
        times.push(start.elapsed());
    }
    let (median, min, max) = summarize(times);
    let verdict = if median <= Duration::from_millis(150) { "met" } else { "MISSED" };
    println!(
        "graph --json, {packages} packages, {runs} runs: median {} (min {}, max {}); goal <= 150 ms: {verdict}",
        ms(median),
        ms(min),
        ms(max)
    );
    Ok(())
}
