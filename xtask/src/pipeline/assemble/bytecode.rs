//! Bytecode for installed packages, compiled once per wheel and Python by the build image of
//! the runtime's Python minor: `compileall` with hash-based, unchecked `.pyc` files (they
//! depend on the sources only) and file names as the image has them. Kept in the cache as a
//! layer-like tar per (wheel, venv layout, compiler).

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;

use crate::engine::Container;
use crate::files::owner_of;
use crate::hash::Sha256;
use crate::oci::base::Blobs;
use crate::oci::layer::Tree;
use crate::session::Session;
use crate::wheel::install::Placed;

/// One wheel's installed files, for compiling: its digest and the files it places.
pub struct Sources<'a> {
    pub wheel: &'a Sha256,
    pub files: &'a [Placed],
}

/// The cache key of a wheel's bytecode: its digest, where it is installed, and the build
/// image (whose Python compiles it).
fn key(wheel: &Sha256, venv: &str, minor: u32, image: &str) -> String {
    Sha256::of(format!("bytecode-2\n{wheel}\n{venv}\n3.{minor}\n{image}").as_bytes())
        .short(32)
        .to_string()
}

/// The stored bytecode of a wheel, as a tar, when there is some.
pub fn tar_of(
    session: &Session,
    minor: u32,
    venv: &str,
    wheel: &Sha256,
) -> Result<Option<Vec<u8>>> {
    let repo = session.repo()?;
    let image = session.build_image(minor)?;
    let index = repo.cache.join("bytecode").join(key(wheel, venv, minor, &image));
    let Some(digest) = fs::read_to_string(index).ok().and_then(|t| Sha256::from_hex(t.trim()))
    else {
        return Ok(None);
    };
    Blobs::new(&repo.cache).get(&digest).map(Some)
}

/// Stores bytecode that came as a tar (from the shared cache) for a wheel.
pub fn store_tar(
    session: &Session,
    minor: u32,
    venv: &str,
    wheel: &Sha256,
    tar: &[u8],
) -> Result<()> {
    store(session, minor, venv, wheel, &read_tree(tar)?)
}

/// Stores bytecode compiled elsewhere (during the wheel's own build) for a wheel.
pub fn store(session: &Session, minor: u32, venv: &str, wheel: &Sha256, tree: &Tree) -> Result<()> {
    let repo = session.repo()?;
    let image = session.build_image(minor)?;
    let key = key(wheel, venv, minor, &image);
    keep(&Blobs::new(&repo.cache), &repo.cache.join("bytecode"), &key, tree).map(drop)
}

/// Stores a tree of `.pyc` files as a tar blob and indexes it under `key`; returns the tar.
fn keep(blobs: &Blobs, index: &Utf8Path, key: &str, tree: &Tree) -> Result<Vec<u8>> {
    let layer = tree.write(0)?;
    let digest = blobs.put(&layer.tar, Some(&layer.diff_id))?;
    fs::create_dir_all(index)?;
    crate::files::write_atomic(&index.join(key), digest.hex())?;
    Ok(layer.tar)
}

