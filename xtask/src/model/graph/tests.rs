//! Unit tests of graph semantics on in-memory repos.

use super::*;
use crate::model::manifest::parse_manifest;

fn poetry(name: &str, deps: &str) -> String {
    format!("[tool.poetry]\nname = \"{name}\"\nversion = \"1.0\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\n{deps}\n")
}

fn graph(files: &[(&str, &str)]) -> Graph {
    let discovered = files
        .iter()
        .map(|(dir, text)| Discovered {
            dir: dir.to_string(),
            manifest: parse_manifest(text),
            dockerfile: false,
        })
        .collect();
    let probe = |dir: &str| match dir {
        "libs/empty" => DirState::NoManifest,
        ".hidden/lib" => DirState::Skipped,
        _ => DirState::Missing,
    };
    Graph::build("/repo", discovered, Some(&|d: &str| d.starts_with("projects/")), &probe)
}

fn closure_dirs(g: &Graph, query: &str, extras: &[&str]) -> Vec<(String, Vec<String>)> {
    let c = g.closure(
        g.find(query).unwrap(),
        &extras.iter().map(ToString::to_string).collect::<Vec<_>>(),
    );
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    c.order
        .into_iter()
        .map(|(i, ex)| (g.packages[i].dir.clone(), ex.into_iter().collect()))
        .collect()
}

fn sample() -> Graph {
    graph(&[
        ("libs/typeo", &poetry("hermes.typeo", "toml = \"*\"")),
        ("libs/quiver", &poetry("hermes.quiver", "\"hermes.typeo\" = { path = \"../typeo\" }")),
        ("libs/still", &poetry("hermes.stillwater", "")),
        (
            "libs/gwf",
            &(poetry(
                "hermes.gwftools",
                "\"hermes.stillwater\" = { path = \"../still\" }\n\
                 \"hermes.quiver\" = { path = \"../quiver\", optional = true, extras = [\"tabular\"] }",
            ) + "[tool.poetry.extras]\ngcs = [\"hermes.quiver\"]\n"),
        ),
        (
            "projects/clients",
            "[project]\nname = \"clients\"\nversion = \"0.2\"\ndependencies = [\"hermes.gwftools[gcs]\", \"hermes.typeo\"]\n\
             [tool.poetry.dependencies]\n\"hermes.gwftools\" = { path = \"../../libs/gwf\" }\n\
             \"hermes.typeo\" = { path = \"../../libs/typeo\" }\n",
        ),
        ("projects/hello", &poetry("hello", "\"hermes.typeo\" = { path = \"../../libs/typeo\" }")),
        (".", "[tool.black]\n"),
    ])
}

#[test]
fn kinds_follow_location_and_package_presence() {
    let g = sample();
    let kind = |dir: &str| g.packages.iter().find(|p| p.dir == dir).unwrap().kind;
    assert_eq!(g.configs.iter().map(|c| c.dir.as_str()).collect::<Vec<_>>(), vec!["."]);
    assert!(g.find(".").unwrap_err().contains("declares no package"));
    assert_eq!(kind("libs/typeo"), Kind::Lib);
    assert_eq!(kind("projects/hello"), Kind::Project);
    assert!(g.problems().is_empty());
}

#[test]
fn extras_switch_on_optional_path_deps_and_propagate() {
    let g = sample();
    assert_eq!(
        closure_dirs(&g, "clients", &[]),
        vec![
            ("libs/still".into(), vec![]),
            ("libs/typeo".into(), vec![]),
            ("libs/quiver".into(), vec!["tabular".into()]),
            ("libs/gwf".into(), vec!["gcs".into()]),
            ("projects/clients".into(), vec![]),
        ]
    );
    // Without the extra, the optional path dependency is not part of the closure.
    let dirs: Vec<String> =
        closure_dirs(&g, "hermes.gwftools", &[]).into_iter().map(|(d, _)| d).collect();
    assert_eq!(dirs, vec!["libs/still", "libs/gwf"]);
    let dirs: Vec<String> =
        closure_dirs(&g, "libs/gwf", &["GCS"]).into_iter().map(|(d, _)| d).collect();
    assert_eq!(dirs, vec!["libs/still", "libs/typeo", "libs/quiver", "libs/gwf"]);
}

#[test]
fn find_accepts_paths_raw_and_normalised_names() {
    let g = sample();
    let quiver = g.find("libs/quiver").unwrap();
    assert_eq!(g.find("./libs/quiver/").unwrap(), quiver);
    assert_eq!(g.find("hermes.quiver").unwrap(), quiver);
    assert_eq!(g.find("Hermes_Quiver").unwrap(), quiver);
    let e = g.find("hermes.quivr").unwrap_err();
    assert!(e.contains("did you mean hermes-quiver (libs/quiver)"), "{e}");
}

#[test]
fn paths_resolve_by_path_not_by_name() {
    // Two packages share a name; each dependent gets the one its path names.
    let g = graph(&[
        ("libs/a1", &poetry("util", "")),
        ("libs/a2", &poetry("util", "")),
        ("projects/x", &poetry("x", "util = { path = \"../../libs/a2\" }")),
    ]);
    assert_eq!(closure_dirs(&g, "x", &[])[0].0, "libs/a2");
    let e = g.find("util").unwrap_err();
    assert!(e.contains("libs/a1, libs/a2"), "{e}");
}

