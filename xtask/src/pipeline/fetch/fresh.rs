//! Whether a poetry.lock still matches its manifest, judged by the pinned Poetry itself.

use anyhow::{bail, Context, Result};
use fs_err as fs;
use serde::Deserialize;

use crate::engine::Container;
use crate::hash::Sha256;
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

/// Refuses a lock that no longer matches its manifest. A passing check is remembered by the
/// content hash of manifest, lock and toolchain, so a warm run starts no container.
pub(super) fn check(session: &Session, dir: &str, lock_text: &str) -> Result<()> {
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
    fs::write(&marker, dir)?;
    Ok(())
}
