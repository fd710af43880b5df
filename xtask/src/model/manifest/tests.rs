//! Unit tests of the manifest parser on inline pyproject texts.

use super::*;

fn local(m: &Manifest, name: &str, group: &str) -> Dependency {
    m.deps
        .iter()
        .find(|d| d.name == name && d.group == group)
        .unwrap_or_else(|| panic!("no {name} in group {group}: {:#?}", m.deps))
        .clone()
}

#[test]
fn poetry_1x_tables_extras_dev_and_groups() {
    let m = parse_manifest(
        r#"
[tool.poetry]
name = "hermes.gwftools"
version = "0.1.2"
[tool.poetry.dependencies]
python = "^3.11"
numpy = "^2.0"
"hermes.stillwater" = { path = "../hermes.stillwater", develop = true }
"Hermes_Quiver" = { path = "../hermes.quiver", optional = true, extras = ["Tabular"] }
[tool.poetry.extras]
gcs = ["hermes.quiver"]
[tool.poetry.dev-dependencies]
pytest = "^8"
[tool.poetry.group.docs.dependencies]
"hermes.doc" = { path = "../doc" }
[tool.poetry.scripts]
gwf = "hermes.gwftools:main"
"#,
    )
    .unwrap();
    assert_eq!(m.name.as_deref(), Some("hermes.gwftools"));
    assert_eq!(m.version.as_deref(), Some("0.1.2"));
    assert!(m.deps.iter().all(|d| d.name != "python"));
    let quiver = local(&m, "hermes-quiver", MAIN);
    assert!(quiver.optional);
    assert_eq!(quiver.enabled_by, vec!["gcs"]);
    assert_eq!(quiver.extras, vec!["tabular"]);
    assert_eq!(quiver.source, Source::Path { path: "../hermes.quiver".into(), develop: false });
    assert!(local(&m, "hermes-stillwater", MAIN).is_local());
    assert_eq!(local(&m, "numpy", MAIN).source, Source::Registry("^2.0".into()));
    assert_eq!(local(&m, "pytest", "dev").group, "dev");
    assert!(local(&m, "hermes-doc", "docs").is_local());
    assert_eq!(m.scripts["gwf"], "hermes.gwftools:main");
}

#[test]
fn pep621_with_poetry_path_sources() {
    let m = parse_manifest(
        r#"
[project]
name = "clients"
version = "0.2.3"
dependencies = ["hermes.gwftools[gcs]", "click>=8 ; python_version >= '3.8'"]
[project.optional-dependencies]
plot = ["hermes.plot[png]"]
[project.scripts]
gw-clients = "clients.cli:main"
[tool.poetry.dependencies]
"hermes.gwftools" = { path = "../../libs/gwftools", develop = true }
"hermes.plot" = { path = "../../libs/plot" }
"not.listed" = { path = "../../libs/unused" }
"#,
    )
    .unwrap();
    let gwf = local(&m, "hermes-gwftools", MAIN);
    assert_eq!(gwf.extras, vec!["gcs"]);
    assert_eq!(gwf.source, Source::Path { path: "../../libs/gwftools".into(), develop: true });
    assert!(gwf.key.contains("[tool.poetry.dependencies]"));
    let plot = local(&m, "hermes-plot", MAIN);
    assert!(plot.optional && plot.enabled_by == vec!["plot"] && plot.is_local());
    assert_eq!(local(&m, "click", MAIN).markers.as_deref(), Some("python_version >= '3.8'"));
    // Poetry 2 only enriches what [project] lists.
    assert!(m.deps.iter().all(|d| d.name != "not-listed"));
    assert_eq!(m.scripts["gw-clients"], "clients.cli:main");
}

#[test]
fn pep621_with_uv_sources_and_workspace() {
    let m = parse_manifest(
        r#"
[project]
name = "app"
version = "1"
dependencies = ["lib-a", "lib-b", "requests"]
[dependency-groups]
dev = ["pytest", { include-group = "lint" }, "lib-c"]
[tool.uv.sources]
lib-a = { workspace = true }
lib_b = { path = "../b", editable = true }
lib-c = { path = "../c" }
[tool.uv.workspace]
members = ["libs/*"]
exclude = ["libs/old"]
"#,
    )
    .unwrap();
    assert_eq!(local(&m, "lib-a", MAIN).source, Source::Workspace);
    assert_eq!(
        local(&m, "lib-b", MAIN).source,
        Source::Path { path: "../b".into(), develop: true }
    );
    assert!(local(&m, "lib-c", "dev").is_local());
    assert!(!local(&m, "requests", MAIN).is_local());
    assert_eq!(m.uv_members, vec!["libs/*"]);
    assert_eq!(m.uv_exclude, vec!["libs/old"]);
}

#[test]
fn config_only_manifests_have_no_name_and_non_package_apps_keep_theirs() {
    assert_eq!(parse_manifest("[tool.black]\nline-length = 100\n").unwrap().name, None);
    let m = parse_manifest("[tool.poetry]\nname = \"x\"\npackage-mode = false\n").unwrap();
    assert_eq!((m.name.as_deref(), m.package_mode), (Some("x"), false));
    assert!(m.build_backend.is_none(), "no wheel is built of a non-package app");
    let m = parse_manifest("[tool.poetry]\nname = \"y\"\n").unwrap();
    assert_eq!(
        m.build_backend.as_deref(),
        Some("poetry.core.masonry.api"),
        "Poetry's default backend"
    );
}

