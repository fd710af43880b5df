//! Regression tests for what a careless or hostile user can do: poisoned caches, secrets in
//! labels, names as paths, symlinks out of a project, wrong runtimes. On a real engine; these
//! tests fail without one (`cargo xtask test` starts it).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use fs_err as fs;

fn unique_tag(name: &str) -> String {
    format!("h-{name}-{}", std::process::id())
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

fn fails(repo: &Path, args: &[&str]) -> String {
    let out = xtask(repo, &shared_cache(), args);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail:\n{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn credentials_in_the_git_remote_reach_no_label_and_no_history() {
    let repo = sample_copy("creds");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["remote", "add", "origin", "https://gitlab-ci-token:s3cr3t@example.invalid/acme/repo.git?t=x"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "sample"]);
    let tag = unique_tag("creds");
    xtask_json(&repo, &shared_cache(), &["build-image", "hello-world", "--tag", &tag, "--json"]);
    let image = format!("hello-world:{tag}");
    let labels = text(&docker(&["image", "inspect", "--format", "{{json .Config.Labels}}", &image]).stdout);
    assert!(labels.contains("\"org.opencontainers.image.source\":\"https://example.invalid/acme/repo.git\""), "{labels}");
    let history = text(&docker(&["history", "--no-trunc", &image]).stdout);
    for secret in ["s3cr3t", "gitlab-ci-token", "t=x"] {
        assert!(!labels.contains(secret) && !history.contains(secret), "{secret} leaked:\n{labels}\n{history}");
    }
}

#[test]
fn a_package_name_that_is_a_path_is_refused_where_it_is_declared() {
    let repo = sample_copy("name-path");
    edit(&repo.join("projects/hello-world/pyproject.toml"), "name = \"hello-world\"", "name = \"/tmp/x/victim\"");
    let stderr = fails(&repo, &["build-image", "projects/hello-world"]);
    assert!(
        stderr.contains("projects/hello-world/pyproject.toml") && stderr.contains("not a valid package name"),
        "{stderr}"
    );
    let out = xtask(&repo, &shared_cache(), &["list", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = json["packages"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert!(!paths.contains(&"projects/hello-world"), "list still accepts it: {paths:?}");
    assert!(text(&out.stderr).contains("not a valid package name"));
}

#[test]
fn a_runtime_python_the_image_does_not_have_is_refused_before_building() {
    let repo = sample_copy("runtime");
    let (shim, log) = docker_shim("runtime");
    append(&repo.join("docker/images.toml"), "\n[runtime]\npython_full_version = \"3.12.1\"\n");
    let out = xtask_cmd(&repo, &shared_cache(), &["build-image", "hello-world"]).env("DOCKER", &shim).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("[runtime] python_full_version = \"3.12.1\"") && stderr.contains("3.11"), "{stderr}");
    let calls = fs::read_to_string(&log).unwrap_or_default();
    assert!(!calls.lines().any(|l| l.starts_with("build")), "it built: {calls}");

    edit(&repo.join("docker/images.toml"), "\"3.12.1\"", "\"banana\"");
    let stderr = fails(&repo, &["build-image", "hello-world"]);
    assert!(stderr.contains("docker/images.toml") && stderr.contains("banana"), "{stderr}");
}
