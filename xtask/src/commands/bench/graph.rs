//! `cargo xtask bench graph`: `graph --json` on a generated 1,000-package repo.

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use super::{release_binary, report, timed};
use crate::cli::GenRepoArgs;

pub fn run(sh: &Shell, root: &Utf8Path, packages: usize, runs: usize) -> Result<()> {
    let bin = release_binary(sh, root)?;
    let repo = root.join(format!("target/bench/graph-{packages}"));
    if repo.exists() {
        sh.remove_path(&repo)?;
    }
    let projects = packages / 5;
    let gen =
        GenRepoArgs { out: repo.clone(), libs: packages - projects, projects, depth: 8, seed: 1 };
    crate::commands::gen_repo::run(&gen)?;
    // One untimed run warms the page cache, as a developer's second call would be.
    cmd!(sh, "{bin} --repo {repo} graph --json")
        .ignore_stdout()
        .run()
        .context("graph --json on the generated repo")?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        times.push(timed(cmd!(sh, "{bin} --repo {repo} graph --json"))?.0);
    }
    report(&format!("graph --json, {packages} packages"), times, Some(150));
    Ok(())
}
