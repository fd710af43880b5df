//! `cargo xtask test`: brings up the engine, base image and a registry, then runs every test.

use std::time::Instant;

use anyhow::{Context, Result};
use xshell::cmd;

use super::up;
use crate::session::Session;

pub fn run(session: &Session) -> Result<()> {
    let root = crate::project_root();
    let sh = &session.sh;
    sh.change_dir(&root);
    let started = Instant::now();
    // The fixtures run on Python 3.9, 3.11 and 3.13: each gets its image.
    let pythons = ["3.9", "3.13"].map(String::from);
    let (_daemon, images) = up::engine_and_base_images(session, &pythons)?;
    let (_registry, registry) = up::start_registry(sh, &root)?;
    // The OCI layouts xtask writes are checked by another tool; Podman is the other engine.
    up::ensure_tool(sh, "skopeo", "skopeo")?;
    up::ensure_tool(sh, "podman", "podman")?;
    println!(
        "engine, {} and a registry at {registry} ready in {:.1} s",
        images.join(", "),
        started.elapsed().as_secs_f64()
    );
    // The guards stop the daemons this run started when it returns, so none outlives CI's run.
    cmd!(sh, "cargo test --workspace --locked")
        .env("XTASK_TEST_REGISTRY", &registry)
        .run()
        .context("run the test suite")?;
    Ok(())
}
