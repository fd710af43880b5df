//! Unit tests of lock parsing and the third-party walk, on inline locks of each version.

use super::*;
use crate::model::lock::Root;
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
        python: None,
        constraint: None,
    }
}

/// The third-party set of a project whose dependencies are `roots`, on the assumed runtime.
fn walk(lock: &Lock, roots: &[Root]) -> Result<Vec<Pinned>, LockError> {
    walk_on(lock, roots, &Runtime::assumed())
}

fn walk_on(lock: &Lock, roots: &[Root], runtime: &Runtime) -> Result<Vec<Pinned>, LockError> {
    let project = PackageName::new("project");
    third_party(
        lock,
        &Request { project: &project, roots, all_groups: false, extras: &[], runtime },
    )
}

#[test]
fn walks_extras_markers_and_skips_local_directories() {
    let lock = parse(LOCK_21).unwrap();
    let set = walk(&lock, &[root("hermes-quiver", &["tabular"]), root("click", &[])]).unwrap();
    assert_eq!(names(&set), vec!["click==8.1.7", "tabulate==0.10.0", "toml==0.10.2"]);
    assert_eq!(set[0].index.as_deref(), Some("https://pypi.org/simple"));
    assert_eq!(
        set[0].files,
        vec![LockedFile {
            name: "click-8.1.7-py3-none-any.whl".to_string(),
            sha256: Sha256::from_hex(&"a".repeat(64)).unwrap(),
            url: None
        }]
    );
    let without = walk(&lock, &[root("hermes-quiver", &[])]).unwrap();
    assert_eq!(names(&without), vec!["toml==0.10.2"]);
}

#[test]
fn root_markers_are_evaluated() {
    let lock = parse(LOCK_21).unwrap();
    let r = Root { markers: Some("sys_platform == 'win32'".into()), ..root("click", &[]) };
    assert!(walk(&lock, &[r]).unwrap().is_empty());
}

#[test]
fn lock_11_keeps_hashes_in_metadata_files() {
    let lock = parse(
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
    let set = walk(&lock, &[root("toml", &[])]).unwrap();
    assert_eq!(set[0].files[0].sha256.hex(), "d".repeat(64));
    assert_eq!(set[0].index, None);
}

#[test]
fn a_missing_package_says_to_relock() {
    let lock = parse(LOCK_21).unwrap();
    let e = walk(&lock, &[root("numpy", &[])]).unwrap_err().to_string();
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
        assert_eq!(python_allows(Some(c), &Runtime::assumed()), ok, "{c}");
    }
}

#[test]
fn lock_20_has_per_package_files_without_groups() {
    // Poetry 1.5 to 1.8 wrote lock-version 2.0: files per package, no groups or markers.
    let lock = parse(
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
    let set = walk(&lock, &[root("click", &[])]).unwrap();
    assert_eq!(names(&set), vec!["click==8.1.7"], "colorama is Windows-only");
}

#[test]
fn lock_file_names_that_are_paths_are_dropped() {
    let hash = format!("sha256:{}", "a".repeat(64));
    let lock = parse(&format!(
        "[[package]]\nname = \"x\"\nversion = \"1\"\nfiles = [{{file = \"../../victim.whl\", hash = \"{hash}\"}}, {{file = \"x-1-py3-none-any.whl\", hash = \"{hash}\"}}]\n"
    ))
    .unwrap();
    let names: Vec<&str> = lock.packages[0].files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["x-1-py3-none-any.whl"]);
}

fn python(v: &str) -> Runtime {
    Runtime { python_full_version: v.to_string(), ..Runtime::assumed() }
}

#[test]
fn one_name_twice_is_chosen_by_markers_for_the_runtime() {
    // Poetry 2.5.1 locked numpy 1.24.4 for Python 3.8 and 2.0.2 for 3.9 and later.
    let lock =
        parse(include_str!("../../../test_data/monorepos/lock-markers/projects/calc/poetry.lock"))
            .unwrap();
    let roots = [root("numpy", &[])];
    let on = |v: &str| names(&walk_on(&lock, &roots, &python(v)).unwrap());
    assert_eq!(on("3.11.2"), vec!["numpy==2.0.2"]);
    assert_eq!(on("3.8.18"), vec!["numpy==1.24.4"]);
    assert_eq!(lock.written_by.as_deref(), Some("2.5.1"));
}

#[test]
fn a_requirer_s_constraint_picks_among_versions() {
    let lock = parse(
        r#"
[[package]]
name = "app-dep"
version = "1.0"
files = []
[package.dependencies]
numpy = ">=1.26,<2"

[[package]]
name = "numpy"
version = "1.24.4"
files = []

[[package]]
name = "numpy"
version = "1.26.2"
files = []
"#,
    )
    .unwrap();
    assert_eq!(
        names(&walk(&lock, &[root("app-dep", &[])]).unwrap()),
        vec!["app-dep==1.0", "numpy==1.26.2"]
    );
    let pinned = Root { constraint: Some("<1.25".into()), ..root("numpy", &[]) };
    assert_eq!(names(&walk(&lock, &[pinned]).unwrap()), vec!["numpy==1.24.4"]);
    let impossible = Root { constraint: Some(">=3".into()), ..root("numpy", &[]) };
    assert!(matches!(walk(&lock, &[impossible]), Err(LockError::NoVersion { .. })));
}

#[test]
fn a_python_keyed_dependency_applies_only_to_its_pythons() {
    let lock =
        parse(include_str!("../../../test_data/monorepos/lock-markers/projects/calc/poetry.lock"))
            .unwrap();
    let old = Root {
        python: Some("<3.9".into()),
        constraint: Some("<1.25".into()),
        ..root("numpy", &[])
    };
    let new =
        Root { python: Some(">=3.9".into()), constraint: Some(">=2".into()), ..root("numpy", &[]) };
    assert_eq!(names(&walk(&lock, &[old, new]).unwrap()), vec!["numpy==2.0.2"]);
}

#[test]
fn a_version_or_url_that_would_smuggle_a_pip_option_is_refused() {
    let project = PackageName::new("project");
    let roots = [root("toml", &[])];
    let runtime = Runtime::assumed();
    let request = Request {
        project: &project,
        roots: &roots,
        all_groups: false,
        extras: &[],
        runtime: &runtime,
    };
    let read = |text: &str| super::super::third_party(super::super::Format::Poetry, text, &request);
    assert!(read(LOCK_21).is_ok());
    let smuggled =
        LOCK_21.replace("version = \"0.10.2\"", "version = \"0.10.2\\n--index-url http://evil\"");
    assert!(matches!(read(&smuggled), Err(LockError::Invalid(why)) if why.contains("version")));
    let spaced = LOCK_21.replace("toml-0.10.2-py2.py3-none-any.whl", "toml-0.10.2 x.whl");
    assert!(matches!(read(&spaced), Err(LockError::Invalid(why)) if why.contains("file name")));
}
