//! End-to-end: `build-image --platform linux/amd64,linux/arm64` on a two-platform base in the
//! loopback registry: an image index, each platform's wheels, the amd64 image running.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use fs_err as fs;
use xtask::hash::Sha256;

fn registry() -> String {
    std::env::var("XTASK_TEST_REGISTRY").expect(
        "XTASK_TEST_REGISTRY: run the tests with `cargo xtask test`, which starts a registry",
    )
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out.stderr));
    out.stdout
}

/// A Debian bookworm rootfs for arm64 with python3, as a tar: debootstrap's first stage
/// downloads and unpacks the packages without running anything (no emulation here), and
/// base-passwd's files become /etc/passwd and /etc/group, as its install script would do.
/// Made once per machine.
fn arm64_rootfs_tar() -> PathBuf {
    let tar = repo_root().join("target/xtask-test-tools/bookworm-arm64-python3.tar");
    if tar.is_file() {
        return tar;
    }
    let dir = scratch("arm64-rootfs");
    run(Command::new("debootstrap")
        .args(["--foreign", "--arch=arm64", "--variant=minbase", "--include=python3", "bookworm"])
        .arg(&dir)
        .arg("http://deb.debian.org/debian"));
    let archives = dir.join("var/cache/apt/archives");
    for deb in fs::read_dir(&archives).unwrap() {
        let deb = deb.unwrap().path();
        if deb.extension().is_some_and(|e| e == "deb") {
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&dir));
        }
    }
    for trash in ["var/cache/apt/archives", "debootstrap", "usr/share/doc", "usr/share/man"] {
        let _ = fs::remove_dir_all(dir.join(trash));
    }
    fs::copy(dir.join("usr/share/base-passwd/passwd.master"), dir.join("etc/passwd")).unwrap();
    fs::copy(dir.join("usr/share/base-passwd/group.master"), dir.join("etc/group")).unwrap();
    assert!(dir.join("usr/bin/python3").exists(), "the arm64 rootfs has no python3");
    fs::create_dir_all(tar.parent().unwrap()).unwrap();
    let partial = tar.with_extension("tar.part");
    run(Command::new("tar")
        .args(["--sort=name", "--numeric-owner", "--owner=0", "--group=0", "--mtime=@0", "-C"])
        .arg(&dir)
        .arg("-cf")
        .arg(&partial)
        .arg("."));
    fs::rename(&partial, &tar).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    tar
}

