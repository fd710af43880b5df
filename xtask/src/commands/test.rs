//! `cargo xtask test`: brings up the engine, base image and a registry, then runs every test.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use super::up;
use crate::engine::Engine;
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
    // The multi-platform test unpacks an arm64 Debian with debootstrap's first stage.
    up::ensure_tool(sh, "debootstrap", "debootstrap")?;
    println!(
        "engine, {} and a registry at {registry} ready in {:.1} s",
        images.join(", "),
        started.elapsed().as_secs_f64()
    );
    // Each run leaves the disk as it found it: scratch folders of earlier runs go, and so do
    // the images this run makes (a few GiB by the end otherwise, which filled a CI disk).
    let scratch = root.join("target/e2e");
    fs_err::remove_dir_all(&scratch).or_else(ignore_missing)?;
    let engines = Snapshot::take(sh);
    // The guards stop the daemons this run started when it returns, so none outlives CI's run.
    let tested = cmd!(sh, "cargo test --workspace --locked")
        .env("XTASK_TEST_REGISTRY", &registry)
        .run()
        .context("run the test suite");
    let removed = engines.restore(sh);
    println!("removed {removed} image(s) the tests made");
    tested?;
    fs_err::remove_dir_all(&scratch).or_else(ignore_missing)?;
    Ok(())
}

fn ignore_missing(e: std::io::Error) -> std::io::Result<()> {
    match e.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(e),
    }
}

/// The images each engine (Docker, and Podman when installed) held before the tests.
struct Snapshot(Vec<(Engine, BTreeSet<String>)>);

impl Snapshot {
    fn take(sh: &Shell) -> Snapshot {
        let engines =
            [crate::engine::binary(), "podman".into()].into_iter().collect::<BTreeSet<_>>();
        let snapshot = engines.into_iter().filter_map(|bin| {
            let engine = Engine::connect_to(sh, bin).ok()?;
            let images = engine.images(sh).ok()?;
            Some((engine, images))
        });
        Snapshot(snapshot.collect())
    }

    /// Removes the images made since `take`, but for the toolchain's build images (a cache
    /// that later runs reuse); returns how many.
    fn restore(&self, sh: &Shell) -> usize {
        let mut removed = 0;
        for (engine, before) in &self.0 {
            let Ok(after) = engine.images(sh) else { continue };
            let new = after.difference(before).filter_map(|line| line.split_once(' '));
            let (untagged, tagged): (Vec<_>, Vec<_>) = new
                .filter(|(name, _)| !name.starts_with("xtask-build:"))
                .partition(|(name, _)| name.starts_with("<none>"));
            let tagged: Vec<String> = tagged.iter().map(|(name, _)| name.to_string()).collect();
            engine.remove(sh, &tagged);
            // Untagged images left over (dangling ones, and intermediate ones of the legacy
            // builder whose child is gone) go by id.
            let untagged: Vec<String> = untagged.iter().map(|(_, id)| id.to_string()).collect();
            engine.remove(sh, &untagged);
            removed += tagged.len();
        }
        removed
    }
}
