//! Reads the runtime of a runtime image from the image itself, once per image id, and checks
//! it against any `[runtime]` values the config insists on.

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use fs_err as fs;
use xshell::Shell;

use crate::config::{RuntimeConfig, CONFIG_PATH};
use crate::engine::{Container, Engine};
use crate::files::write_atomic;
use crate::model::Repo;
use crate::runtime::Runtime;

/// Bumped when the probe asks for more, so older cached answers are not reused.
const PROBE_VERSION: u32 = 2;

/// Asks the image's Python for the PEP 508 environment markers and its libc.
const PROBE: &str = r#"
import json, os, platform, sys
print(json.dumps({
    "python_full_version": platform.python_version(),
    "implementation_name": sys.implementation.name,
    "platform_python_implementation": platform.python_implementation(),
    "sys_platform": sys.platform,
    "platform_system": platform.system(),
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_version": platform.version(),
    "os_name": os.name,
    "libc": "-".join(platform.libc_ver()),
}))
"#;

/// The runtime of `image`, read from the image once per image id (an offline container run of
/// its `python3`), checked against any `[runtime]` values the config sets.
pub fn of(sh: &Shell, engine: &Engine, repo: &Repo, image: &str) -> Result<Runtime> {
    let id = engine.require_image(sh, image)?;
    let cached = probe_file(repo, &id);
    let runtime = match fs::read_to_string(&cached).ok().and_then(|t| serde_json::from_str(&t).ok())
    {
        Some(runtime) => runtime,
        None => {
            let runtime = probe(sh, engine, image)?;
            fs::create_dir_all(cached.parent().unwrap_or(&cached))?;
            // Concurrent runs may probe the same image: each writes a whole file.
            write_atomic(&cached, serde_json::to_string(&runtime)?)?;
            write_atomic(&by_name(repo, image), &id)?;
            runtime
        }
    };
    check(&repo.config.runtime, image, &runtime)?;
    Ok(runtime)
}

/// For a dry run, which must not start the engine: the runtime last read from `image`, or
/// the assumed one.
pub fn remembered(repo: &Repo, image: &str) -> Runtime {
    known(repo, image).unwrap_or_else(|| Runtime::assumed_for(image))
}

/// The runtime last read from the image named `image`, if it was ever read.
pub fn known(repo: &Repo, image: &str) -> Option<Runtime> {
    let id = fs::read_to_string(by_name(repo, image)).ok()?;
    let text = fs::read_to_string(probe_file(repo, id.trim())).ok()?;
    serde_json::from_str(&text).ok()
}

fn probe_file(repo: &Repo, id: &str) -> Utf8PathBuf {
    let id = id.trim_start_matches("sha256:");
    repo.cache.join("runtimes").join(format!("{id}.v{PROBE_VERSION}.json"))
}

/// Where the id last seen under an image name is remembered (names are not file names).
fn by_name(repo: &Repo, image: &str) -> Utf8PathBuf {
    let name = crate::hash::Sha256::of(image.as_bytes());
    repo.cache.join("runtimes").join(format!("name-{}", name.short(16)))
}

fn probe(sh: &Shell, engine: &Engine, image: &str) -> Result<Runtime> {
    let container = Container::offline(image).entrypoint("python3").command(["-c", PROBE]);
    let out = engine.output(sh, &container)?;
    if !out.status.success() {
        bail!(
            "the runtime image {image} has no working python3 (xtask installs into a venv made by \
             the image's own Python); pick an image with Python 3:\n{}",
            crate::engine::tail(&out.stderr, 5)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .with_context(|| format!("read what {image}'s Python says of itself"))
}

/// A configured value must be what the image says, or the image would get packages chosen
/// for another Python.
fn check(config: &RuntimeConfig, image: &str, runtime: &Runtime) -> Result<()> {
    let pairs = [
        ("python_full_version", &config.python_full_version, &runtime.python_full_version),
        ("sys_platform", &config.sys_platform, &runtime.sys_platform),
        ("platform_machine", &config.platform_machine, &runtime.platform_machine),
    ];
    for (key, configured, actual) in pairs {
        if let Some(configured) = configured.as_ref().filter(|c| *c != actual) {
            bail!(
                "{CONFIG_PATH}: [runtime] {key} = {configured:?}, but {image} has {actual:?}; \
                 remove the key (xtask reads it from the image) or fix it"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_values_must_match_the_image() {
        let r = Runtime::assumed();
        let ok = RuntimeConfig { python_full_version: Some("3.11.2".into()), ..Default::default() };
        assert!(check(&ok, "py", &r).is_ok());
        let bad =
            RuntimeConfig { python_full_version: Some("3.12.1".into()), ..Default::default() };
        let e = check(&bad, "python:3.11-slim", &r).unwrap_err().to_string();
        assert!(e.contains("python_full_version = \"3.12.1\"") && e.contains("\"3.11.2\""), "{e}");
    }
}
