//! The pinned build toolchain: its identity, its wheels (fetched once) and the build image.

use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::config::Toolchain;
use crate::engine::Engine;
use crate::model::Repo;
use crate::wheel::sha256_hex;

pub const BUILD_DOCKERFILE: &str = "docker/build.Dockerfile";
/// Every wheel of the toolchain, pinned by hash (`cargo xtask lock --toolchain` writes it).
pub const TOOLCHAIN_LOCK: &str = "docker/toolchain.lock";

/// What the build image installs, pinned.
pub fn requirements(t: &Toolchain) -> String {
    let mut text = format!(
        "poetry=={}\npoetry-core=={}\npoetry-plugin-export=={}\n",
        t.poetry, t.poetry_core, t.poetry_plugin_export
    );
    for backend in &t.backends {
        text += backend;
        text.push('\n');
    }
    text
}

/// The repo's toolchain lock, checked against the pins in the config; `None` without one.
pub fn locked(repo: &Repo) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(repo.root.join(TOOLCHAIN_LOCK)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("read {TOOLCHAIN_LOCK}")),
    };
    check_pins(&text, &requirements(&repo.config.toolchain)).map_err(anyhow::Error::msg)?;
    Ok(Some(text))
}

/// Every pin of the config must be in the lock, or the lock is from other pins.
fn check_pins(lock: &str, pins: &str) -> Result<(), String> {
    let locked: Vec<String> = lock
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(normalize_pin)
        .collect();
    match pins.lines().find(|pin| !locked.contains(&normalize_pin(pin))) {
        Some(pin) => Err(format!(
            "{TOOLCHAIN_LOCK} does not pin {pin}, which docker/images.toml asks for; run `cargo xtask lock --toolchain`"
        )),
        None => Ok(()),
    }
}

fn normalize_pin(pin: &str) -> String {
    let (name, version) = pin.split_once("==").unwrap_or((pin, ""));
    format!("{}=={version}", crate::model::names::normalize(name))
}

/// The toolchain's identity without asking the engine: build Dockerfile, pins (or the
/// toolchain lock) and base image name. Part of every wheel's cache key.
pub fn identity(repo: &Repo) -> Result<String> {
    let t = &repo.config.toolchain;
    let mut input = repo.read_or_default(BUILD_DOCKERFILE)?.into_bytes();
    input.extend_from_slice(requirements(t).as_bytes());
    input.extend_from_slice(locked(repo)?.unwrap_or_default().as_bytes());
    input.extend_from_slice(t.python_image.as_bytes());
    Ok(sha256_hex(&input)[..16].to_string())
}

/// The user and group that own `dir`: containers that write into it run as them.
pub fn owner_of(dir: &Utf8Path) -> Result<String> {
    let meta = std::fs::metadata(dir).with_context(|| format!("stat {dir}"))?;
    Ok(format!("{}:{}", meta.uid(), meta.gid()))
}

