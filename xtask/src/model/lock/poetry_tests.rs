//! Unit tests of lock parsing and the third-party walk, on inline locks of each version.

use super::*;
use crate::runtime::Runtime;

const LOCK_21: &str = r#"
[[package]]
name = "click"
version = "8.1.7"
optional = false
python-versions = ">=3.7"
groups = ["main"]
files = [{file = "click-8.1.7-py3-none-any.whl", hash = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]
[package.dependencies]
colorama = {version = "*", markers = "platform_system == \"Windows\""}
[package.source]
type = "legacy"
url = "https://pypi.org/simple"
reference = "pypi-simple"

[[package]]
name = "colorama"
version = "0.4.6"
optional = false
python-versions = "*"
files = [{file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]

[[package]]
name = "hermes-quiver"
version = "0.2.0"
optional = false
python-versions = ">=3.11"
files = []
develop = true
[package.dependencies]
"hermes.typeo" = "*"
tabulate = {version = ">=0.9", optional = true}
[package.extras]
tabular = ["tabulate (>=0.9,<1)"]
[package.source]
type = "directory"
url = "../../libs/quiver"

[[package]]
name = "hermes-typeo"
version = "0.1.5"
optional = false
python-versions = "^3.11"
files = []
[package.dependencies]
toml = "^0.10.2"
tomli = {version = "^2", python = "<3.11"}
[package.source]
type = "directory"
url = "../../libs/typeo"

[[package]]
name = "tabulate"
version = "0.10.0"
optional = false
python-versions = ">=3.10"
files = [{file = "tabulate-0.10.0-py3-none-any.whl", hash = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}]

[[package]]
name = "toml"
version = "0.10.2"
optional = false
python-versions = "*"
files = [{file = "toml-0.10.2-py2.py3-none-any.whl", hash = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"}]

[[package]]
name = "tomli"
version = "2.0.1"
optional = false
python-versions = "*"
files = []

[metadata]
lock-version = "2.1"
python-versions = "^3.11"
content-hash = "x"
"#;

fn names(pinned: &[Pinned]) -> Vec<String> {
    pinned.iter().map(|p| format!("{}=={}", p.name, p.version)).collect()
}

fn root(name: &str, extras: &[&str]) -> Root {
    Root {
        name: PackageName::new(name),
        extras: extras.iter().map(ToString::to_string).collect(),
        markers: None,
    }
}

#[test]
fn walks_extras_markers_and_skips_local_directories() {
    let lock = parse_lock(LOCK_21).unwrap();
    let set = third_party(
        &lock,
        &[root("hermes-quiver", &["tabular"]), root("click", &[])],
        &Runtime::assumed(),
    )
    .unwrap();
    assert_eq!(names(&set), vec!["click==8.1.7", "tabulate==0.10.0", "toml==0.10.2"]);
    assert_eq!(set[0].index.as_deref(), Some("https://pypi.org/simple"));
    assert_eq!(
        set[0].files,
        vec![LockedFile {
            name: "click-8.1.7-py3-none-any.whl".to_string(),
            sha256: Sha256::from_hex(&"a".repeat(64)).unwrap()
        }]
    );
    let without = third_party(&lock, &[root("hermes-quiver", &[])], &Runtime::assumed()).unwrap();
    assert_eq!(names(&without), vec!["toml==0.10.2"]);
}

#[test]
fn root_markers_are_evaluated() {
    let lock = parse_lock(LOCK_21).unwrap();
    let r = Root {
        name: PackageName::new("click"),
        extras: vec![],
        markers: Some("sys_platform == 'win32'".into()),
    };
    assert!(third_party(&lock, &[r], &Runtime::assumed()).unwrap().is_empty());
}

#[test]
fn lock_11_keeps_hashes_in_metadata_files() {
    let lock = parse_lock(
        r#"
[[package]]
name = "toml"
version = "0.10.2"
category = "main"
optional = false
python-versions = "*"

[metadata]
lock-version = "1.1"
python-versions = "^3.8"
content-hash = "x"

[metadata.files]
toml = [{file = "toml-0.10.2-py2.py3-none-any.whl", hash = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"}]
"#,
    )
    .unwrap();
    let set = third_party(&lock, &[root("toml", &[])], &Runtime::assumed()).unwrap();
    assert_eq!(set[0].files[0].sha256.hex(), "d".repeat(64));
    assert_eq!(set[0].index, None);
}

#[test]
fn a_missing_package_says_to_relock() {
    let lock = parse_lock(LOCK_21).unwrap();
    let e = third_party(&lock, &[root("numpy", &[])], &Runtime::assumed()).unwrap_err().to_string();
    assert!(e.contains("has no package \"numpy\""), "{e}");
}

#[test]
fn poetry_python_constraints() {
    for (c, ok) in [
        ("^3.11", true),
        ("^3.8", true),
        ("<3.11", false),
        (">=3.8,<3.12", true),
        ("~3.11", true),
        ("~3.10", false),
        ("3.11.*", true),
        ("<3.8 || >=3.11", true),
        (">=3.12", false),
        ("*", true),
    ] {
        assert_eq!(python_matches(c, "3.11.2"), ok, "{c}");
    }
}

#[test]
fn lock_20_has_per_package_files_without_groups() {
    // Poetry 1.5 to 1.8 wrote lock-version 2.0: files per package, no groups or markers.
    let lock = parse_lock(
        r#"
[[package]]
name = "click"
version = "8.1.7"
optional = false
python-versions = ">=3.7"
files = [{file = "click-8.1.7-py3-none-any.whl", hash = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]

[package.dependencies]
colorama = {version = "*", markers = "platform_system == \"Windows\""}

[[package]]
name = "colorama"
version = "0.4.6"
optional = false
python-versions = "*"
files = [{file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "x"
"#,
    )
    .unwrap();
    let set = third_party(&lock, &[root("click", &[])], &Runtime::assumed()).unwrap();
    assert_eq!(names(&set), vec!["click==8.1.7"], "colorama is Windows-only");
}

#[test]
fn lock_file_names_that_are_paths_are_dropped() {
    let hash = format!("sha256:{}", "a".repeat(64));
    let lock = parse_lock(&format!(
        "[[package]]\nname = \"x\"\nversion = \"1\"\nfiles = [{{file = \"../../victim.whl\", hash = \"{hash}\"}}, {{file = \"x-1-py3-none-any.whl\", hash = \"{hash}\"}}]\n"
    ))
    .unwrap();
    let names: Vec<&str> = lock.packages[0].files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["x-1-py3-none-any.whl"]);
}
