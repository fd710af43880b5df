//! `list` and `graph` end to end: the real binary on the sample repo, golden files and bad fixtures.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo_root, text};
use fs_err as fs;

fn xtask(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .output()
        .expect("run xtask")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/bad").join(name)
}

/// Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it instead.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, actual).unwrap();
    }
    let expected = fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {path:?}; run with UPDATE_GOLDEN=1"));
    assert_eq!(
        actual, expected,
        "output differs from {path:?}; if intended, rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn sample_repo_list_and_closures_match_golden_files() {
    let root = repo_root();
    for (args, file) in [
        (vec!["list", "--json"], "list.json"),
        (vec!["graph", "--json"], "graph.json"),
        (vec!["graph", "projects/gw-iaas/clients", "--json"], "graph-clients.json"),
        (vec!["graph", "export", "--json"], "graph-export.json"),
        (vec!["graph", "hermes.gwftools", "--dot"], "graph-gwftools.dot"),
    ] {
        let out = xtask(&root, &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        golden(file, &text(&out.stdout));
    }
}

#[test]
fn closure_order_puts_dependencies_first_with_extras() {
    let out = xtask(&repo_root(), &["graph", "clients", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let closure: Vec<(String, Vec<String>)> = json["closure"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let extras = c["extras"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_string())
                .collect();
            (c["name"].as_str().unwrap().to_string(), extras)
        })
        .collect();
    let pos = |n: &str| closure.iter().position(|(name, _)| name == n).unwrap();
    assert!(pos("hermes-typeo") < pos("hermes-quiver"));
    assert!(pos("hermes-quiver") < pos("hermes-gwftools"));
    assert_eq!(closure.last().unwrap().0, "clients");
    assert_eq!(closure[pos("hermes-quiver")].1, vec!["tabular"]);
    assert_eq!(closure[pos("hermes-gwftools")].1, vec!["gcs"]);
}

#[test]
fn unknown_package_suggests_near_names() {
    let out = xtask(&repo_root(), &["graph", "hello-wrld"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("did you mean hello-world (projects/hello-world)"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `graph <package> --json` on a fixture: exit 1, the JSON still printed with the error,
/// and the same error on stderr naming the manifest.
fn assert_bad(name: &str, package: &str, manifest: &str, needles: &[&str]) {
    let out = xtask(&fixture(name), &["graph", package, "--json"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON on stdout despite the error");
    let errors = json["errors"].as_array().unwrap();
    let error = errors
        .iter()
        .find(|e| e["path"] == manifest)
        .unwrap_or_else(|| panic!("{name}: {errors:?}"));
    let message = error["message"].as_str().unwrap();
    for needle in needles {
        assert!(message.contains(needle), "{name}: {message:?} lacks {needle:?}");
    }
    assert!(stderr.contains(&format!("error: {manifest}: ")), "{name}: {stderr}");
}

#[test]
fn a_cycle_is_printed() {
    assert_bad(
        "cycle",
        "app",
        "libs/a/pyproject.toml",
        &["dependency cycle: a (libs/a) -> b (libs/b) -> a (libs/a)"],
    );
    assert_eq!(xtask(&fixture("cycle"), &["list"]).status.code(), Some(1));
}

#[test]
fn a_path_outside_the_repo() {
    assert_bad(
        "outside",
        "app",
        "projects/app/pyproject.toml",
        &["[tool.poetry.dependencies] \"shared\"", "outside the repo"],
    );
}

#[test]
fn a_missing_folder_hints_at_submodules() {
    assert_bad(
        "missing-folder",
        "app",
        "projects/app/pyproject.toml",
        &[
            "\"hermes.vendored\"",
            "libs/vendored, which does not exist",
            "git submodule update --init",
        ],
    );
}

#[test]
fn a_folder_without_a_manifest() {
    assert_bad(
        "no-manifest",
        "app",
        "projects/app/pyproject.toml",
        &["libs/notes, which has no pyproject.toml"],
    );
}

#[test]
fn two_packages_with_one_name_in_a_closure() {
    assert_bad(
        "duplicate-name",
        "app",
        "libs/util-v2/pyproject.toml",
        &["two packages named \"util\"", "libs/util-v1 and libs/util-v2"],
    );
    // Outside one closure, sharing a name is allowed.
    assert!(xtask(&fixture("duplicate-name"), &["graph", "mid"]).status.success());
}

#[test]
fn a_manifest_that_does_not_parse_is_fatal_only_when_needed() {
    assert_bad(
        "parse-error",
        "uses",
        "projects/uses/pyproject.toml",
        &["libs/broken/pyproject.toml, which does not parse", "invalid TOML", "line 5"],
    );
    let fine = xtask(&fixture("parse-error"), &["graph", "fine"]);
    assert!(fine.status.success(), "{}", text(&fine.stderr));
    let list = xtask(&fixture("parse-error"), &["list", "--json"]);
    assert!(list.status.success());
    assert!(text(&list.stderr).contains("warning: libs/broken/pyproject.toml: invalid TOML"));
}

#[test]
fn a_non_utf8_manifest() {
    assert_bad(
        "non-utf8",
        "uses",
        "projects/uses/pyproject.toml",
        &["libs/latin1/pyproject.toml", "not UTF-8", "line 4, byte offset 63"],
    );
}

#[test]
fn generated_repo_round_trips_through_graph() {
    let out_dir = std::env::temp_dir().join(format!("xtask-gen-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out_dir);
    let gen = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["gen-repo", "--libs", "40", "--projects", "10", "--depth", "4", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", text(&gen.stderr));
    let out = xtask(&out_dir, &["graph", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["packages"].as_array().unwrap().len(), 50);
    fs::remove_dir_all(&out_dir).unwrap();
}
