//! `cargo xtask bench affected`: `affected` on the sample repo and on 1,000 packages × 10,000 changes.

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;
use xshell::{cmd, Shell};

use super::{copy_sample, release_binary, report, timed};
use crate::cli::GenRepoArgs;

pub fn run(sh: &Shell, root: &Utf8Path, runs: usize) -> Result<()> {
    let bin = release_binary(sh, root)?;

    let sample = root.join("target/bench/affected-sample");
    copy_sample(root, &sample)?;
    commit(sh, &sample, "sample")?;
    let lib = sample.join("libs/hermes/hermes.stillwater/hermes/stillwater/__init__.py");
    fs::write(&lib, fs::read_to_string(&lib)? + "\n# edit\n")?;
    commit(sh, &sample, "edit stillwater")?;
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        times.push(timed(cmd!(sh, "{bin} --repo {sample} affected --since HEAD~1 --json"))?.0);
    }
    report("affected, sample repo, one lib edited", times, Some(100));

    let big = root.join("target/bench/affected-1000");
    if big.exists() {
        sh.remove_path(&big)?;
    }
    crate::commands::gen_repo::run(&GenRepoArgs {
        out: big.clone(),
        libs: 800,
        projects: 200,
        depth: 8,
        seed: 1,
    })?;
    commit(sh, &big, "generated")?;
    // 10,000 changed files: every manifest touched (so the old graph is read from git too) and
    // nine new files in each of the 1,000 packages.
    let mut changed = 0;
    for entry in walkdirs(&big)? {
        let manifest = entry.join("pyproject.toml");
        fs::write(&manifest, fs::read_to_string(&manifest)? + "\n# touched\n")?;
        changed += 1;
        for n in 0..9 {
            fs::write(entry.join(format!("data_{n}.txt")), format!("{n}\n"))?;
            changed += 1;
        }
    }
    commit(sh, &big, "10,000 changes")?;
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        times.push(timed(cmd!(sh, "{bin} --repo {big} affected --since HEAD~1 --json"))?.0);
    }
    report(&format!("affected, 1,000 packages, {changed} changed files"), times, Some(500));
    Ok(())
}

fn commit(sh: &Shell, repo: &Utf8Path, message: &str) -> Result<()> {
    if !repo.join(".git").exists() {
        cmd!(sh, "git -C {repo} init -q -b main").run()?;
    }
    cmd!(sh, "git -C {repo} add -A").quiet().run()?;
    cmd!(sh, "git -C {repo} -c user.name=bench -c user.email=bench@example.org -c commit.gpgsign=false commit -q -m {message}")
        .quiet()
        .run()
        .with_context(|| format!("commit in {repo}"))
}

/// Package folders of a generated repo (`libs/layer*/lib*`, `projects/app*`).
fn walkdirs(root: &Utf8Path) -> Result<Vec<camino::Utf8PathBuf>> {
    let mut out = Vec::new();
    for top in ["libs", "projects"] {
        for entry in root.join(top).read_dir_utf8()? {
            let entry = entry?;
            if entry.path().join("pyproject.toml").is_file() {
                out.push(entry.into_path());
            } else if entry.file_type()?.is_dir() {
                for inner in entry.path().read_dir_utf8()? {
                    let inner = inner?;
                    if inner.path().join("pyproject.toml").is_file() {
                        out.push(inner.into_path());
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}
