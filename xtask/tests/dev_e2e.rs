//! End to end on a real engine: `cargo xtask dev` with live sources, exit codes, ownership, faults.
//! These tests need a running Docker engine (`cargo xtask test` starts one); without it they fail.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;
use fs_err as fs;

fn dev(repo: &Path, args: &[&str]) -> Output {
    let mut all = vec!["dev"];
    all.extend_from_slice(args);
    xtask(repo, &shared_cache(), &all)
}

#[test]
fn an_edit_on_the_host_is_live_without_a_rebuild() {
    let repo = sample_copy("live");
    let first = dev(&repo, &["hello-world", "--", "hello-world"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout).trim(), "hello-world 1.0.0: hermes.typeo 0.1.5");

    let typeo = repo.join("libs/hermes/hermes.typeo/hermes/typeo/__init__.py");
    edit(
        &typeo,
        "return f\"{DIST} {version(DIST)}\"",
        "return f\"{DIST} {version(DIST)} (edited live)\"",
    );
    let (shim, log) = docker_shim("live");
    let second = xtask_cmd(&repo, &shared_cache(), &["dev", "hello-world", "--", "hello-world"])
        .env("DOCKER", &shim)
        .output()
        .unwrap();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout).trim(), "hello-world 1.0.0: hermes.typeo 0.1.5 (edited live)");
    let calls = fs::read_to_string(&log).unwrap();
    assert!(
        !calls.lines().any(|l| l.starts_with("build")),
        "an edit rebuilt the dev image: {calls}"
    );

    // A manifest change (a new version, unique to this run) is what rebuilds it.
    let version = format!("0.1.5.dev{}", std::process::id());
    edit(
        &repo.join("libs/hermes/hermes.typeo/pyproject.toml"),
        "version = \"0.1.5\"",
        &format!("version = \"{version}\""),
    );
    let third = xtask_cmd(&repo, &shared_cache(), &["dev", "hello-world", "--", "hello-world"])
        .env("DOCKER", &shim)
        .output()
        .unwrap();
    assert!(
        text(&third.stdout).contains(&format!("hermes.typeo {version}")),
        "{}{}",
        text(&third.stdout),
        text(&third.stderr)
    );
    assert!(fs::read_to_string(&log).unwrap().lines().any(|l| l.starts_with("build")));
}

#[test]
fn pytest_runs_the_tests_of_the_project_and_its_libraries() {
    let root = repo_root();
    for (project, expected) in [("hello-world", 3), ("export", 6), ("clients", 7)] {
        let out = dev(&root, &[project, "--", "pytest", "-q"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{project}: {stdout}{}", text(&out.stderr));
        assert!(stdout.contains(&format!("{expected} passed")), "{project}: {stdout}");
    }
}

#[test]
fn exit_codes_pass_through_and_a_missing_command_is_named() {
    let root = repo_root();
    let out = dev(&root, &["hello-world", "--", "python", "-c", "import sys; sys.exit(3)"]);
    assert_eq!(out.status.code(), Some(3));
    let out = dev(&root, &["hello-world", "--", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains(
            "`no-such-command` is not a command in the dev image of projects/hello-world"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn files_written_into_the_mounts_belong_to_the_host_user() {
    let repo = sample_copy("owner");
    let status = Command::new("chown").args(["-R", "4321:4321"]).arg(&repo).status().unwrap();
    assert!(status.success());
    let out =
        dev(&repo, &["hello-world", "--", "python", "-c", "open('written.txt', 'w').write('x')"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta = fs::metadata(repo.join("projects/hello-world/written.txt")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4321, 4321));
}

#[test]
fn without_a_command_it_opens_an_interactive_shell_on_a_tty() {
    let root = repo_root();
    // `script` gives the child a pseudo-terminal, as a developer's terminal would.
    let command =
        format!("{} --repo {} dev hello-world", env!("CARGO_BIN_EXE_xtask"), root.display());
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("XTASK_CACHE_DIR", shared_cache())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"tty; pwd; hello-world; exit 0\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("/dev/pts/"), "no tty in the container: {stdout}");
    assert!(stdout.contains("/repo/projects/hello-world"), "{stdout}");
    assert!(stdout.contains("hello-world 1.0.0: hermes.typeo 0.1.5"), "{stdout}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let root = repo_root();
    let out = dev(&root, &["hello-wrld", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("did you mean hello-world"));
    let out = xtask_cmd(&root, &shared_cache(), &["dev", "hello-world", "--", "true"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("the engine at DOCKER_HOST=unix:///nonexistent/docker.sock does not answer"),
        "{}",
        text(&out.stderr)
    );
    let broken = sample_copy("dev-broken");
    let manifest = broken.join("libs/hermes/hermes.quiver/pyproject.toml");
    fs::write(&manifest, "[project\nname = ").unwrap();
    let out = dev(&broken, &["export", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("libs/hermes/hermes.quiver/pyproject.toml")
            && text(&out.stderr).contains("invalid TOML"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn pytest_alone_runs_every_test_of_a_folder_with_spaces_in_its_name() {
    let repo = sample_copy("spaced");
    let spaced = repo.join("projects/hello world spaced");
    copy_tree(&repo.join("projects/hello-world"), &spaced);
    edit(&spaced.join("pyproject.toml"), "name = \"hello-world\"", "name = \"hello-spaced\"");
    fs::remove_file(spaced.join("Dockerfile")).ok();
    for n in ["a", "b", "c"] {
        fs::write(
            spaced.join(format!("tests/test_{n}.py")),
            format!("def test_{n}():\n    assert True\n"),
        )
        .unwrap();
    }
    fs::remove_file(spaced.join("tests/test_hello.py")).unwrap();
    let out = dev(&repo, &["projects/hello world spaced", "--", "pytest", "--collect-only", "-q"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    for n in ["a", "b", "c"] {
        assert!(stdout.contains(&format!("tests/test_{n}.py::test_{n}")), "{stdout}");
    }
    assert!(stdout.contains("test_typeo.py::"), "the closure's tests are collected too: {stdout}");
    let out = dev(&repo, &["projects/hello world spaced", "--", "pytest", "-q"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}
