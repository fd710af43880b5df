//! End to end on a real engine: fetch, wheels and lock on the sample monorepo, and their faults.
//! These tests need a running Docker engine (`cargo xtask test` starts one); without it they fail.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use fs_err as fs;
use xtask::model::names::normalize;

const PROJECTS: &[(&str, &str)] = &[
    ("projects/hello-world", "hello-world"),
    ("projects/gw-iaas/export", "export-models"),
    ("projects/gw-iaas/clients", "gw-clients"),
];

/// name → version of every package in a poetry.lock.
fn lock_versions(lock: &Path) -> BTreeMap<String, String> {
    let doc: toml::Table = fs::read_to_string(lock).unwrap().parse().unwrap();
    doc["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (normalize(p["name"].as_str().unwrap()), p["version"].as_str().unwrap().to_string())
        })
        .collect()
}

fn read_metadata(wheel: &str) -> String {
    let mut zip = zip::ZipArchive::new(fs::File::open(wheel).unwrap()).unwrap();
    let name = zip.file_names().find(|n| n.ends_with(".dist-info/METADATA")).unwrap().to_string();
    let mut s = String::new();
    zip.by_name(&name).unwrap().read_to_string(&mut s).unwrap();
    s
}

fn shas(json: &serde_json::Value) -> BTreeMap<String, (String, bool)> {
    json["wheels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let key = w["package"].as_str().or(w["name"].as_str()).unwrap().to_string();
            (key, (w["sha256"].as_str().unwrap().to_string(), w["cached"].as_bool().unwrap()))
        })
        .collect()
}

/// Fetches and builds `project`'s wheels, installs them offline with --require-hashes into a
/// fresh venv in the bare runtime image, and checks pip check, locked versions and the console
/// script's line. Returns the install report.
fn install_and_check(repo: &Path, cache: &Path, project: &str, script: &str) -> serde_json::Value {
    let fetched = xtask_json(repo, cache, &["fetch", project, "--json"]);
    let wheels = xtask_json(repo, cache, &["wheels", project, "--json"]);
    let stage = scratch("install");
    let dir = stage.join("wheels");
    fs::create_dir_all(&dir).unwrap();
    let mut requirements = fs::read_to_string(fetched["requirements"].as_str().unwrap()).unwrap();
    let mut local = BTreeMap::new();
    for w in wheels["wheels"].as_array().unwrap() {
        let file = Path::new(w["file"].as_str().unwrap());
        let name = file.file_name().unwrap().to_str().unwrap();
        let version = name.split('-').nth(1).unwrap();
        requirements += &format!(
            "{}=={version} --hash=sha256:{}\n",
            w["package"].as_str().unwrap(),
            w["sha256"].as_str().unwrap()
        );
        local.insert(w["package"].as_str().unwrap().to_string(), version.to_string());
        fs::copy(file, dir.join(name)).unwrap();
        let metadata = read_metadata(w["file"].as_str().unwrap());
        assert!(!metadata.contains("file://") && !metadata.contains("@ /"), "{name}:\n{metadata}");
    }
    for w in fetched["wheels"].as_array().unwrap() {
        let file = Path::new(w["file"].as_str().unwrap());
        fs::copy(file, dir.join(file.file_name().unwrap())).unwrap();
    }
    fs::write(dir.join("requirements.txt"), &requirements).unwrap();
    fs::copy(repo_root().join("xtask/test_data/e2e/install_check.py"), stage.join("check.py"))
        .unwrap();
    let mount = format!("{}:/w:ro", stage.display());
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        "python:3.11-slim",
        "python3",
        "/w/check.py",
        script,
    ]);
    assert!(out.status.success(), "{project}: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["install"],
        0,
        "{project}: pip install failed:\n{}\n{requirements}",
        report["install_log"].as_str().unwrap()
    );
    assert_eq!(report["check"], 0, "{project}: pip check: {}", report["check_log"]);
    let locked = lock_versions(&repo.join(project).join("poetry.lock"));
    for (name, version) in report["installed"].as_object().unwrap() {
        let name = normalize(name);
        if ["pip", "setuptools", "wheel"].contains(&name.as_str()) {
            continue;
        }
        let expected = local
            .get(&name)
            .or(locked.get(&name))
            .unwrap_or_else(|| panic!("{project}: {name} is not locked"));
        assert_eq!(version.as_str().unwrap(), expected, "{project}: {name}");
    }
    assert_eq!(report["script_rc"], 0, "{project}: {}", report["script_err"]);
    let line = report["script"].as_str().unwrap().lines().next().unwrap_or_default().to_string();
    for (name, version) in &local {
        let dotted = name.replacen("hermes-", "hermes.", 1);
        assert!(
            line.contains(&format!("{dotted} {version}")),
            "{project}: {line:?} lacks {dotted} {version}"
        );
    }
    report
}

