//! CI runners against one loopback registry with the shared cache on: the second reuses the
//! first one's wheels and finds the unchanged image in the registry, so it builds nothing; a
//! third, after a change, builds only the changed wheel and compiles no third-party bytecode.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use fs_err as fs;

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.email=ci@example.org", "-c", "user.name=ci", "-C"])
        .arg(repo)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// A runner's cache: only the pinned toolchain (no wheelhouse, no wheels, no bytecode).
fn fresh(name: &str) -> std::path::PathBuf {
    let cache = private_cache(name);
    let _ = fs::remove_dir_all(cache.join("wheelhouse"));
    cache
}

/// The projects of `ci --since registry --matrix`.
fn since_registry(repo: &Path, namespace: &str) -> Vec<String> {
    let out =
        xtask_cmd(repo, &private_cache("fleet-m"), &["ci", "--since", "registry", "--matrix"])
            .env("XTASK_REGISTRY", namespace)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let include = json["include"].as_array().unwrap().iter();
    include.map(|e| e["project"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_second_runner_reuses_wheels_and_skips_an_unchanged_image() {
    let registry = std::env::var("XTASK_TEST_REGISTRY").expect(
        "XTASK_TEST_REGISTRY: run the tests with `cargo xtask test`, which starts a registry",
    );
    // A namespace of this test's own, so no other test's image or wheel can be found.
    let namespace = format!("{registry}/fleet{}", std::process::id());
    let repo = sample_copy("fleet");
    append(&repo.join("docker/images.toml"), "\n[cache]\nregistry = true\n");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "one"]);
    let run = |cache: &Path, shim: &Path| {
        let out = xtask_cmd(&repo, cache, &["ci", "--project", "hello-world", "--push", "--json"])
            .env("XTASK_REGISTRY", &namespace)
            .env("XTASK_DEFAULT_BRANCH", "main")
            .env("GITHUB_REF_NAME", "main")
            .env("DOCKER", shim)
            .output()
            .unwrap();
        assert!(out.status.success(), "ci failed:\n{}", text(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (json, text(&out.stderr) + &text(&out.stdout))
    };
    // Runner A: empty caches, downloads, builds and pushes; publishes its wheels.
    let (shim_a, _) = docker_shim("fleet-a");
    let (a, _) = run(&fresh("fleet-a"), &shim_a);
    assert_eq!(a["images"][0]["status"], "built");
    // An unrelated commit: the image's inputs did not change.
    fs::write(repo.join("NOTES.md"), "release notes\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "two"]);
    // Runner B: another empty cache. Its wheels come from the registry, and the image there
    // (under `latest`, from runner A) has the same fingerprint: tagged, never built or loaded.
    let (shim_b, log_b) = docker_shim("fleet-b");
    let (b, output) = run(&fresh("fleet-b"), &shim_b);
    assert_eq!(b["images"][0]["status"], "up-to-date", "{output}");
    assert!(output.contains("local wheels (0 built, 2 from the shared cache)"), "{output}");
    assert!(output.contains("fetch third-party wheels (1 from the shared cache)"), "{output}");
    let calls = fs::read_to_string(&log_b).unwrap_or_default();
    for verb in ["build", "load", "push"] {
        assert!(
            !calls.lines().any(|l| l.starts_with(verb)),
            "runner B called `docker {verb}`:\n{calls}"
        );
    }
    // (Its only container reads the runtime image's Python, once per image id and cache.)
    assert!(
        !calls.contains("build_wheels") && !calls.contains("compileall"),
        "runner B built a wheel or compiled bytecode:\n{calls}"
    );
    let sha = git(&repo, &["rev-parse", "--short=12", "HEAD"]);
    assert!(b["images"][0]["image"].as_str().unwrap().ends_with(&format!(":{sha}")));
    assert_eq!(a["images"][0]["id"], b["images"][0]["id"], "the same image, named twice");

    // `--since registry`: each project against the commit of its `latest` image.
    let matrix = || since_registry(&repo, &namespace);
    let first = matrix();
    assert!(
        !first.contains(&"projects/hello-world".to_string()),
        "unchanged since its image: {first:?}"
    );
    assert!(
        first.contains(&"projects/gw-iaas/export".to_string()),
        "never pushed, so built: {first:?}"
    );
    append(&repo.join("projects/hello-world/hello_world/__init__.py"), "# changed\n");
    git(&repo, &["commit", "-qam", "three"]);
    assert!(matrix().contains(&"projects/hello-world".to_string()), "a change since its image");

    // Runner C, empty caches, after that change: the project's wheel is built, the library's
    // and the third-party one come from the registry, bytecode included.
    let (shim_c, log_c) = docker_shim("fleet-c");
    let (c, output) = run(&fresh("fleet-c"), &shim_c);
    assert_eq!(c["images"][0]["status"], "built", "{output}");
    assert!(output.contains("local wheels (1 built, 1 from the shared cache)"), "{output}");
    assert!(output.contains("fetch third-party wheels (1 from the shared cache)"), "{output}");
    let calls = fs::read_to_string(&log_c).unwrap_or_default();
    assert!(!calls.contains("compileall"), "runner C compiled bytecode itself:\n{calls}");
}