/// The `.pyc` files of each wheel (as layer entries), compiling in one container run those
/// not cached yet. `minor` picks the build image.
pub fn of(session: &Session, minor: u32, venv: &str, wheels: &[Sources]) -> Result<Vec<Tree>> {
    let repo = session.repo()?;
    let image = session.build_image(minor)?;
    let blobs = Blobs::new(&repo.cache);
    let index = repo.cache.join("bytecode");
    let keys: Vec<String> = wheels.iter().map(|w| key(w.wheel, venv, minor, &image)).collect();
    let cached = |k: &str| -> Option<Sha256> {
        let digest =
            fs::read_to_string(index.join(k)).ok().and_then(|t| Sha256::from_hex(t.trim()))?;
        blobs.has(&digest).then_some(digest)
    };
    let mut missing: Vec<usize> =
        (0..wheels.len()).filter(|&i| cached(&keys[i]).is_none()).collect();
    let shared = session.shared();
    if let Some(shared) = shared {
        // Bytecode another runner compiled (the key names the compiler): no container here.
        missing.retain(|&i| {
            let Ok(Some(tar)) = shared.get_bytecode(&keys[i]) else { return true };
            read_tree(&tar).and_then(|tree| keep(&blobs, &index, &keys[i], &tree)).is_err()
        });
    }
    if !missing.is_empty() {
        let tmp = repo.scratch("bytecode")?;
        let result = compile(
            session,
            &image,
            &tmp,
            &missing.iter().map(|&i| &wheels[i]).collect::<Vec<_>>(),
        );
        let compiled = result.and_then(|trees| {
            for (tree, &i) in trees.iter().zip(&missing) {
                let tar = keep(&blobs, &index, &keys[i], tree)?;
                // Best effort: a runner that cannot publish only leaves more work to others.
                if let Some(shared) = shared {
                    let _ = shared.put_bytecode(&keys[i], &tar);
                }
            }
            Ok(())
        });
        let _ = fs::remove_dir_all(&tmp);
        compiled?;
    }
    keys.iter()
        .map(|k| {
            let digest = cached(k).context("compiled bytecode vanished from the cache")?;
            read_tree(&blobs.get(&digest)?)
        })
        .collect()
}

/// Writes each wheel's `.py` files at their image paths under `<tmp>/src/<n>/` and compiles
/// them in the build image, offline; returns the `.pyc` files of each.
fn compile(
    session: &Session,
    image: &str,
    tmp: &Utf8Path,
    wheels: &[&Sources],
) -> Result<Vec<Tree>> {
    let mut dirs = Vec::new();
    for (n, w) in wheels.iter().enumerate() {
        let root = tmp.join("src").join(n.to_string());
        fs::create_dir_all(&root)?;
        for f in w.files.iter().filter(|f| f.path.ends_with(".py")) {
            let path = root.join(&f.path);
            fs::create_dir_all(path.parent().unwrap_or(&root))?;
            fs::write(&path, &f.data)?;
        }
        dirs.push(format!("/work/src/{n}"));
    }
    // Each tree is compiled as if it were `/`: `-s` strips its folder, `-p /` names the file
    // as the image will. Files that do not compile (Python 2 leftovers) are skipped, as pip
    // does; `-qq` keeps the log quiet.
    let compileall = "python3 -m compileall -qq -j 0 --invalidation-mode unchecked-hash";
    let mut script = String::from("set -u\n");
    for dir in &dirs {
        script += &format!("{compileall} -s {dir} -p / {dir} || true\n");
    }
    let container = Container::offline(image)
        .user(&owner_of(tmp)?)
        .env("HOME=/tmp")
        .env("PYTHONHASHSEED=0")
        .mount(tmp, "/work")
        .command(["sh".to_string(), "-c".to_string(), script]);
    session
        .engine()?
        .run(&session.sh, &container)
        .context("compile bytecode in the build image")?;
    (0..wheels.len())
        .map(|n| {
            let root = tmp.join("src").join(n.to_string());
            let mut tree = Tree::new();
            collect_pyc(&root, &root, &mut tree)?;
            Ok(tree)
        })
        .collect()
}

/// The `.pyc` files below `root`, as a tree of the same paths.
pub fn collect_pyc(root: &Utf8Path, dir: &Utf8Path, tree: &mut Tree) -> Result<()> {
    for entry in dir.read_dir_utf8()? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_pyc(root, entry.path(), tree)?;
        } else if kind.is_file() && entry.file_name().ends_with(".pyc") {
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            tree.file(rel.as_str(), 0o644, fs::read(entry.path())?)?;
        }
    }
    Ok(())
}

/// A tree back from its tar (files only: the parents come with them).
fn read_tree(tar_bytes: &[u8]) -> Result<Tree> {
    use std::io::Read;
    let mut tree = Tree::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let path = entry.path()?.to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            tree.file(&path, 0o644, data)?;
        }
    }
    Ok(tree)
}