/// `<registry>/xtask-test-python:3.11-slim`, an index of two images: the engine's
/// python:3.11-slim stand-in for linux/amd64, and the arm64 rootfs for linux/arm64.
fn two_platform_base(registry: &str) -> String {
    let repo = format!("{registry}/xtask-test-python");
    let skopeo = |args: &[&str]| run(Command::new("skopeo").args(args));
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "docker-daemon:python:3.11-slim",
        &format!("docker://{repo}:amd64"),
    ]);
    // The arm64 image as an OCI layout: one layer, a config saying arm64.
    let layout = scratch("arm64-layout");
    let tar = fs::read(arm64_rootfs_tar()).unwrap();
    let diff_id = Sha256::of(&tar);
    let (gz, gz_digest) = xtask::oci::layer::gzip(&tar).unwrap();
    let config = serde_json::json!({
        "architecture": "arm64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["python3"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.prefixed()]},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": Sha256::of(&config).prefixed(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": gz_digest.prefixed(), "size": gz.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    for bytes in [&gz, &config, &manifest] {
        fs::write(blobs.join(Sha256::of(bytes).hex()), bytes).unwrap();
    }
    fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": Sha256::of(&manifest).prefixed(), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "arm64"}}]});
    fs::write(layout.join("index.json"), index.to_string()).unwrap();
    let source = format!("oci:{}:arm64", layout.display());
    skopeo(&["copy", "-q", "--dest-tls-verify=false", &source, &format!("docker://{repo}:arm64")]);
    // The index over both, as registries serve multi-platform images.
    let entries: Vec<serde_json::Value> = [("amd64", "amd64"), ("arm64", "arm64")]
        .iter()
        .map(|(tag, arch)| {
            let raw = skopeo(&[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{repo}:{tag}"),
            ]);
            let parsed: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            serde_json::json!({
                "mediaType": parsed["mediaType"], "digest": Sha256::of(&raw).prefixed(),
                "size": raw.len(), "platform": {"architecture": arch, "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries});
    let (host, name) = repo.split_once('/').unwrap();
    xtask::oci::registry::Repository::new(host, name)
        .push_manifest(
            "3.11-slim",
            xtask::oci::platform::INDEX_TYPE,
            &serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    fs::remove_dir_all(&layout).unwrap();
    format!("{repo}:3.11-slim")
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    fs::read(layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The names of the native libraries numpy ships in the image's layers.
fn numpy_libraries(layout: &Path, manifest: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let gz = blob(layout, layer["digest"].as_str().unwrap());
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut tar).unwrap();
        for entry in tar::Archive::new(tar.as_slice()).entries().unwrap() {
            let path = entry.unwrap().path().unwrap().to_string_lossy().into_owned();
            if path.contains("site-packages/numpy/") && path.ends_with(".so") {
                found.push(path);
            }
        }
    }
    found
}

/// The digest and content of the image index the layout names `name`.
fn index_named(layout: &Path, name: &str) -> (String, serde_json::Value) {
    let top = json(&fs::read(layout.join("index.json")).unwrap());
    let entry = top["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {top}"));
    assert_eq!(entry["mediaType"], "application/vnd.oci.image.index.v1+json");
    let digest = entry["digest"].as_str().unwrap().to_string();
    (digest.clone(), json(&blob(layout, &digest)))
}

#[test]
fn two_platforms_make_an_index_with_each_platforms_wheels_and_the_amd64_image_runs() {
    let registry = registry();
    let base = two_platform_base(&registry);
    // The engine has the base for this machine's platform: the runtime's Python is read there.
    run(Command::new("docker").args(["pull", "-q", &base]));
    let repo = sample_copy("platforms");
    edit(
        &repo.join("docker/images.toml"),
        "python_image = \"python:3.11-slim\"",
        &format!("python_image = \"{base}\""),
    );
    let oci = scratch("platforms-oci");
    let tag = format!("plat-{}", std::process::id());
    let oci_arg = oci.to_str().unwrap();
    let out = xtask(
        &repo,
        &shared_cache(),
        &[
            "build-image",
            "projects/gw-iaas/export",
            "--platform",
            "linux/amd64,linux/arm64",
            "--oci",
            oci_arg,
            "--push",
            "--registry",
            &registry,
            "--tag",
            &tag,
        ],
    );
    assert!(out.status.success(), "build-image --platform failed:\n{}", text(&out.stderr));

    // The layout names one index over two manifests, one per platform.
    let (index_digest, index) = index_named(&oci, &format!("gw-iaas/export:{tag}"));
    let manifests = index["manifests"].as_array().unwrap();
    let arches: Vec<&str> =
        manifests.iter().map(|m| m["platform"]["architecture"].as_str().unwrap()).collect();
    assert_eq!(arches, ["amd64", "arm64"]);

    // Each platform's image holds that platform's numpy, and the same local packages.
    let mut layers = Vec::new();
    for (m, (arch, machine)) in manifests.iter().zip([("amd64", "x86_64"), ("arm64", "aarch64")]) {
        let manifest = json(&blob(&oci, m["digest"].as_str().unwrap()));
        let config = json(&blob(&oci, manifest["config"]["digest"].as_str().unwrap()));
        assert_eq!(config["architecture"], arch);
        let libraries = numpy_libraries(&oci, &manifest);
        assert!(!libraries.is_empty(), "no numpy library in the {arch} image");
        for lib in &libraries {
            assert!(
                !lib.contains("-linux-gnu") || lib.contains(&format!("{machine}-linux-gnu")),
                "{lib} in the {arch} image"
            );
        }
        assert!(libraries.iter().any(|l| l.contains(&format!("{machine}-linux-gnu"))));
        let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap().clone();
        layers.push(diff_ids);
    }
    // The local libraries' layer is the same on both (pure Python wheels, one build).
    let tail = |ids: &Vec<serde_json::Value>, n: usize| ids[ids.len() - n].clone();
    assert_eq!(tail(&layers[0], 3), tail(&layers[1], 3), "libs layers differ");

    // The registry got the same index, and this machine's image runs.
    let pushed = format!("{registry}/gw-iaas/export:{tag}");
    let raw = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{pushed}"),
    ]));
    assert_eq!(Sha256::of(&raw).prefixed(), index_digest);
    let probe = "import numpy, platform; print(platform.machine(), numpy.__version__)";
    let ran = run(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "python",
        &pushed,
        "-c",
        probe,
    ]));
    assert!(text(&ran).starts_with("x86_64 "), "{}", text(&ran));
}
