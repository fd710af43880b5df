//! `cargo xtask test`: brings up the engine, base image and a registry, then runs every test.

use std::time::Instant;

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use super::up;

pub fn run(root: &Utf8Path) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let started = Instant::now();
    let (_daemon, image) = up::engine_and_base_image(&sh, root)?;
    let (_registry, registry) = up::start_registry(&sh, root)?;
    println!(
        "engine, {image} and a registry at {registry} ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The guards stop the daemons this run started when it returns, so none outlives CI's run.
    cmd!(sh, "cargo test --workspace --locked")
        .env("XTASK_TEST_REGISTRY", &registry)
        .run()
        .context("run the test suite")?;
    Ok(())
}
