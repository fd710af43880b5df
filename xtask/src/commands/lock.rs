//! `cargo xtask lock`: `poetry lock` with the pinned Poetry in the build image, and the toolchain lock.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use fs_err as fs;

use crate::cli::LockArgs;
use crate::engine::Container;
use crate::files::owner_of;
use crate::hash::Sha256;
use crate::pipeline::toolchain;
use crate::session::Session;
use crate::wheel::name::dist;

pub fn run(session: &Session, args: &LockArgs) -> Result<()> {
    let repo = session.repo()?;
    let g = &repo.graph;
    let targets: Vec<usize> = if args.all {
        (0..g.packages.len()).collect()
    } else if args.packages.is_empty() && !args.toolchain {
        bail!("name the packages to lock (paths or names), or pass --all or --toolchain");
    } else {
        args.packages
            .iter()
            .map(|q| g.find(q).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    session.engine()?;
    if args.toolchain {
        lock_toolchain(session)?;
    }
    for i in targets {
        lock_one(session, i)?;
    }
    Ok(())
}

/// `poetry lock` for one package. The repo is read-only but for the package's own folder,
/// where Poetry writes poetry.lock; it sits at /repo on every machine, so the `file://` URLs
/// Poetry writes are the same everywhere.
fn lock_one(session: &Session, idx: usize) -> Result<()> {
    let repo = session.repo()?;
    let pkg = &repo.graph.packages[idx];
    let t0 = Instant::now();
    let host_dir = repo.root.join(&pkg.dir);
    let inside = if pkg.dir == "." { "/repo".to_string() } else { format!("/repo/{}", pkg.dir) };
    let poetry_cache = repo.cache.join("poetry");
    fs::create_dir_all(&poetry_cache)?;
    let container = Container::online(session.build_image()?)
        .user(&owner_of(&host_dir)?)
        .with(&crate::hostenv::pip())
        .with(&crate::hostenv::poetry())
        .env("POETRY_CACHE_DIR=/tmp/poetry-cache")
        .mount(&poetry_cache, "/tmp/poetry-cache")
        .mount_ro(&repo.root, "/repo")
        .mount(&host_dir, &inside)
        .workdir(&inside)
        .command(["poetry", "lock", "--no-interaction"]);
    session.engine()?.run(&session.sh, &container).with_context(|| {
        format!("lock {} with Poetry {}", pkg.dir, repo.config.toolchain.poetry)
    })?;
    println!("locked {} in {:.1} s", pkg.dir, t0.elapsed().as_secs_f64());
    Ok(())
}

/// Resolves the toolchain pins once and writes every file that came down, with its hash, to
/// docker/toolchain.lock: later downloads of the toolchain get exactly these files.
fn lock_toolchain(session: &Session) -> Result<()> {
    let repo = session.repo()?;
    let t0 = Instant::now();
    let pins = toolchain::requirements(&repo.config.toolchain);
    let dir = toolchain::download(&session.sh, session.engine()?, repo, &pins, false)?;
    let mut lines = Vec::new();
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let path = entry?.into_path();
        let file = path.file_name().unwrap_or_default().to_string();
        if file == "pins.txt" {
            continue;
        }
        let (name, version) =
            dist(&file).with_context(|| format!("read the name and version of {file}"))?;
        lines.push(format!("{name}=={version} --hash=sha256:{}", Sha256::of(&fs::read(&path)?)));
    }
    lines.sort();
    let python = session.runtime(&repo.config.toolchain.python_image)?.python_full_version;
    let text = format!(
        "# The build toolchain, every file pinned by hash, for CPython {python} on Linux.\n\
         # Written by `cargo xtask lock --toolchain` from the pins in docker/images.toml:\n\
         # {}\n{}\n",
        pins.trim().replace('\n', ", "),
        lines.join("\n")
    );
    crate::files::write_atomic(&repo.root.join(toolchain::TOOLCHAIN_LOCK), text)?;
    let _ = fs::remove_dir_all(&dir);
    println!(
        "locked the toolchain ({} files) in {:.1} s: {}",
        lines.len(),
        t0.elapsed().as_secs_f64(),
        toolchain::TOOLCHAIN_LOCK
    );
    Ok(())
}
