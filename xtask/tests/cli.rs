//! The command line's conventions: usage errors exit 2, `--help` lists the environment and an
//! example per command, and with `--json` an error is one JSON document on stdout.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo_root, text};

fn xtask(repo: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("--repo").arg(repo).args(args);
    // A cache of the test's own: nothing lands in the fixtures' folders.
    cmd.env("XTASK_CACHE_DIR", common::scratch("cli-cache"));
    cmd.output().expect("run xtask")
}

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/bad").join(name)
}

/// The subcommands, as `--help` lists them.
fn commands() -> Vec<String> {
    let out = xtask(&repo_root(), &["--help"]);
    let help = text(&out.stdout);
    let listing = help.split("Commands:").nth(1).expect("a Commands: section");
    let listing = listing.split("\n\n").next().unwrap();
    listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let out = xtask(&repo_root(), &["build-image", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Usage: cargo xtask build-image"));
    let out = xtask(&repo_root(), &["-v", "-q", "list"]);
    assert_eq!(out.status.code(), Some(2), "-v and -q together: {}", text(&out.stderr));
    let out = xtask(&repo_root(), &["graph", "no-such-package"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn help_lists_the_environment_and_an_example_for_every_command() {
    let out = xtask(&repo_root(), &["--help"]);
    let help = text(&out.stdout);
    for var in ["DOCKER ", "DOCKER_BUILDKIT", "XTASK_CACHE_DIR", "XTASK_REGISTRY", "PIP_CERT"] {
        assert!(help.contains(var), "--help lacks {var}:\n{help}");
    }
    let commands = commands();
    assert!(commands.len() >= 10 && commands.contains(&"build-image".to_string()), "{commands:?}");
    for command in &commands {
        let out = xtask(&repo_root(), &[command, "--help"]);
        let help = text(&out.stdout);
        let example = help.split("Example:").nth(1).unwrap_or_else(|| panic!("{command}: {help}"));
        assert!(example.contains("cargo xtask "), "{command}: {example}");
    }
    // --registry means one thing wherever it appears.
    for command in ["build-image", "ci"] {
        let help = text(&xtask(&repo_root(), &[command, "--help"]).stdout);
        assert!(help.contains("host[:port][/namespace]"), "{command}: {help}");
    }
}

#[test]
fn with_json_an_error_is_a_json_document_on_stdout_naming_the_file() {
    // No such project: a message, no file.
    let out = xtask(&repo_root(), &["build-image", "no-such-project", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)));
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains("no-such-project"), "{json}");
    assert!(json["error"]["path"].is_null(), "{json}");
    assert!(text(&out.stderr).contains("error: "), "the error is on stderr too");
    // A manifest that does not parse: the path is the manifest that needs the fix.
    let out = xtask(&bad("parse-error"), &["build-image", "uses", "--json", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)));
    assert_eq!(json["error"]["path"], "projects/uses/pyproject.toml", "{json}");
    // A command whose JSON carries its own errors prints that one document, no second.
    let out = xtask(&bad("cycle"), &["graph", "a", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", text(&out.stdout)));
    assert_eq!(json["errors"][0]["path"], "libs/a/pyproject.toml", "{json}");
}