#[test]
fn every_sample_project_installs_offline_with_locked_versions_and_runs() {
    for (project, script) in PROJECTS {
        install_and_check(&repo_root(), &shared_cache(), project, script);
    }
}

#[test]
fn an_sdist_only_dependency_is_locked_built_into_a_wheel_and_installed() {
    let repo = sample_copy("sdist");
    // docopt 0.6.2 is published as an sdist only.
    edit(
        &repo.join("projects/hello-world/pyproject.toml"),
        "python = \"^3.11\"\n",
        "python = \"^3.11\"\ndocopt = \"0.6.2\"\n",
    );
    let out = xtask(&repo, &shared_cache(), &["lock", "hello-world"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The sample pins its build environments, and docopt's (setuptools, wheel) is new: pinned as
    // a user is told to. (Without it, a machine that has no docopt wheel yet refuses the build.)
    let out = xtask(&repo, &shared_cache(), &["lock", "--toolchain"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pinned = fs::read_to_string(repo.join("docker/toolchain.lock")).unwrap();
    assert!(pinned.contains("docopt"), "the toolchain lock names no env for docopt:\n{pinned}");
    let report = install_and_check(&repo, &shared_cache(), "projects/hello-world", "hello-world");
    assert_eq!(report["installed"]["docopt"], "0.6.2");
}

#[test]
fn fetch_agrees_with_poetry_export() {
    let root = repo_root();
    let cache = shared_cache();
    for (project, _) in PROJECTS {
        let fetched = xtask_json(&root, &cache, &["fetch", project, "--json"]);
        let ours: Vec<String> = fetched["wheels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| format!("{}=={}", w["name"].as_str().unwrap(), w["version"].as_str().unwrap()))
            .collect();
        let mount = format!("{}:/repo:ro", root.display());
        let workdir = format!("/repo/{project}");
        let out = docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-e",
            "HOME=/tmp",
            "-v",
            &mount,
            "-w",
            &workdir,
            &build_image(),
            "python3",
            "/repo/xtask/test_data/e2e/export_check.py",
        ]);
        assert!(out.status.success(), "{project}: poetry export failed: {}", text(&out.stderr));
        let theirs: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        assert_eq!(ours, theirs, "{project}: fetch and poetry export disagree");
        assert!(!ours.is_empty());
    }
}

#[test]
fn rebuilt_wheels_are_byte_identical_and_pinned() {
    let root = repo_root();
    let shared = xtask_json(&root, &shared_cache(), &["wheels", "clients", "--json"]);
    let cache = private_cache("rebuild");
    let fresh = xtask_json(&root, &cache, &["wheels", "clients", "--json"]);
    let (a, b) = (shas(&shared), shas(&fresh));
    assert!(b.values().all(|(_, cached)| !cached), "a private cache starts empty");
    assert_eq!(
        a.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>(),
        b.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>()
    );
    let gwf = fresh["wheels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["package"] == "hermes-gwftools")
        .unwrap();
    let metadata = read_metadata(gwf["file"].as_str().unwrap());
    assert!(metadata.contains("Requires-Dist: hermes.stillwater==0.3.1\n"), "{metadata}");
    assert!(
        metadata.contains("Requires-Dist: hermes.quiver[tabular]==0.2.0; extra == \"gcs\"\n"),
        "{metadata}"
    );
}

#[test]
fn warm_wheels_start_no_container_and_an_edit_rebuilds_one_wheel() {
    let repo = sample_copy("edit");
    let cache = private_cache("edit");
    let before = shas(&xtask_json(&repo, &cache, &["wheels", "clients", "--json"]));
    // A $DOCKER shim records every engine call of the warm run.
    let (shim, log) = docker_shim("shim");
    let warm = xtask_cmd(&repo, &cache, &["wheels", "clients", "--json"])
        .env("DOCKER", &shim)
        .output()
        .unwrap();
    assert!(warm.status.success(), "{}", text(&warm.stderr));
    assert!(
        !log.exists(),
        "a warm run called the engine: {}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(shas(&serde_json::from_slice(&warm.stdout).unwrap())
        .values()
        .all(|(_, cached)| *cached));

    let typeo = repo.join("libs/hermes/hermes.typeo/hermes/typeo/__init__.py");
    append(&typeo, "\nEDITED = True\n");
    let out = xtask_cmd(&repo, &cache, &["wheels", "clients", "--json"])
        .env("DOCKER", &shim)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = shas(&serde_json::from_slice(&out.stdout).unwrap());
    for (package, (sha, cached)) in &after {
        if package == "hermes-typeo" {
            assert!(!cached && *sha != before[package].0, "typeo must be rebuilt");
        } else {
            assert!(*cached && *sha == before[package].0, "{package} must be reused unchanged");
        }
    }
    assert!(fs::read_to_string(&log).unwrap().contains("run"), "the rebuild went through $DOCKER");
}

#[test]
fn missing_and_stale_locks_are_errors_that_say_how_to_fix_them() {
    let repo = sample_copy("locks");
    let cache = shared_cache();
    let lock = repo.join("projects/hello-world/poetry.lock");
    let saved = fs::read(&lock).unwrap();
    fs::remove_file(&lock).unwrap();
    let out = xtask(&repo, &cache, &["fetch", "hello-world"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("projects/hello-world has no lock")
            && stderr.contains(&format!(
                "run `cargo xtask --repo {} lock projects/hello-world`",
                repo.display()
            )),
        "{stderr}"
    );

    fs::write(&lock, saved).unwrap();
    edit(
        &repo.join("projects/hello-world/pyproject.toml"),
        "python = \"^3.11\"\n",
        "python = \"^3.11\"\ntabulate = \"^0.10\"\n",
    );
    let out = xtask(&repo, &cache, &["fetch", "hello-world"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("projects/hello-world/poetry.lock does not fit")
            && stderr.contains("tabulate")
            && stderr.contains("lock projects/hello-world`"),
        "{stderr}"
    );
}

#[test]
fn a_failing_backend_is_named_with_the_tail_of_its_output() {
    let repo = sample_copy("backend");
    let cache = private_cache("backend");
    edit(
        &repo.join("libs/hermes/hermes.typeo/pyproject.toml"),
        "{ include = \"hermes\" }",
        "{ include = \"no_such_module\" }",
    );
    let out = xtask(&repo, &cache, &["wheels", "hello-world"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("build a wheel of hermes-typeo (libs/hermes/hermes.typeo)"),
        "{stderr}"
    );
    assert!(stderr.contains("no_such_module"), "the backend's own message is shown: {stderr}");
    let entries = fs::read_dir(cache.join("wheels"))
        .map(|d| {
            d.filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(entries, 0, "nothing is stored from a failed build");
}

#[test]
fn a_corrupt_wheelhouse_file_is_discarded_and_fetched_again() {
    let root = repo_root();
    let cache = private_cache("corrupt");
    let first = xtask_json(&root, &cache, &["fetch", "hello-world", "--json"]);
    let toml_wheel = first["wheels"][0]["file"].as_str().unwrap().to_string();
    let good = first["wheels"][0]["sha256"].as_str().unwrap().to_string();
    fs::write(&toml_wheel, b"not the wheel the lock pins").unwrap();
    let out = xtask(&root, &cache, &["fetch", "hello-world"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("discarded toml-0.10.2-py2.py3-none-any.whl"),
        "{}",
        text(&out.stdout)
    );
    let again = xtask_json(&root, &cache, &["fetch", "hello-world", "--json"]);
    assert_eq!(again["wheels"][0]["sha256"].as_str().unwrap(), good);
    assert_eq!(again["wheels"][0]["cached"], true);
}

#[test]
fn a_killed_build_leaves_no_broken_cache_entry() {
    let root = repo_root();
    let cache = private_cache("kill");
    let mut child = xtask_cmd(&root, &cache, &["wheels", "clients", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let scratch = format!("wheels~{}-", child.id());
    let started = || {
        let entries = fs::read_dir(cache.join("tmp")).into_iter().flatten();
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(&scratch))
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !started() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started(), "the run never made its scratch folder: the kill would test nothing");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL: no cleanup code runs
    child.wait().unwrap();
    for entry in fs::read_dir(cache.join("wheels")).into_iter().flatten() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let wheels: Vec<_> = fs::read_dir(entry.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "whl"))
            .collect();
        assert_eq!(wheels.len(), 1, "{:?}", entry.path());
        zip::ZipArchive::new(fs::File::open(&wheels[0]).unwrap()).expect("a complete wheel");
    }
    let again = xtask_json(&root, &cache, &["wheels", "clients", "--json"]);
    let shared = xtask_json(&root, &shared_cache(), &["wheels", "clients", "--json"]);
    assert_eq!(
        shas(&again).values().map(|v| &v.0).collect::<Vec<_>>(),
        shas(&shared).values().map(|v| &v.0).collect::<Vec<_>>()
    );
}

#[test]
fn concurrent_runs_both_succeed_with_identical_wheels() {
    let root = repo_root();
    let cache = private_cache("concurrent");
    let spawn = || {
        xtask_cmd(&root, &cache, &["wheels", "export", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(b.status.success(), "{}", text(&b.stderr));
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_slice(&a.stdout).unwrap(), serde_json::from_slice(&b.stdout).unwrap());
    assert_eq!(
        shas(&a).values().map(|v| &v.0).collect::<Vec<_>>(),
        shas(&b).values().map(|v| &v.0).collect::<Vec<_>>()
    );
}

#[test]
fn engine_down_is_a_clear_error() {
    let root = repo_root();
    let cache = private_cache("down");
    let out = xtask_cmd(&root, &cache, &["wheels", "hello-world"])
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
    let out = xtask_cmd(&root, &cache, &["fetch", "hello-world"])
        .env("DOCKER", "/nonexistent/docker")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no container engine CLI"), "{}", text(&out.stderr));
}

#[test]
fn lock_uses_the_pinned_poetry_and_writes_only_the_lock() {
    let repo = sample_copy("lock");
    let cache = shared_cache();
    let lock = repo.join("projects/hello-world/poetry.lock");
    let before = fs::read_to_string(&lock).unwrap();
    fs::remove_file(&lock).unwrap();
    let out = xtask(&repo, &cache, &["lock", "projects/hello-world"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = fs::read_to_string(&lock).unwrap();
    assert!(
        after.starts_with("# This file is automatically @generated by Poetry 2.5.1"),
        "{}",
        &after[..80]
    );
    assert_eq!(after, before, "the same Poetry on the same manifest gives the committed lock");
}
