//! Unit tests of uv.lock and pylock.toml reading, on locks the real tools wrote (fixtures).

use super::super::pylock;
use super::*;
use crate::model::lock::Root;

fn python(v: &str) -> Runtime {
    Runtime { python_full_version: v.to_string(), ..Runtime::assumed() }
}

fn names(pinned: &[Pinned]) -> Vec<String> {
    pinned.iter().map(|p| format!("{}=={}", p.name, p.version)).collect()
}

fn walk(text: &str, project: &str, all_groups: bool, runtime: &Runtime) -> Vec<String> {
    let project = PackageName::new(project);
    let roots: [Root; 0] = [];
    let request = Request { project: &project, roots: &roots, all_groups, extras: &[], runtime };
    names(&third_party(&parse(text).unwrap(), &request).unwrap())
}

const WORKSPACE: &str = include_str!("../../../test_data/monorepos/uv-workspace/uv.lock");
const MARKERS: &str = include_str!("../../../test_data/monorepos/uv-markers/projects/calc/uv.lock");

#[test]
fn a_workspace_member_walks_members_extras_and_groups() {
    let main = walk(WORKSPACE, "api", false, &Runtime::assumed());
    assert!(
        main.iter().any(|n| n.starts_with("click=="))
            && main.iter().any(|n| n.starts_with("tabulate==")),
        "{main:?}"
    );
    assert!(!main.iter().any(|n| n.starts_with("pytest==")), "dev group only on request: {main:?}");
    assert!(
        !main.iter().any(|n| n.starts_with("core==")),
        "members are local, not third-party: {main:?}"
    );
    let dev = walk(WORKSPACE, "api", true, &Runtime::assumed());
    assert!(dev.iter().any(|n| n.starts_with("pytest==")), "{dev:?}");
}

#[test]
fn several_versions_of_one_name_are_chosen_by_markers() {
    assert_eq!(walk(MARKERS, "calc", false, &python("3.11.2")), vec!["numpy==2.4.6"]);
    assert_eq!(walk(MARKERS, "calc", false, &python("3.9.18")), vec!["numpy==2.0.2"]);
    assert_eq!(walk(MARKERS, "calc", false, &python("3.13.1")), vec!["numpy==2.5.5"]);
    let lock = parse(MARKERS).unwrap();
    let numpy = lock.packages.iter().find(|p| p.name == "numpy" && p.version == "2.4.6").unwrap();
    assert!(numpy.files.iter().all(|f| f.url.as_deref().is_some_and(|u| u.ends_with(&f.name))));
}

#[test]
fn what_uv_recorded_of_a_member_is_read() {
    let recorded = recorded_requirements(WORKSPACE, &PackageName::new("api")).unwrap().unwrap();
    let names: Vec<&str> = recorded.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["click", "core", "extras-lib", "util"]);
}

#[test]
fn pylock_keeps_what_the_runtime_needs_and_leaves_folders_out() {
    for text in [
        include_str!("../../../test_data/monorepos/pylock/pylock.tool.toml"),
        include_str!("../../../test_data/monorepos/pylock/projects/tool-uv/pylock.toml"),
    ] {
        let lock = pylock::parse(text).unwrap();
        let project = PackageName::new("tool");
        let request = Request {
            project: &project,
            roots: &[],
            all_groups: false,
            extras: &[],
            runtime: &Runtime::assumed(),
        };
        let set = pylock::third_party(&lock, &request).unwrap();
        assert_eq!(names(&set), vec!["idna==3.20", "packaging==26.4"]);
        assert!(set.iter().all(|p| p.files.iter().any(|f| f.name.ends_with(".whl"))));
    }
}
