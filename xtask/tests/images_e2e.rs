//! End to end on a real engine: `build-image` contexts, image content, layers, no-op, push, faults.
//! These tests need a running Docker engine (`cargo xtask test` starts one); without it they fail.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use fs_err as fs;

/// A tag no other test uses, so parallel tests never overwrite each other's images.
fn unique_tag(name: &str) -> String {
    format!("t-{name}-{}", std::process::id())
}

fn build(repo: &Path, cache: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["build-image", "--json"];
    all.extend_from_slice(args);
    xtask_json(repo, cache, &all)
}

fn image_files(image: &str) -> serde_json::Value {
    let script = repo_root().join("xtask/test_data/e2e/image_files.py");
    let mount = format!("{}:/check.py:ro", script.display());
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        "--entrypoint",
        "python3",
        image,
        "/check.py",
    ]);
    assert!(out.status.success(), "{image}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn layers(image: &str) -> Vec<String> {
    let out = docker(&["image", "inspect", "--format", "{{json .RootFS.Layers}}", image]);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn labels(image: &str) -> serde_json::Value {
    let out = docker(&["image", "inspect", "--format", "{{json .Config.Labels}}", image]);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn calls(log: &Path) -> String {
    fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn every_sample_image_runs_as_non_root_with_installed_packages_only() {
    let root = repo_root();
    let tag = unique_tag("content");
    let json = build(&root, &shared_cache(), &["--all", "--tag", &tag]);
    let images = json["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    let base = image_files("python:3.11-slim");
    let base_files: BTreeSet<&str> =
        base["files"].as_array().unwrap().iter().filter_map(|f| f.as_str()).collect();
    for (project, script, expect) in [
        ("projects/hello-world", "hello-world", "hello-world 1.0.0: hermes.typeo 0.1.5"),
        ("projects/gw-iaas/clients", "gw-clients", "clients 0.2.3: hermes.gwftools 0.1.2, hermes.quiver 0.2.0, hermes.stillwater 0.3.1, hermes.typeo 0.1.5"),
        ("projects/gw-iaas/export", "", "export 0.4.0: hermes.quiver 0.2.0, hermes.typeo 0.1.5"),
    ] {
        let row = images.iter().find(|i| i["project"] == project).unwrap();
        let image = row["image"].as_str().unwrap();
        assert_eq!(row["status"], "built");
        // export's own Dockerfile sets the entrypoint; the others run their console script.
        let out = if script.is_empty() { docker(&["run", "--rm", image]) } else { docker(&["run", "--rm", image, script]) };
        assert!(out.status.success(), "{image}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with(expect), "{image}: {}", text(&out.stdout));
        let report = image_files(image);
        assert_ne!(report["uid"], 0, "{image} runs as root");
        assert!(report["pip_check"].as_str().unwrap().contains("No broken requirements found"), "{image}: pip check: {}", report["pip_check"]);
        assert!(report["compilers"].as_array().unwrap().is_empty(), "{image}: {}", report["compilers"]);
        let added: Vec<&str> =
            report["files"].as_array().unwrap().iter().filter_map(|f| f.as_str()).filter(|f| !base_files.contains(f)).collect();
        assert!(!added.is_empty());
        for f in &added {
            let name = f.rsplit('/').next().unwrap();
            assert!(!["pyproject.toml", "poetry.lock", "requirements.txt"].contains(&name), "{image}: {f}");
            assert!(!f.ends_with(".whl") && !f.contains("/.cache/") && !f.starts_with("/tmp/") && !f.starts_with("/wheels") && !f.starts_with("/layers"), "{image}: {f}");
            assert!(!f.contains("/site-packages/poetry/"), "{image}: {f}");
            assert!(!f.contains("/tests/") || f.contains("/site-packages/"), "{image}: tests outside site-packages: {f}");
            assert!(!f.contains("/site-packages/hermes/") || !f.contains("test_"), "{image}: a local test file: {f}");
            if f.ends_with(".py") {
                assert!(f.starts_with("/opt/venv/lib/python3.11/site-packages/"), "{image}: source outside site-packages: {f}");
            }
        }
        let labels = labels(image);
        // (`source` is the git remote's URL: this checkout may have none.)
        for key in ["org.opencontainers.image.revision", "org.opencontainers.image.version", "org.opencontainers.image.created", "org.opencontainers.image.title", "xtask.fingerprint"] {
            assert!(labels[key].as_str().is_some_and(|v| !v.is_empty()), "{image}: label {key} missing: {labels}");
        }
        assert_eq!(row["layers"].as_u64().unwrap() as usize, layers(image).len());
        assert!(row["context_bytes"].as_u64().unwrap() > 0 && row["size"].as_u64() > row["base_size"].as_u64());
    }
    // With the engine builder, xtask's context for export holds the layers it installed, no
    // wheel and nothing of the repo; its own Dockerfile is built on top, with its project folder
    // as the context. (Removed first: nothing left by an earlier run may pass for it.)
    let ctx = root.join("target/xtask/contexts/gw-iaas-export");
    let _ = fs::remove_dir_all(&ctx);
    let engine_tag = unique_tag("content-engine");
    build(
        &root,
        &shared_cache(),
        &["projects/gw-iaas/export", "--tag", &engine_tag, "--builder", "engine"],
    );
    assert!(
        ctx.join("layers/third-party/opt/venv/lib/python3.11/site-packages/numpy").is_dir()
            && ctx.join("layers/project").is_dir()
            && !ctx.join("wheels").exists()
    );
    assert!(fs::read_to_string(ctx.join("Dockerfile.project"))
        .unwrap()
        .contains("COPY config/export.toml"));
    for absent in ["config", "export", "pyproject.toml", "tests", "poetry.lock"] {
        assert!(!ctx.join(absent).exists(), "{absent} is in xtask's context");
    }
}

#[test]
fn no_op_calls_no_build_and_a_removed_image_is_rebuilt() {
    let root = repo_root();
    let tag = unique_tag("noop");
    let first = build(&root, &shared_cache(), &["hello-world", "--tag", &tag]);
    assert_eq!(first["images"][0]["status"], "built");
    let (shim, log) = docker_shim("noop");
    let out =
        xtask_cmd(&root, &shared_cache(), &["build-image", "hello-world", "--tag", &tag, "--json"])
            .env("DOCKER", &shim)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["images"][0]["status"], "up-to-date");
    assert!(
        !calls(&log).lines().any(|l| l.starts_with("build") || l.starts_with("load")),
        "no-op called build: {}",
        calls(&log)
    );

    let image = format!("hello-world:{tag}");
    // --no-prune: the untagged images under it are the cache that concurrent tests build on.
    docker(&["rmi", "--no-prune", &image]);
    let out =
        xtask_cmd(&root, &shared_cache(), &["build-image", "hello-world", "--tag", &tag, "--json"])
            .env("DOCKER", &shim)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["images"][0]["status"], "built",
        "a removed image is never reported as up to date"
    );
    assert!(calls(&log).lines().any(|l| l.starts_with("build") || l.starts_with("load")));
    assert!(docker(&["run", "--rm", &image, "hello-world"]).status.success());
}

#[test]
fn a_lib_edit_keeps_the_third_party_layer() {
    let repo = sample_copy("layers");
    let cache = shared_cache();
    let tag = unique_tag("layers");
    let image = format!("gw-iaas/export:{tag}");
    build(&repo, &cache, &["export", "--tag", &tag]);
    let before = layers(&image);
    let typeo = repo.join("libs/hermes/hermes.typeo/hermes/typeo/__init__.py");
    edit(
        &typeo,
        "\"\"\"Name and version of this library as installed.\"\"\"",
        "\"\"\"Name and version (edited).\"\"\"",
    );
    let json = build(&repo, &cache, &["export", "--tag", &tag]);
    assert_eq!(json["images"][0]["status"], "built");
    let after = layers(&image);
    assert_eq!(before.len(), after.len());
    // base, venv + user, third-party, libs, project, then export's COPY and the SBOM
    assert_eq!(
        before[..3],
        after[..3],
        "base, venv and third-party layers are reused byte for byte"
    );
    assert_ne!(before[3], after[3], "the libs layer changes");
    assert_eq!(
        before[4], after[4],
        "the project layer is unchanged: its files and timestamps are the same"
    );
    // The last layer changes: the SBOM lists the new libs wheel.
}

#[test]
fn a_failing_dockerfile_leaves_the_previous_image_untouched() {
    let repo = sample_copy("fail");
    let cache = shared_cache();
    let tag = unique_tag("fail");
    let image = format!("hello-world:{tag}");
    build(&repo, &cache, &["hello-world", "--tag", &tag]);
    let id_before = text(&docker(&["image", "inspect", "--format", "{{.Id}}", &image]).stdout);
    fs::write(
        repo.join("projects/hello-world/Dockerfile"),
        "FROM app\nRUN echo checking && false\n",
    )
    .unwrap();
    let out = xtask(&repo, &cache, &["build-image", "hello-world", "--tag", &tag]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("RUN echo checking && false"), "the failing step is shown: {stderr}");
    assert!(stderr.contains("projects/hello-world/Dockerfile"), "{stderr}");
    let id_after = text(&docker(&["image", "inspect", "--format", "{{.Id}}", &image]).stdout);
    assert_eq!(id_before, id_after);
}

#[test]
fn bad_input_fails_before_any_build() {
    let root = repo_root();
    let (shim, log) = docker_shim("bad");
    let run = |repo: &Path, args: &[&str]| {
        let out = xtask_cmd(repo, &shared_cache(), args).env("DOCKER", &shim).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        text(&out.stderr)
    };
    assert!(run(&root, &["build-image", "hello-wrld"])
        .contains("did you mean hello-world (projects/hello-world)"));
    assert!(run(&root, &["build-image", "hello-world", "--tag", "Bad Tag"])
        .contains("not a valid image reference"));
    let broken = sample_copy("bad-closure");
    edit(
        &broken.join("libs/hermes/hermes.quiver/pyproject.toml"),
        "../hermes.typeo",
        "../hermes.missing",
    );
    let stderr = run(&broken, &["build-image", "export"]);
    assert!(
        stderr.contains("libs/hermes/hermes.quiver/pyproject.toml")
            && stderr.contains("git submodule update --init"),
        "{stderr}"
    );
    assert!(calls(&log).is_empty(), "bad input reached the engine: {}", calls(&log));
    let out = xtask_cmd(&root, &shared_cache(), &["build-image", "hello-world"])
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
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let repo = sample_copy("dry");
    let (shim, log) = docker_shim("dry");
    let out = xtask_cmd(&repo, &private_cache("dry"), &["build-image", "clients", "--dry-run"])
        .env("DOCKER", &shim)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("wheel build hermes-typeo 0.1.5"), "{stdout}");
    assert!(
        stdout.contains("third-party cached  click==8.5.1")
            || stdout.contains("third-party fetch   click==8.5.1"),
        "{stdout}"
    );
    assert!(stdout.contains("docker build --network none --tag clients:latest"), "{stdout}");
    assert!(calls(&log).is_empty());
    assert!(!repo.join("target/xtask/contexts").exists());
}

#[test]
fn push_to_a_local_registry_then_pull_and_run() {
    let registry = std::env::var("XTASK_TEST_REGISTRY").expect(
        "XTASK_TEST_REGISTRY: run the tests with `cargo xtask test`, which starts a registry",
    );
    let root = repo_root();
    let tag = unique_tag("push");
    // The push goes over the registry API: the engine is never asked to push.
    let (shim, log) = docker_shim("push");
    let out = xtask_cmd(
        &root,
        &shared_cache(),
        &["build-image", "hello-world", "--tag", &tag, "--registry", &registry, "--push", "--json"],
    )
    .env("DOCKER", &shim)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls = fs::read_to_string(&log).unwrap_or_default();
    assert!(!calls.lines().any(|l| l.starts_with("push")), "the engine pushed: {calls}");
    let row = &json["images"][0];
    let image = row["image"].as_str().unwrap();
    assert_eq!(image, format!("{registry}/hello-world:{tag}"));
    assert!(row["digest"].as_str().unwrap().starts_with("sha256:"));
    docker(&["rmi", "--no-prune", image]);
    let pulled = docker(&["pull", image]);
    assert!(pulled.status.success());
    let out = docker(&["run", "--rm", image, "hello-world"]);
    assert!(text(&out.stdout).starts_with("hello-world 1.0.0"));
}

#[test]
fn layers_made_by_separate_builds_of_the_same_inputs_are_identical() {
    // Two builds from scratch (no engine cache) must agree byte for byte on every layer but
    // the base's, so no test, and no user, depends on which build filled the cache.
    let repo = sample_copy("same-layers");
    let cache = shared_cache();
    let (a, b) = (unique_tag("same-a"), unique_tag("same-b"));
    build(&repo, &cache, &["clients", "--tag", &a, "--no-cache"]);
    build(&repo, &cache, &["clients", "--tag", &b, "--no-cache"]);
    let (la, lb) = (layers(&format!("clients:{a}")), layers(&format!("clients:{b}")));
    assert_eq!(la, lb, "two builds of the same inputs differ");
}

#[test]
fn two_builds_from_empty_caches_give_the_same_image_id_and_digest() {
    // Same commit, same base, two caches that start empty (no wheels, no layers, no bytecode):
    // the image id (config digest) and the OCI manifest digest must be identical.
    let root = repo_root();
    let tag = unique_tag("repro");
    let mut ids = Vec::new();
    for side in ["a", "b"] {
        let cache = private_cache(&format!("repro-{side}"));
        for part in ["wheels", "layers", "bytecode", "blobs"] {
            assert!(!cache.join(part).exists(), "{part} is not empty");
        }
        let oci = scratch(&format!("oci-{side}"));
        let json = build(
            &root,
            &cache,
            &["export", "--tag", &tag, "--oci", oci.to_str().unwrap(), "--no-cache"],
        );
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(oci.join("index.json")).unwrap()).unwrap();
        let digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
        ids.push((json["images"][0]["id"].as_str().unwrap().to_string(), digest, oci));
    }
    assert_eq!(ids[0].0, ids[1].0, "two cold builds gave two image ids");
    assert_eq!(ids[0].1, ids[1].1, "two cold builds gave two manifest digests");
    // The layout is valid for other tools: skopeo reads it and checks every blob.
    let layout = format!("oci:{}:gw-iaas/export:{tag}", ids[0].2.display());
    let copy_to = scratch("oci-copy");
    let out = Command::new("skopeo")
        .args(["copy", &layout, &format!("dir:{}", copy_to.display())])
        .output()
        .expect("run skopeo (cargo xtask test installs it)");
    assert!(out.status.success(), "skopeo copy: {}", text(&out.stderr));
    let sbom = ids[0].2.join(format!("gw-iaas_export_{tag}.sbom.cdx.json"));
    let sbom: serde_json::Value = serde_json::from_slice(&fs::read(sbom).unwrap()).unwrap();
    let names: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"numpy") && names.contains(&"hermes-quiver") && names.contains(&"export"),
        "{names:?}"
    );
    let numpy =
        sbom["components"].as_array().unwrap().iter().find(|c| c["name"] == "numpy").unwrap();
    assert!(numpy["licenses"].is_array(), "numpy's licence is read from its metadata: {numpy}");
}
