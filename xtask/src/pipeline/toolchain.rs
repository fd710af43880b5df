//! Toolchain: the pinned build toolchain's identity, its wheels (fetched once) and the build image.

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use crate::config::Toolchain;
use crate::engine::{Build, Container, Engine};
use crate::files::{link_or_copy, owner_of};
use crate::hash::{self, Sha256};
use crate::model::names::PackageName;
use crate::model::Repo;
use xshell::Shell;

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
    let text = match fs::read_to_string(repo.root.join(TOOLCHAIN_LOCK)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
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
            "{TOOLCHAIN_LOCK} does not pin {pin}, which docker/images.toml asks for; run `cargo \
             xtask lock --toolchain`"
        )),
        None => Ok(()),
    }
}

fn normalize_pin(pin: &str) -> String {
    let (name, version) = pin.split_once("==").unwrap_or((pin, ""));
    format!("{}=={version}", PackageName::new(name))
}

/// The toolchain's identity without asking the engine: build Dockerfile, pins (or the
/// toolchain lock) and base image name. Part of every wheel's cache key.
pub fn identity(repo: &Repo) -> Result<String> {
    let t = &repo.config.toolchain;
    let mut input = repo.read_or_default(BUILD_DOCKERFILE)?.into_bytes();
    input.extend_from_slice(requirements(t).as_bytes());
    input.extend_from_slice(locked(repo)?.unwrap_or_default().as_bytes());
    input.extend_from_slice(t.python_image.as_bytes());
    Ok(Sha256::of(&input).short(16).to_string())
}

/// Downloads the toolchain's wheels once into the cache (network; host pip settings mounted).
pub fn wheels(sh: &Shell, engine: &Engine, repo: &Repo, id: &str) -> Result<Utf8PathBuf> {
    let dir = repo.cache.join("toolchain").join(id);
    if dir.join("requirements.txt").is_file() {
        return Ok(dir);
    }
    // With a toolchain lock every file is pinned by hash; without one, pip resolves the pins.
    let tmp = match locked(repo)? {
        Some(lock) => download(sh, engine, repo, &lock, true)?,
        None => download(sh, engine, repo, &requirements(&repo.config.toolchain), false)?,
    };
    // Written last: its presence marks a complete download.
    fs::rename(tmp.join("pins.txt"), tmp.join("requirements.txt"))?;
    fs::create_dir_all(dir.parent().unwrap_or(&dir))?;
    if let Err(e) = fs::rename(&tmp, &dir) {
        // A concurrent run may have completed the same download first.
        if !dir.join("requirements.txt").is_file() {
            return Err(e.into());
        }
        let _ = fs::remove_dir_all(&tmp);
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
    engine.require_image(sh, &repo.config.toolchain.python_image)?;
    let tmp = repo.scratch("toolchain")?;
    fs::write(tmp.join("pins.txt"), requirements)?;
    let strict: &[&str] = if hashed { &["--require-hashes", "--no-deps"] } else { &[] };
    let pip = ["python3", "-m", "pip", "download", "--no-cache-dir", "--disable-pip-version-check"];
    let container = Container::online(&repo.config.toolchain.python_image)
        .user(&owner_of(&tmp)?)
        .with(&crate::hostenv::pip())
        .mount(&tmp, "/out")
        .command(
            pip.iter().chain(strict).chain(&["--dest", "/out", "-r", "/out/pins.txt"]).copied(),
        );
    engine.run(sh, &container).context(
        "download the toolchain wheels (poetry, poetry-core, backends) from the package index",
    )?;
    Ok(tmp)
}

/// Builds (once) and returns the build image tag: `<name>:<hash of every input>`; `id` is the
/// toolchain's [`identity`]. Callers go through the session, which remembers the tag.
pub fn ensure_build_image(sh: &Shell, engine: &Engine, repo: &Repo, id: &str) -> Result<String> {
    // Concurrent runs wait here instead of downloading and building the same image twice.
    fs::create_dir_all(&repo.cache)?;
    let lock = crate::files::open_lock(&repo.cache.join("build-image.lock"))?;
    lock.file().lock().context("lock the build image")?;
    let t = &repo.config.toolchain;
    let wheels = wheels(sh, engine, repo, id)?;
    let base_id = engine.require_image(sh, &t.python_image)?;
    let files = files_of(&wheels)?;
    let mut input = format!("{id}\n{base_id}\n");
    for f in &files {
        input += &format!("{} {}\n", f.file_name().unwrap_or_default(), hash::of_file(f)?);
    }
    let tag = format!("{}:{}", t.build_image, Sha256::of(input.as_bytes()).short(16));
    if engine.image_id(sh, &tag)?.is_some() {
        return Ok(tag);
    }
    let ctx = repo.scratch("build-image")?;
    fs::create_dir_all(ctx.join("toolchain"))?;
    fs::write(ctx.join("Dockerfile"), repo.read_or_default(BUILD_DOCKERFILE)?)?;
    for f in &files {
        link_or_copy(f, &ctx.join("toolchain").join(f.file_name().unwrap_or_default()))?;
    }
    let build = Build {
        context: ctx.clone(),
        tag: Some(tag.clone()),
        build_args: vec![("PYTHON_IMAGE".into(), t.python_image.clone())],
        labels: vec![("xtask.toolchain".into(), tag.clone())],
        ..Build::default()
    };
    let built = engine.build(&build, &mut |_| {});
    let _ = fs::remove_dir_all(&ctx);
    built.with_context(|| format!("build the build image {tag} from {BUILD_DOCKERFILE}"))?;
    Ok(tag)
}

/// The files of a folder, sorted.
fn files_of(dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let entries = dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))?;
    let mut files: Vec<Utf8PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(camino::Utf8DirEntry::into_path)
        .collect();
    files.sort();
    Ok(files)
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
