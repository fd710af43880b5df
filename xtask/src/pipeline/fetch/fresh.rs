//! Whether a project's lock still matches its manifest: a poetry.lock by the content hash of
//! the Poetry that wrote it, a uv.lock by the requirements it recorded of the project.

use anyhow::{bail, Context, Result};
use fs_err as fs;

use crate::model::lock::{poetry, poetry_hash, uv, Format};
use crate::model::manifest::{Source, MAIN};
use crate::model::names::PackageName;
use crate::pipeline::plan::{LockFile, Resolved};
use crate::session::Session;

/// Refuses a lock that no longer matches its manifest.
pub(super) fn check(session: &Session, resolved: &Resolved) -> Result<()> {
    let Some(lock) = &resolved.lock else { return Ok(()) };
    match lock.format {
        Format::Poetry => poetry(session, &resolved.dir, &lock.rel, &lock.text),
        Format::Uv => uv_lock(session, resolved, lock),
        // pip's and uv's pylock.toml record nothing of the project to compare with.
        Format::Pylock => Ok(()),
    }
}

/// Every main and optional requirement of the manifest, by name and specifier, must be what
/// uv recorded when it locked.
fn uv_lock(session: &Session, resolved: &Resolved, lock: &LockFile) -> Result<()> {
    let repo = session.repo()?;
    let Some(idx) = repo.graph.packages.iter().position(|p| p.dir == resolved.dir) else {
        return Ok(());
    };
    let pkg = &repo.graph.packages[idx];
    if pkg.manifest.dynamic_deps {
        // uv recorded what the backend computed; the manifest says nothing to compare with. The
        // build checks instead that the image holds every package its packages require.
        return Ok(());
    }
    // Local dependencies (by their own source or one the workspace root gives) are recorded by
    // uv without a specifier.
    let local: Vec<usize> =
        repo.graph.edges.iter().filter(|e| e.from == idx).map(|e| e.dep).collect();
    let recorded = uv::recorded_requirements(&lock.text, &pkg.name).map_err(anyhow::Error::msg)?;
    let Some(recorded) = recorded else {
        bail!("{} does not list {}; run `cargo xtask lock {}`", lock.rel, pkg.name, pkg.dir)
    };
    let mut declared: Vec<(PackageName, String)> = pkg
        .manifest
        .deps
        .iter()
        .enumerate()
        .filter(|(_, d)| d.group == MAIN)
        .map(|(n, d)| match &d.source {
            Source::Registry(spec) if !local.contains(&n) => {
                (d.name.clone(), uv::canonical_specifier(spec))
            }
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
            lock.rel,
            pkg.manifest_path(),
            what.join("; "),
            pkg.dir
        );
    }
    Ok(())
}

/// Judged by the rules of the Poetry that wrote the lock (its first line says which): the
/// `content-hash` it recorded must be the hash of the manifest's dependency sections now.
fn poetry(session: &Session, dir: &str, lock_rel: &str, lock_text: &str) -> Result<()> {
    let repo = session.repo()?;
    let manifest =
        if dir == "." { "pyproject.toml".to_string() } else { format!("{dir}/pyproject.toml") };
    let text = fs::read_to_string(repo.root.join(&manifest))?;
    let table: toml::Table =
        text.parse().with_context(|| format!("{manifest} is not valid TOML"))?;
    let lock = poetry::parse(lock_text).map_err(|e| anyhow::anyhow!("{lock_rel}: {e}"))?;
    let writer = lock.written_by.as_deref();
    let Some(recorded) = lock.content_hash.as_deref() else {
        bail!("{lock_rel} has no [metadata] content-hash; run `cargo xtask lock {dir}`");
    };
    for rules in poetry_hash::rules_of(writer) {
        let now = poetry_hash::content_hash(&table, rules)
            .map_err(|e| anyhow::anyhow!("{manifest}: a dependency section holds {e}"))?;
        if now == recorded {
            return Ok(());
        }
    }
    bail!(
        "{lock_rel} is stale: the dependency sections of {manifest} changed since Poetry {} \
         locked it (its content-hash no longer matches); run `cargo xtask lock {dir}`",
        writer.unwrap_or("(before 1.3)")
    )
}