#[test]
fn python_constraints_and_bad_versions_name_their_key() {
    let m = parse_manifest("[project]\nname = \"a\"\nrequires-python = \">=3.8,<3.10\"\n").unwrap();
    assert_eq!(m.requires_python, Some(PythonConstraint::Pep440(">=3.8,<3.10".into())));
    let m = parse_manifest("[tool.poetry.dependencies]\npython = \">= 3.8\"\n").unwrap();
    assert!(m.requires_python.unwrap().parse().unwrap().allows("3.9"));
    let e = parse_manifest("[tool.poetry.dependencies]\nlibmq = \"\"\n").unwrap_err();
    assert!(
        e.contains("[tool.poetry.dependencies] \"libmq\"")
            && e.contains("empty version constraint"),
        "{e}"
    );
    let e = parse_manifest("[project]\nname = \"a\"\ndependencies = [\"x >>1\"]\n").unwrap_err();
    assert!(e.contains("[project] dependencies \"x\""), "{e}");
}

#[test]
fn file_urls_are_local_folders() {
    let m = parse_manifest(
        "[project]\nname = \"a\"\ndependencies = [\"lib @ file:///${PROJECT_ROOT}/../lib\", \"r @ https://x.org/r.whl\"]\n",
    )
    .unwrap();
    assert_eq!(m.deps[0].source, Source::Path { path: "./../lib".into(), develop: false });
    assert!(matches!(m.deps[1].source, Source::Remote(_)));
}

#[test]
fn a_main_version_dep_shadowed_by_a_path_in_another_group_is_local() {
    let m = parse_manifest(
        r#"
[tool.poetry]
name = "p"
version = "1"
[tool.poetry.dependencies]
"hermes.typeo" = "^0.1"
[tool.poetry.group.dev.dependencies]
"hermes.typeo" = { path = "../typeo", develop = true }
"#,
    )
    .unwrap();
    let main = local(&m, "hermes-typeo", MAIN);
    assert_eq!(main.source, Source::Path { path: "../typeo".into(), develop: true });
}

#[test]
fn multiple_constraints_and_python_markers() {
    let m = parse_manifest(
        r#"
[tool.poetry]
name = "p"
version = "1"
[tool.poetry.dependencies]
foo = [
  { version = "^1", python = "<3.10" },
  { path = "../foo", markers = "sys_platform == 'linux'", python = ">=3.10" },
]
"#,
    )
    .unwrap();
    assert_eq!(m.deps.len(), 2);
    assert_eq!((m.deps[0].python.as_deref(), m.deps[0].markers.as_deref()), (Some("<3.10"), None));
    assert!(m.deps[1].is_local());
    assert_eq!(m.deps[1].markers.as_deref(), Some("sys_platform == 'linux'"));
    assert_eq!(m.deps[1].python.as_deref(), Some(">=3.10"));
}

#[test]
fn build_system_is_read() {
    let m = parse_manifest(
        "[build-system]\nrequires = [\"poetry-core>=2\"]\nbuild-backend = \"poetry.core.masonry.api\"\n",
    )
    .unwrap();
    assert_eq!(m.build_backend.as_deref(), Some("poetry.core.masonry.api"));
    assert_eq!(m.build_requires, vec!["poetry-core>=2"]);
}

#[test]
fn errors_name_the_key() {
    let e = parse_manifest("[tool.poetry.dependencies]\nfoo = 3\n").unwrap_err();
    assert!(e.contains("[tool.poetry.dependencies] \"foo\""), "{e}");
    let e = parse_manifest("[project]\nname = \"a\"\ndependencies = [\">=1\"]\n").unwrap_err();
    assert!(e.contains("[project] dependencies"), "{e}");
    let e = parse_manifest("[project\nname = 1").unwrap_err();
    assert!(e.starts_with("invalid TOML"), "{e}");
}

#[test]
fn source_roots_come_from_poetry_packages() {
    let m = parse_manifest("[tool.poetry]\nname = \"a\"\npackages = [{ include = \"a\", from = \"src\" }, { include = \"b\", from = \"src\" }]\n").unwrap();
    assert_eq!(m.source_roots, vec!["src"]);
    assert!(parse_manifest("[tool.poetry]\nname = \"a\"\npackages = [{ include = \"a\" }]\n")
        .unwrap()
        .source_roots
        .is_empty());
}

#[test]
fn names_that_are_not_pep_508_names_are_refused_with_their_key() {
    let e = parse_manifest("[project]\nname = \"/tmp/x/victim\"\nversion = \"1\"\n").unwrap_err();
    assert!(e.contains("[project] name") && e.contains("not a valid package name"), "{e}");
    let e = parse_manifest("[tool.poetry]\nname = \"../up\"\n").unwrap_err();
    assert!(e.contains("[tool.poetry] name"), "{e}");
    let e = parse_manifest("[tool.poetry.dependencies]\n\"../../x\" = \"1\"\n").unwrap_err();
    assert!(e.contains("[tool.poetry.dependencies] \"../../x\""), "{e}");
}
