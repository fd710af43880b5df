//! Helpers for end-to-end tests: sample-repo copies, xtask runs, caches and engine calls.
#![allow(dead_code)]

use fs_err as fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn repo_root() -> PathBuf {
    xtask::project_root().into_std_path_buf()
}

/// The cache every end-to-end test shares (content-addressed, so sharing is safe).
pub fn shared_cache() -> PathBuf {
    repo_root().join("target/xtask-test-cache")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new empty folder under target/, unique to this test process and call.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = repo_root().join("target/e2e").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a folder (hidden entries, caches and target/ left out).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "__pycache__" || name == "target" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&*name));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A copy of the sample monorepo (libs, projects, docker, root manifest) to edit freely.
pub fn sample_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    let root = repo_root();
    for part in ["libs", "projects", "docker"] {
        copy_tree(&root.join(part), &dir.join(part));
    }
    fs::copy(root.join("pyproject.toml"), dir.join("pyproject.toml")).unwrap();
    dir
}

/// A cache of its own, seeded with the shared toolchain and wheelhouse (downloads), but with
/// no built wheels.
pub fn private_cache(name: &str) -> PathBuf {
    let dir = scratch(&format!("cache-{name}"));
    for part in ["toolchain", "wheelhouse"] {
        let src = shared_cache().join(part);
        if src.exists() {
            copy_tree(&src, &dir.join(part));
        }
    }
    dir
}

pub fn xtask_cmd(repo: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("--repo").arg(repo).args(args).env("XTASK_CACHE_DIR", cache);
    cmd
}

pub fn xtask(repo: &Path, cache: &Path, args: &[&str]) -> Output {
    xtask_cmd(repo, cache, args).output().expect("run xtask")
}

/// Runs xtask and parses its JSON stdout; panics with stderr when it fails.
pub fn xtask_json(repo: &Path, cache: &Path, args: &[&str]) -> serde_json::Value {
    let out = xtask(repo, cache, args);
    assert!(out.status.success(), "xtask {args:?} failed:\n{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("xtask {args:?}: bad JSON ({e}):\n{}", text(&out.stdout)))
}

pub fn docker(args: &[&str]) -> Output {
    let out = Command::new(std::env::var("DOCKER").unwrap_or_else(|_| "docker".into()))
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success() || args.first() == Some(&"run"),
        "docker {args:?} failed (is the engine up? run the tests with `cargo xtask test`):\n{}",
        text(&out.stderr)
    );
    out
}

/// The most recent build image xtask made for the tools' Python, 3.11 (labelled
/// xtask.toolchain): the one that holds Poetry.
pub fn build_image() -> String {
    let out = docker(&[
        "images",
        "--filter",
        "dangling=false",
        "--filter",
        "label=xtask.toolchain",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    text(&out.stdout)
        .lines()
        .find(|image| image.contains(":3.11-"))
        .expect("no xtask build image for Python 3.11; run a wheels test first")
        .to_string()
}

/// A `$DOCKER` that logs every engine call before running the real one: (shim, log).
pub fn docker_shim(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let log = dir.join("calls.log");
    let shim = dir.join("docker");
    fs::write(&shim, format!("#!/bin/sh\necho \"$@\" >> {}\nexec docker \"$@\"\n", log.display()))
        .unwrap();
    fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (shim, log)
}

/// Replaces `from` with `to` in a file; panics when `from` is not there, so an edit that no
/// longer matches the sample cannot make a test pass without changing anything.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    assert!(text.contains(from), "{path:?} does not contain {from:?}");
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Appends a line (or lines) to a file, creating it when missing.
pub fn append(path: &Path, text: &str) {
    let mut current = fs::read_to_string(path).unwrap_or_default();
    current += text;
    fs::write(path, current).unwrap();
}

/// A copy of the fixture monorepo `xtask/test_data/monorepos/<name>`, hidden files included
/// (`.dockerignore` matters), to build with no config.
pub fn fixture_copy(name: &str) -> PathBuf {
    fn copy_all(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if [".git", ".venv", "__pycache__", "target"].contains(&name.as_str()) {
                continue;
            }
            let (src, dst) = (entry.path(), to.join(&name));
            if entry.file_type().unwrap().is_dir() {
                copy_all(&src, &dst);
            } else {
                fs::copy(&src, &dst).unwrap();
            }
        }
    }
    let dir = scratch(&format!("fixture-{name}"));
    copy_all(&repo_root().join("xtask/test_data/monorepos").join(name), &dir);
    dir
}