#[test]
fn shadowed_main_dependency_counts_as_local() {
    let g = graph(&[
        ("libs/t", &poetry("t", "")),
        (
            "projects/p",
            &(poetry("p", "t = \"^1.0\"")
                + "[tool.poetry.group.dev.dependencies]\nt = { path = \"../../libs/t\" }\n"),
        ),
    ]);
    let dirs: Vec<String> = closure_dirs(&g, "p", &[]).into_iter().map(|(d, _)| d).collect();
    assert_eq!(dirs, vec!["libs/t", "projects/p"]);
}

#[test]
fn dev_group_path_deps_stay_out_of_the_main_closure() {
    let g = graph(&[
        ("libs/t", &poetry("t", "")),
        (
            "projects/p",
            &(poetry("p", "")
                + "[tool.poetry.group.test.dependencies]\nt = { path = \"../../libs/t\" }\n"),
        ),
    ]);
    assert_eq!(closure_dirs(&g, "p", &[]).len(), 1);
    assert_eq!(g.dep(&g.edges[0]).group, "test");
}

#[test]
fn uv_workspace_members_resolve() {
    let g = graph(&[
        (".", "[tool.uv.workspace]\nmembers = [\"packages/*\"]\n"),
        ("packages/core", "[project]\nname = \"core\"\nversion = \"1\"\n"),
        (
            "packages/app",
            "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = [\"core\"]\n[tool.uv.sources]\ncore = { workspace = true }\n",
        ),
    ]);
    let dirs: Vec<String> = closure_dirs(&g, "app", &[]).into_iter().map(|(d, _)| d).collect();
    assert_eq!(dirs, vec!["packages/core", "packages/app"]);
}

#[test]
fn errors_name_manifest_key_and_fix() {
    let g = graph(&[
        ("projects/out", &poetry("out", "x = { path = \"../../../x\" }")),
        ("projects/gone", &poetry("gone", "x = { path = \"../../libs/missing\" }")),
        ("projects/empty", &poetry("empty", "x = { path = \"../../libs/empty\" }")),
        ("projects/hidden", &poetry("hidden", "lib = { path = \"../../.hidden/lib\" }")),
        ("projects/misnamed", &poetry("misnamed", "other = { path = \"../out\" }")),
    ]);
    let problems = g.problems();
    let find = |path: &str| problems.iter().find(|p| p.path == path).unwrap().message.clone();
    assert!(find("projects/out/pyproject.toml").contains("outside the repo"));
    let gone = find("projects/gone/pyproject.toml");
    assert!(
        gone.contains("[tool.poetry.dependencies] \"x\"")
            && gone.contains("git submodule update --init")
    );
    assert!(find("projects/empty/pyproject.toml").contains("has no pyproject.toml"));
    assert!(find("projects/hidden/pyproject.toml").contains("discovery skips"));
    assert!(find("projects/misnamed/pyproject.toml").contains("which is the package \"out\""));
    assert!(problems.iter().all(|p| p.fatal));
}

#[test]
fn cycles_are_printed() {
    let g = graph(&[
        ("libs/a", &poetry("a", "b = { path = \"../b\" }")),
        ("libs/b", &poetry("b", "c = { path = \"../c\" }")),
        ("libs/c", &poetry("c", "a = { path = \"../a\" }")),
    ]);
    let problems = g.problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("a (libs/a) -> b (libs/b) -> c (libs/c) -> a (libs/a)"));
    let c = g.closure(g.find("b").unwrap(), &[]);
    assert_eq!(c.order.len(), 3);
    assert!(c.problems[0].message.contains("dependency cycle"));
}

#[test]
fn a_broken_manifest_is_fatal_only_for_closures_that_need_it() {
    let g = graph(&[
        ("libs/bad", "[tool.poetry\nname = "),
        ("projects/uses", &poetry("uses", "bad = { path = \"../../libs/bad\" }")),
        ("projects/fine", &poetry("fine", "")),
    ]);
    assert!(g.problems().iter().all(|p| !p.fatal));
    assert!(g.closure(g.find("fine").unwrap(), &[]).problems.is_empty());
    let c = g.closure(g.find("uses").unwrap(), &[]);
    assert!(c.problems[0].message.contains("libs/bad/pyproject.toml, which does not parse"));
}

#[test]
fn duplicate_names_in_one_closure_are_an_error() {
    let g = graph(&[
        ("libs/a1", &poetry("util", "")),
        ("libs/a2", &poetry("util", "")),
        ("libs/mid", &poetry("mid", "util = { path = \"../a2\" }")),
        (
            "projects/x",
            &poetry(
                "x",
                "util = { path = \"../../libs/a1\" }\nmid = { path = \"../../libs/mid\" }",
            ),
        ),
    ]);
    let c = g.closure(g.find("x").unwrap(), &[]);
    assert!(c.problems[0].message.contains("two packages named \"util\""));
}

#[test]
fn closures_explain_each_package_by_a_chain() {
    let g = sample();
    let c = g.closure(g.find("clients").unwrap(), &[]);
    let chain: Vec<&str> = c
        .chain(g.find("hermes.typeo").unwrap())
        .iter()
        .map(|&i| g.packages[i].dir.as_str())
        .collect();
    assert_eq!(chain.first(), Some(&"projects/clients"));
    assert_eq!(chain.last(), Some(&"libs/typeo"));
    let quiver: Vec<&str> = c
        .chain(g.find("hermes.quiver").unwrap())
        .iter()
        .map(|&i| g.packages[i].dir.as_str())
        .collect();
    assert_eq!(quiver, vec!["projects/clients", "libs/gwf", "libs/quiver"]);
}
