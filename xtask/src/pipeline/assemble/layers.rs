//! The layers xtask writes for an image, each cached by what goes into it: the venv and the
//! non-root user, the third-party packages, the local libraries, the project (or an app's
//! files), with bytecode; their tars live in the blob store, so an unchanged layer is neither
//! installed nor written again.

use std::io::Read;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;
use serde::{Deserialize, Serialize};

use super::bytecode::{self, Sources};
use crate::hash::Sha256;
use crate::oci::base::{Base, Blobs};
use crate::oci::image::OwnLayer;
use crate::oci::layer::Tree;
use crate::session::Session;
use crate::wheel::install::{install, Layout, Placed};

/// The user images run as: a system user without a home or a shell.
pub const USER: &str = "app";
pub const UID: u32 = 10001;

/// Timestamp of every file xtask writes into a layer (1980-01-01, as in wheels): layers depend
/// on their content only, so an unchanged package set gives the same layer on every commit.
pub const MTIME: u64 = 315_532_800;

/// What xtask needs to know of a base image's files, read once from its layers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaseFacts {
    /// Where `python3` is (`usr/local/bin/python3` in the official images).
    pub python3: String,
    pub passwd: String,
    pub group: String,
}

/// Reads (once per base) the files xtask derives layers from, top layer last.
pub fn facts(cache: &Utf8Path, base: &Base) -> Result<BaseFacts> {
    let hex = base.id.trim_start_matches("sha256:");
    let path = cache.join("bases").join(format!("{hex}.facts.json"));
    if let Some(facts) = fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
        return Ok(facts);
    }
    let blobs = Blobs::new(cache);
    let (mut passwd, mut group, mut python3) = (String::new(), String::new(), None);
    for diff_id in &base.diff_ids {
        let tar = blobs.get(diff_id)?;
        let mut archive = tar::Archive::new(tar.as_slice());
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = entry.path()?.to_string_lossy().trim_start_matches("./").to_string();
            let mut text = || -> Result<String> {
                let mut s = String::new();
                entry.read_to_string(&mut s)?;
                Ok(s)
            };
            match name.as_str() {
                "etc/passwd" => passwd = text()?,
                "etc/group" => group = text()?,
                "usr/local/bin/python3" => python3 = Some("/usr/local/bin/python3"),
                "usr/bin/python3" if python3.is_none() => python3 = Some("/usr/bin/python3"),
                _ => {}
            }
        }
    }
    let python3 = python3
        .context("the base image has no python3 in /usr/local/bin or /usr/bin: pick an image with Python 3")?
        .to_string();
    let facts = BaseFacts { python3, passwd, group };
    fs::create_dir_all(path.parent().unwrap_or(cache))?;
    crate::files::write_atomic(&path, serde_json::to_vec(&facts)?)?;
    Ok(facts)
}

/// The venv (its skeleton, as `python3 -m venv --without-pip` makes it, less the activate
/// scripts) and the user `app` (uid 10001), added to the base's own passwd and group.
pub fn venv_and_user(facts: &BaseFacts, layout: &Layout, full_version: &str) -> Result<Tree> {
    let mut t = Tree::new();
    let mut passwd = facts.passwd.clone();
    let mut group = facts.group.clone();
    if !passwd.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
        if !passwd.is_empty() && !passwd.ends_with('\n') {
            passwd.push('\n');
        }
        passwd += &format!("{USER}:x:{UID}:{UID}::/nonexistent:/usr/sbin/nologin\n");
    }
    if !group.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
        if !group.is_empty() && !group.ends_with('\n') {
            group.push('\n');
        }
        group += &format!("{USER}:x:{UID}:\n");
    }
    t.file("etc/passwd", 0o644, passwd.into_bytes())?;
    t.file("etc/group", 0o644, group.into_bytes())?;
    let venv = layout.venv.trim_start_matches('/');
    let home = facts.python3.rsplit_once('/').map_or("/usr/bin", |(d, _)| d);
    let cfg =
        format!("home = {home}\ninclude-system-site-packages = false\nversion = {full_version}\n");
    t.file(&format!("{venv}/pyvenv.cfg"), 0o644, cfg.into_bytes())?;
    t.symlink(&format!("{venv}/bin/python"), "python3")?;
    t.symlink(&format!("{venv}/bin/python3"), &facts.python3)?;
    t.symlink(&format!("{venv}/bin/python{}", layout.python), "python3")?;
    t.dir(&format!("{venv}/include"), 0o755)?;
    t.dir(&format!("{venv}/lib/python{}/site-packages", layout.python), 0o755)?;
    t.symlink(&format!("{venv}/lib64"), "lib")?;
    Ok(t)
}

