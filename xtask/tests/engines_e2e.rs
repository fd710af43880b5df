//! Other engines and builders: BuildKit next to the legacy builder, and Podman as `$DOCKER`
//! for building and pushing (this machine's Podman builds but cannot run containers).
//! These tests need the engines `cargo xtask test` brings up; without them they fail.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use fs_err as fs;

/// Debian's Docker CLI, which has BuildKit (`DOCKER_BUILDKIT=1`); the one first on PATH may
/// only have the legacy builder.
const BUILDKIT_CLI: &str = "/usr/bin/docker";

fn xtask_with(repo: &Path, cache: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = xtask_cmd(repo, cache, args);
    cmd.envs(vars.iter().copied());
    cmd.output().expect("run xtask")
}

fn json_of(out: &Output, what: &str) -> serde_json::Value {
    assert!(out.status.success(), "{what} failed:\n{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: bad JSON ({e})"))
}

fn podman(args: &[&str]) -> Output {
    let out = Command::new("podman")
        .args(args)
        .output()
        .expect("run podman (`cargo xtask test` installs it; Debian's package is `podman`)");
    assert!(out.status.success(), "podman {args:?} failed:\n{}", text(&out.stderr));
    out
}

#[test]
fn buildkit_streams_its_progress_and_builds_an_extension_and_the_engine_path() {
    assert!(
        Path::new(BUILDKIT_CLI).exists(),
        "{BUILDKIT_CLI} is missing: `cargo xtask test` installs docker.io, which provides it"
    );
    let repo = sample_copy("buildkit");
    let cache = shared_cache();
    // An extension with a RUN step: BuildKit runs it, as the app user, with the image's venv.
    fs::write(
        repo.join("projects/hello-world/Dockerfile"),
        "FROM app\nRUN python -c 'import hello_world' && echo ran > /tmp/marker\n",
    )
    .unwrap();
    let tag = format!("bk-{}", std::process::id());
    let buildkit = [("DOCKER", BUILDKIT_CLI), ("DOCKER_BUILDKIT", "1")];
    for builder in ["xtask", "engine"] {
        let args =
            ["-v", "build-image", "hello-world", "--tag", &tag, "--builder", builder, "--json"];
        let out = xtask_with(&repo, &cache, &buildkit, &args);
        let json = json_of(&out, &format!("BuildKit build, --builder {builder}"));
        let stderr = text(&out.stderr);
        // BuildKit's plain progress (`#5 [2/2] RUN …`), streamed because of -v.
        assert!(
            stderr.lines().any(|l| l.trim_start().starts_with('#') && l.contains("RUN python")),
            "no BuildKit progress with -v (--builder {builder}):\n{stderr}"
        );
        let image = json["images"][0]["image"].as_str().unwrap().to_string();
        // The id xtask reports is the one the engine has under the tag.
        let id = docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
        assert_eq!(json["images"][0]["id"].as_str().unwrap(), text(&id.stdout).trim());
        let out = docker(&["run", "--rm", "--network", "none", &image, "cat", "/tmp/marker"]);
        assert_eq!(text(&out.stdout).trim(), "ran", "{}", text(&out.stderr));
        let out = docker(&["run", "--rm", "--network", "none", &image, "whoami"]);
        assert_eq!(text(&out.stdout).trim(), "app");
    }
    // Without -v the engine's lines stay out of the output; with -q, the steps too.
    fs::write(repo.join("projects/hello-world/Dockerfile"), "FROM app\nRUN echo quiet\n").unwrap();
    let args = ["build-image", "hello-world", "--tag", &tag];
    let out = xtask_with(&repo, &cache, &buildkit, &args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("build hello-world:"), "no step lines:\n{stdout}");
    assert!(!stdout.lines().any(|l| l.trim_start().starts_with('#')), "engine lines:\n{stdout}");
    fs::write(repo.join("projects/hello-world/Dockerfile"), "FROM app\nRUN echo quieter\n")
        .unwrap();
    let out = xtask_with(&repo, &cache, &buildkit, &[&["-q"], &args[..]].concat());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!stdout.contains("build hello-world:"), "step lines with -q:\n{stdout}");
}

#[test]
fn podman_loads_the_same_image_docker_gets_and_pushes_both_builders_to_a_registry() {
    let registry = std::env::var("XTASK_TEST_REGISTRY").expect(
        "XTASK_TEST_REGISTRY: run the tests with `cargo xtask test`, which starts a registry",
    );
    // Podman's store gets the base from Docker's (nothing can be pulled here).
    let base = "python:3.11-slim";
    let have = Command::new("podman").args(["image", "exists", base]).status();
    if !have.expect("run podman (`cargo xtask test` installs it)").success() {
        let dir = scratch("podman-base");
        let tar = dir.join("base.tar");
        docker(&["save", "-o", tar.to_str().unwrap(), base]);
        podman(&["load", "-q", "-i", tar.to_str().unwrap()]);
    }
    let repo = sample_copy("podman");
    let cache = private_cache("podman");
    let tag = format!("pm-{}", std::process::id());
    let args = ["build-image", "hello-world", "--tag", &tag, "--json"];
    // Podman cannot run containers on this machine (rlimits), and wheels are built in one:
    // Docker builds them into the cache first; everything after that is Podman's.
    let with_docker = json_of(&xtask(&repo, &cache, &args), "build with docker");
    let podman_env = [("DOCKER", "podman")];
    let with_podman = json_of(&xtask_with(&repo, &cache, &podman_env, &args), "build with podman");
    let (d, p) = (&with_docker["images"][0], &with_podman["images"][0]);
    assert_eq!(p["status"], "built", "{with_podman}");
    // xtask assembles the image: the same bytes, so the same id, whichever engine loads it.
    assert_eq!(d["id"], p["id"], "docker {with_docker}\npodman {with_podman}");
    let image = p["image"].as_str().unwrap();
    let id = podman(&["image", "inspect", "--format", "{{.Id}}", image]);
    assert_eq!(format!("sha256:{}", text(&id.stdout).trim()), p["id"].as_str().unwrap());
    // Nothing changed: up to date in Podman's store too.
    let again = json_of(&xtask_with(&repo, &cache, &podman_env, &args), "podman no-op");
    assert_eq!(again["images"][0]["status"], "up-to-date", "{again}");
    // Push: xtask's image over the registry API, the engine-built one by `podman push`; each
    // digest reported is the one the registry serves.
    for (builder, namespace) in [("xtask", "podman-x"), ("engine", "podman-e")] {
        let target = format!("{registry}/{namespace}-{}", std::process::id());
        let push = [
            "build-image",
            "hello-world",
            "--builder",
            builder,
            "--push",
            "--registry",
            &target,
            "--json",
        ];
        let out = json_of(&xtask_with(&repo, &cache, &podman_env, &push), "podman push");
        let digest = out["images"][0]["digest"].as_str().unwrap_or_else(|| panic!("{out}"));
        let reference = format!("docker://{target}/hello-world:latest");
        let served = Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}", &reference])
            .output()
            .expect("run skopeo");
        assert!(served.status.success(), "{}", text(&served.stderr));
        assert_eq!(text(&served.stdout).trim(), digest, "--builder {builder}");
    }
    let pushed = [format!("{registry}/podman-e-{}/hello-world:latest", std::process::id())];
    let _ = Command::new("podman").args(["rmi", "-f", image, &pushed[0]]).output();
}
