//! `cargo xtask lock`: `poetry lock` with the pinned Poetry in the build image, for one or all packages.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use crate::cli::LockArgs;
use crate::engine::Engine;
use crate::model::{self, Kind};
use crate::toolchain;

pub fn run(root: &Utf8Path, args: &LockArgs) -> Result<()> {
    let repo = model::load(root)?;
    let g = &repo.graph;
    let targets: Vec<usize> = if args.all {
        (0..g.packages.len()).filter(|&i| g.packages[i].kind != Kind::Config).collect()
    } else if args.packages.is_empty() {
        bail!("name the packages to lock (paths or names), or pass --all");
    } else {
        args.packages.iter().map(|q| g.find(q).map_err(anyhow::Error::msg)).collect::<Result<_>>()?
    };
    let sh = Shell::new()?;
    let engine = Engine::connect(&sh)?;
    let image = toolchain::ensure_build_image(&sh, &engine, &repo)?;
    let poetry_cache = repo.cache.join("poetry");
    std::fs::create_dir_all(&poetry_cache).with_context(|| format!("create {poetry_cache}"))?;
    for i in targets {
        let pkg = &g.packages[i];
        let t0 = Instant::now();
        let host_dir = repo.root.join(&pkg.dir);
        let inside = if pkg.dir == "." { "/repo".to_string() } else { format!("/repo/{}", pkg.dir) };
        let user = toolchain::owner_of(&host_dir)?;
        let (bin, pip, poetry) = (&engine.bin, crate::pipenv::docker_args(), crate::pipenv::poetry_args());
        // The repo is read-only but for the package's own folder, where Poetry writes poetry.lock.
        // It sits at /repo on every machine, so the file:// URLs Poetry writes are the same.
        let repo_mount = format!("{}:/repo:ro", repo.root);
        let dir_mount = format!("{host_dir}:{inside}");
        let cache_mount = format!("{poetry_cache}:/tmp/poetry-cache");
        cmd!(sh, "{bin} run --rm --user {user} {pip...} {poetry...} -e POETRY_CACHE_DIR=/tmp/poetry-cache -v {cache_mount} -v {repo_mount} -v {dir_mount} -w {inside} {image} poetry lock --no-interaction")
            .quiet()
            .run()
            .with_context(|| format!("lock {} with Poetry {}", pkg.dir, repo.config.toolchain.poetry))?;
        println!("locked {} in {:.1} s", pkg.dir, t0.elapsed().as_secs_f64());
    }
    Ok(())
}