/// What goes into a layer xtask writes: wheels installed into the venv with their bytecode
/// (`(file, digest)`), and files made elsewhere (venv and user, an app's files, the SBOM).
pub struct Content<'a> {
    pub wheels: &'a [(Utf8PathBuf, Sha256)],
    pub tree: Tree,
}

impl Content<'_> {
    pub fn tree(tree: Tree) -> Content<'static> {
        Content { wheels: &[], tree }
    }
}

/// Writes (or finds in the cache) each layer: returns each one's diff id, its tar stored in
/// the blob store. `minor` picks the build image that compiles bytecode.
pub fn write(
    session: &Session,
    layout: &Layout,
    minor: u32,
    full_version: &str,
    layers: Vec<(String, Content)>,
) -> Result<Vec<OwnLayer>> {
    let repo = session.repo()?;
    let blobs = Blobs::new(&repo.cache);
    let index = repo.cache.join("layers");
    let mut out = Vec::new();
    for (name, content) in layers {
        let key = key(&name, layout, full_version, &content)?;
        let known =
            fs::read_to_string(index.join(&key)).ok().and_then(|t| Sha256::from_hex(t.trim()));
        let diff_id = match known.filter(|d| blobs.has(d)) {
            Some(d) => d,
            None => {
                let mut tree = installed(session, layout, minor, content.wheels)?;
                tree.extend(content.tree);
                let t0 = std::time::Instant::now();
                let layer = tree.write(MTIME)?;
                blobs.put(&layer.tar, Some(&layer.diff_id))?;
                session.ui.trace(&format!("write the layer {name}"), t0);
                fs::create_dir_all(&index)?;
                crate::files::write_atomic(&index.join(&key), layer.diff_id.hex())?;
                layer.diff_id
            }
        };
        out.push(OwnLayer { diff_id, created_by: format!("xtask: {name}") });
    }
    Ok(out)
}

/// What decides a layer's bytes.
fn key(name: &str, layout: &Layout, full_version: &str, content: &Content) -> Result<String> {
    let mut text =
        format!("layer-1\n{name}\n{} {}\n{full_version}\n{MTIME}\n", layout.venv, layout.python);
    for (_, sha) in content.wheels {
        text += &format!("{sha}\n");
    }
    if !content.tree.is_empty() {
        text += &content.tree.write(MTIME)?.diff_id.to_string();
    }
    Ok(Sha256::of(text.as_bytes()).short(32).to_string())
}

/// Every wheel installed into the venv, with its bytecode.
fn installed(
    session: &Session,
    layout: &Layout,
    minor: u32,
    wheels: &[(Utf8PathBuf, Sha256)],
) -> Result<Tree> {
    if wheels.is_empty() {
        return Ok(Tree::new());
    }
    let t0 = std::time::Instant::now();
    let mut files: Vec<Vec<Placed>> = Vec::new();
    for (wheel, sha) in wheels {
        let bytes = fs::read(wheel)?;
        if Sha256::of(&bytes) != *sha {
            anyhow::bail!(
                "{wheel} changed since it was checked; run `cargo xtask fetch` (third-party) or \
                 build again (local) to replace it"
            );
        }
        let placed = install(&bytes, layout).map_err(anyhow::Error::msg);
        files.push(
            placed.with_context(|| format!("install {}", wheel.file_name().unwrap_or_default()))?,
        );
    }
    let sources: Vec<Sources> =
        wheels.iter().zip(&files).map(|((_, sha), files)| Sources { wheel: sha, files }).collect();
    session.ui.trace(&format!("install {} wheel(s)", wheels.len()), t0);
    let t0 = std::time::Instant::now();
    let compiled = bytecode::of(session, minor, &layout.venv, &sources)?;
    session.ui.trace("bytecode", t0);
    let mut tree = Tree::new();
    for placed in files.iter().flatten() {
        tree.file(&placed.path, placed.mode, placed.data.clone())?;
    }
    for pyc in compiled {
        tree.extend(pyc);
    }
    Ok(tree)
}
