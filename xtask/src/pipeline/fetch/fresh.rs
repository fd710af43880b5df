//! Whether a project's lock still matches its manifest: a poetry.lock judged by the pinned
//! Poetry itself, a uv.lock by the requirements it recorded of the project.

use anyhow::{bail, Context, Result};
use fs_err as fs;
use serde::Deserialize;

use crate::engine::Container;
use crate::hash::Sha256;
use crate::model::lock::{uv, Format};
use crate::model::manifest::{Source, MAIN};
use crate::model::names::PackageName;
use crate::pipeline::plan::Resolved;
use crate::session::Session;

/// Asks Poetry's own API, in the build image, offline: the lock's freshness and the
/// manifest's validation errors, as one JSON line.
const CHECK: &str = r#"
import json
from pathlib import Path
from poetry.factory import Factory
poetry = Factory().create_poetry(Path.cwd())
errors = Factory.validate(poetry.pyproject.data).get("errors", [])
print(json.dumps({"fresh": poetry.locker.is_fresh(), "errors": errors}))
"#;

#[derive(Deserialize)]
struct Verdict {
    fresh: bool,
    errors: Vec<String>,
}

/// Refuses a lock that no longer matches its manifest.
pub(super) fn check(session: &Session, resolved: &Resolved) -> Result<()> {
    match resolved.lock.format {
        Format::Poetry => poetry(session, &resolved.dir, &resolved.lock.text),
        Format::Uv => uv_lock(session, resolved),
        // pip's and uv's pylock.toml record nothing of the project to compare with.
        Format::Pylock => Ok(()),
    }
}

/// Every main and optional requirement of the manifest, by name and specifier, must be what
/// uv recorded when it locked.
fn uv_lock(session: &Session, resolved: &Resolved) -> Result<()> {
    let repo = session.repo()?;
    let Some(pkg) = repo.graph.packages.iter().find(|p| p.dir == resolved.dir) else {
        return Ok(());
    };
    let recorded =
        uv::recorded_requirements(&resolved.lock.text, &pkg.name).map_err(anyhow::Error::msg)?;
    let Some(recorded) = recorded else {
        bail!(
            "{} does not list {}; run `cargo xtask lock {}`",
            resolved.lock.rel,
            pkg.name,
            pkg.dir
        )
    };
    let mut declared: Vec<(PackageName, String)> = pkg
        .manifest
        .deps
        .iter()
        .filter(|d| d.group == MAIN)
        .map(|d| match &d.source {
            Source::Registry(spec) => (d.name.clone(), spec.replace(' ', "")),
            _ => (d.name.clone(), String::new()),
        })
        .collect();
    declared.sort();
    declared.dedup();
    let names = |v: &[(PackageName, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let added: Vec<String> =
        declared.iter().filter(|d| !recorded.contains(d)).map(|(n, s)| format!("{n}{s}")).collect();
    let gone: Vec<String> = names(&recorded)
        .iter()
        .filter(|n| !names(&declared).contains(n))
        .map(ToString::to_string)
        .collect();
    if !added.is_empty() || !gone.is_empty() {
        let mut what = Vec::new();
        if !added.is_empty() {
            what.push(format!("new or changed: {}", added.join(", ")));
        }
        if !gone.is_empty() {
            what.push(format!("removed: {}", gone.join(", ")));
        }
        bail!(
            "{} is stale: {} changed since it was locked ({}); run `cargo xtask lock {}`",
            resolved.lock.rel,
            pkg.manifest_path(),
            what.join("; "),
            pkg.dir
        );
    }
    Ok(())
}

/// A passing check is remembered by the content hash of manifest, lock and toolchain, so a
/// warm run starts no container.
fn poetry(session: &Session, dir: &str, lock_text: &str) -> Result<()> {
    let repo = session.repo()?;
    let mut input = fs::read(repo.root.join(dir).join("pyproject.toml"))?;
    input.extend_from_slice(lock_text.as_bytes());
    input.extend_from_slice(session.toolchain_id()?.as_bytes());
    let marker = repo.cache.join("lock-checks").join(Sha256::of(&input).hex());
    if marker.exists() {
        return Ok(());
    }
    let workdir = if dir == "." { "/repo".to_string() } else { format!("/repo/{dir}") };
    let container = Container::offline(session.build_image()?)
        .env("HOME=/tmp")
        .mount_ro(&repo.root, "/repo")
        .workdir(&workdir)
        .command(["python3", "-c", CHECK]);
    let out = session.engine()?.output(&session.sh, &container)?;
    let line = String::from_utf8_lossy(&out.stdout);
    let verdict: Verdict = serde_json::from_str(line.trim()).with_context(|| {
        format!(
            "{dir}: Poetry could not read the project:\n{}",
            crate::engine::tail(&out.stderr, 15)
        )
    })?;
    if !verdict.errors.is_empty() {
        bail!("{dir}/pyproject.toml is not valid for Poetry:\n{}", verdict.errors.join("\n"));
    }
    if !verdict.fresh {
        bail!(
            "{dir}/poetry.lock is stale: {dir}/pyproject.toml changed since it was locked; run \
             `cargo xtask lock {dir}`"
        );
    }
    fs::create_dir_all(marker.parent().unwrap_or(&marker))?;
    crate::files::write_atomic(&marker, dir)?;
    Ok(())
}
