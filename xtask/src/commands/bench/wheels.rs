//! `cargo xtask bench wheels`: cold, warm and edit-one-lib `wheels` for projects/gw-iaas/clients.

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use fs_err as fs;
use xshell::{cmd, Shell};

use super::{copy_sample, release_binary, report, timed};

const PROJECT: &str = "projects/gw-iaas/clients";

pub fn run(sh: &Shell, root: &Utf8Path, runs: usize) -> Result<()> {
    let bin = release_binary(sh, root)?;
    let repo = root.join("target/bench/wheels-repo");
    let cache = root.join("target/bench/wheels-cache");
    copy_sample(root, &repo)?;
    // The toolchain download and build image are shared with the main cache: the figures
    // are about wheels, not about the one-time toolchain fetch.
    let main_cache = root.join("target/xtask/cache");
    let _env = sh.push_env("XTASK_CACHE_DIR", &cache);
    if cache.exists() {
        sh.remove_path(&cache)?;
    }
    fs::create_dir_all(&cache)?;
    if main_cache.join("toolchain").exists() {
        let (from, to) = (main_cache.join("toolchain"), cache.join("toolchain"));
        cmd!(sh, "cp -r {from} {to}").run()?;
    }
    timed(cmd!(sh, "{bin} --repo {repo} wheels {PROJECT}")).context("prepare the build image")?;

    let mut cold = Vec::new();
    for _ in 0..3 {
        sh.remove_path(cache.join("wheels"))?;
        cold.push(timed(cmd!(sh, "{bin} --repo {repo} wheels {PROJECT}"))?.0);
    }
    report("wheels clients, cold (no wheel cached, build image present)", cold, None);

    let mut warm = Vec::new();
    for _ in 0..runs.max(1) {
        warm.push(timed(cmd!(sh, "{bin} --repo {repo} wheels {PROJECT}"))?.0);
    }
    report("wheels clients, warm (all cached)", warm, Some(150));

    let typeo = repo.join("libs/hermes/hermes.typeo/hermes/typeo/__init__.py");
    let mut edit = Vec::new();
    for n in 0..5 {
        let mut source = fs::read_to_string(&typeo)?;
        source += &format!("\n# bench edit {n}\n");
        fs::write(&typeo, source)?;
        let (elapsed, out) = timed(cmd!(sh, "{bin} --repo {repo} wheels {PROJECT} --json"))?;
        let json: serde_json::Value = serde_json::from_str(&out)?;
        let rebuilt: Vec<&str> = json["wheels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| w["cached"] == false)
            .filter_map(|w| w["package"].as_str())
            .collect();
        if rebuilt != ["hermes-typeo"] {
            bail!("after editing hermes.typeo the rebuilt wheels were {rebuilt:?}, not only hermes-typeo");
        }
        edit.push(elapsed);
    }
    report(
        "wheels clients after editing one file of hermes.typeo (only typeo rebuilt)",
        edit,
        Some(3000),
    );
    Ok(())
}