/// Downloads the toolchain's wheels once into the cache (network; host pip settings mounted).
pub fn ensure_wheels(sh: &Shell, engine: &Engine, repo: &Repo) -> Result<Utf8PathBuf> {
    let t = &repo.config.toolchain;
    let id = identity(repo)?;
    let dir = repo.cache.join("toolchain").join(&id);
    if dir.join("requirements.txt").is_file() {
        return Ok(dir);
    }
    // With a toolchain lock every file is pinned by hash; without one, pip resolves the pins.
    let tmp = match locked(repo)? {
        Some(lock) => download(sh, engine, repo, &lock, true)?,
        None => download(sh, engine, repo, &requirements(t), false)?,
    };
    // Written last: its presence marks a complete download.
    std::fs::rename(tmp.join("pins.txt"), tmp.join("requirements.txt"))?;
    std::fs::create_dir_all(dir.parent().unwrap_or(&dir))?;
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        // A concurrent run may have completed the same download first.
        if !dir.join("requirements.txt").is_file() {
            return Err(e).with_context(|| format!("move {tmp} to {dir}"));
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}

/// Downloads `requirements` with pip in the base image into a fresh scratch folder (which also
/// holds them as `pins.txt`). `hashed`: every file is pinned with its hash, nothing resolved.
pub fn download(
    sh: &Shell,
    engine: &Engine,
    repo: &Repo,
    requirements: &str,
    hashed: bool,
) -> Result<Utf8PathBuf> {
    let tmp = repo.scratch("toolchain")?;
    std::fs::write(tmp.join("pins.txt"), requirements)?;
    let user = owner_of(&tmp)?;
    let (bin, image, pip) =
        (&engine.bin, &repo.config.toolchain.python_image, crate::pipenv::docker_args());
    let mount = format!("{tmp}:/out");
    let strict: &[&str] = if hashed { &["--require-hashes", "--no-deps"] } else { &[] };
    cmd!(sh, "{bin} run --rm --user {user} {pip...} -v {mount} {image} python3 -m pip download --no-cache-dir --disable-pip-version-check {strict...} --dest /out -r /out/pins.txt")
        .quiet()
        .ignore_stdout()
        .run()
        .context("download the toolchain wheels (poetry, poetry-core, backends) from the package index")?;
    Ok(tmp)
}

/// Builds (once) and returns the build image tag: `<name>:<hash of every input>`.
pub fn ensure_build_image(sh: &Shell, engine: &Engine, repo: &Repo) -> Result<String> {
    // Concurrent runs wait here instead of downloading and building the same image twice.
    std::fs::create_dir_all(&repo.cache)?;
    let lock = std::fs::File::create(repo.cache.join("build-image.lock"))
        .context("open the build image lock")?;
    lock.lock().context("lock the build image")?;
    let t = &repo.config.toolchain;
    let wheels = ensure_wheels(sh, engine, repo)?;
    let base = t.python_image.as_str();
    let base_id = engine.require_image(sh, base)?;
    let mut files: Vec<Utf8PathBuf> = wheels
        .read_dir_utf8()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut input = format!("{}\n{base_id}\n", identity(repo)?);
    for f in &files {
        input += &format!(
            "{} {}\n",
            f.file_name().unwrap_or_default(),
            crate::wheel::cache::sha256_of(f)?
        );
    }
    let tag = format!("{}:{}", t.build_image, &sha256_hex(input.as_bytes())[..16]);
    if engine.image_id(sh, &tag)?.is_some() {
        return Ok(tag);
    }
    let ctx = repo.scratch("build-image")?;
    std::fs::create_dir_all(ctx.join("toolchain"))?;
    std::fs::write(ctx.join("Dockerfile"), repo.read_or_default(BUILD_DOCKERFILE)?)?;
    for f in &files {
        crate::files::link_or_copy(
            f,
            &ctx.join("toolchain").join(f.file_name().unwrap_or_default()),
        )?;
    }
    let bin = &engine.bin;
    let arg = format!("PYTHON_IMAGE={base}");
    let built = cmd!(sh, "{bin} build --quiet --network none --build-arg {arg} --label xtask.toolchain={tag} -t {tag} {ctx}")
        .quiet()
        .ignore_stdout()
        .run()
        .with_context(|| format!("build the build image {tag} from {BUILD_DOCKERFILE}"));
    let _ = sh.remove_path(&ctx);
    built.map(|()| tag)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lock_from_other_pins_is_refused() {
        let lock =
            "# header\npoetry==2.5.1 --hash=sha256:aa\npoetry_core==2.5.0 --hash=sha256:bb\n";
        assert!(super::check_pins(lock, "poetry==2.5.1\npoetry-core==2.5.0\n").is_ok());
        let e = super::check_pins(lock, "poetry==2.6.0\n").unwrap_err();
        assert!(e.contains("poetry==2.6.0") && e.contains("cargo xtask lock --toolchain"), "{e}");
    }
}
