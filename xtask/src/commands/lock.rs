//! `cargo xtask lock`: `poetry lock` with the pinned Poetry in the build image, for one or all packages.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use crate::cli::LockArgs;
use crate::engine::Engine;
use crate::model::{self, Kind};
use crate::toolchain;
use crate::wheel::sha256_hex;

pub fn run(root: &Utf8Path, args: &LockArgs) -> Result<()> {
    let repo = model::load(root)?;
    let g = &repo.graph;
    let targets: Vec<usize> = if args.all {
        (0..g.packages.len()).filter(|&i| g.packages[i].kind != Kind::Config).collect()
    } else if args.packages.is_empty() && !args.toolchain {
        bail!("name the packages to lock (paths or names), or pass --all or --toolchain");
    } else {
        args.packages
            .iter()
            .map(|q| g.find(q).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    let sh = Shell::new()?;
    let engine = Engine::connect(&sh)?;
    if args.toolchain {
        lock_toolchain(&sh, &engine, &repo)?;
        if targets.is_empty() {
            return Ok(());
        }
    }
    let image = toolchain::ensure_build_image(&sh, &engine, &repo)?;
    let poetry_cache = repo.cache.join("poetry");
    std::fs::create_dir_all(&poetry_cache).with_context(|| format!("create {poetry_cache}"))?;
    for i in targets {
        let pkg = &g.packages[i];
        let t0 = Instant::now();
        let host_dir = repo.root.join(&pkg.dir);
        let inside =
            if pkg.dir == "." { "/repo".to_string() } else { format!("/repo/{}", pkg.dir) };
        let user = toolchain::owner_of(&host_dir)?;
        let (bin, pip, poetry) =
            (&engine.bin, crate::pipenv::docker_args(), crate::pipenv::poetry_args());
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

/// Resolves the toolchain pins once and writes every file that came down, with its hash, to
/// docker/toolchain.lock: later downloads of the toolchain get exactly these files.
fn lock_toolchain(sh: &Shell, engine: &Engine, repo: &crate::model::Repo) -> Result<()> {
    let t0 = Instant::now();
    let pins = toolchain::requirements(&repo.config.toolchain);
    let dir = toolchain::download(sh, engine, repo, &pins, false)?;
    let mut lines = Vec::new();
    for entry in dir.read_dir_utf8()? {
        let path = entry?.into_path();
        let file = path.file_name().unwrap_or_default().to_string();
        if file == "pins.txt" {
            continue;
        }
        let (name, version) =
            dist_of(&file).with_context(|| format!("read the name and version of {file}"))?;
        lines.push(format!(
            "{name}=={version} --hash=sha256:{}",
            sha256_hex(&std::fs::read(&path)?)
        ));
    }
    lines.sort();
    let python = &repo.config.runtime.python_full_version;
    let text = format!(
        "# The build toolchain, every file pinned by hash, for CPython {python} on Linux.\n\
         # Written by `cargo xtask lock --toolchain` from the pins in docker/images.toml:\n\
         # {}\n{}\n",
        pins.trim().replace('\n', ", "),
        lines.join("\n")
    );
    let path = repo.root.join(toolchain::TOOLCHAIN_LOCK);
    let tmp = path.with_extension("lock.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("write {tmp}"))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write {path}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "locked the toolchain ({} files) in {:.1} s: {}",
        lines.len(),
        t0.elapsed().as_secs_f64(),
        toolchain::TOOLCHAIN_LOCK
    );
    Ok(())
}

/// Name (normalised) and version of a wheel or sdist file name.
fn dist_of(file: &str) -> Option<(String, String)> {
    let (name, version) = match file.strip_suffix(".whl") {
        Some(stem) => {
            let mut parts = stem.split('-');
            (parts.next()?, parts.next()?)
        }
        None => {
            file.strip_suffix(".tar.gz").or_else(|| file.strip_suffix(".zip"))?.rsplit_once('-')?
        }
    };
    Some((crate::model::names::normalize(name), version.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dist_names_and_versions_come_from_file_names() {
        assert_eq!(
            super::dist_of("poetry_core-2.5.0-py3-none-any.whl"),
            Some(("poetry-core".into(), "2.5.0".into()))
        );
        assert_eq!(
            super::dist_of("jaraco.classes-3.4.0-py3-none-any.whl"),
            Some(("jaraco-classes".into(), "3.4.0".into()))
        );
        assert_eq!(super::dist_of("docopt-0.6.2.tar.gz"), Some(("docopt".into(), "0.6.2".into())));
        assert_eq!(super::dist_of("README"), None);
    }
}
