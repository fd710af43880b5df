//! `affected` and `ci` on temporary git repos with scripted histories; the workflow file parsed.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use fs_err as fs;

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=xtask tests",
            "-c",
            "user.email=tests@example.org",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// A git repo holding the sample monorepo, one commit on `main`.
fn history(name: &str) -> std::path::PathBuf {
    let repo = sample_copy(name);
    fs::write(repo.join("README.md"), "# sample\n").unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "sample"]);
    repo
}

fn commit_all(repo: &Path, message: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

/// A project's folder and its reasons: (changed file, chain of package folders).
type Affected = (String, Vec<(String, Vec<String>)>);

/// `affected --since rev --json`: (project path, reasons) pairs.
fn affected(repo: &Path, since: &str) -> Vec<Affected> {
    let json = xtask_json(repo, &shared_cache(), &["affected", "--since", since, "--json"]);
    json["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let reasons = a["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let chain = r["chain"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap().to_string())
                        .collect();
                    (r["changed"].as_str().unwrap().to_string(), chain)
                })
                .collect();
            (a["path"].as_str().unwrap().to_string(), reasons)
        })
        .collect()
}

fn paths(list: &[Affected]) -> Vec<&str> {
    list.iter().map(|(p, _)| p.as_str()).collect()
}

#[test]
fn a_deep_lib_edit_affects_exactly_its_transitive_dependents() {
    let repo = history("deep");
    let base = git(&repo, &["rev-parse", "HEAD"]);
    append(&repo.join("libs/hermes/hermes.stillwater/hermes/stillwater/__init__.py"), "# edit\n");
    commit_all(&repo, "edit stillwater");
    let list = affected(&repo, &base);
    assert_eq!(paths(&list), vec!["projects/gw-iaas/clients"]);
    assert_eq!(
        list[0].1,
        vec![(
            "libs/hermes/hermes.stillwater/hermes/stillwater/__init__.py".to_string(),
            vec![
                "projects/gw-iaas/clients".to_string(),
                "libs/hermes/hermes.gwftools".to_string(),
                "libs/hermes/hermes.stillwater".to_string()
            ]
        )]
    );
    // quiver is reached by export directly and by clients only through gwftools' `gcs` extra.
    let base = git(&repo, &["rev-parse", "HEAD"]);
    append(&repo.join("libs/hermes/hermes.quiver/hermes/quiver/__init__.py"), "# edit\n");
    commit_all(&repo, "edit quiver");
    assert_eq!(
        paths(&affected(&repo, &base)),
        vec!["projects/gw-iaas/clients", "projects/gw-iaas/export"]
    );
}

#[test]
fn docker_locks_and_unrelated_files() {
    let repo = history("kinds");
    let base = git(&repo, &["rev-parse", "HEAD"]);
    append(&repo.join("docker/project.Dockerfile"), "# edit\n");
    commit_all(&repo, "edit the template");
    assert_eq!(
        paths(&affected(&repo, &base)),
        vec!["projects/gw-iaas/clients", "projects/gw-iaas/export", "projects/hello-world"]
    );

    let base = git(&repo, &["rev-parse", "HEAD"]);
    append(&repo.join("projects/gw-iaas/export/poetry.lock"), "\n");
    commit_all(&repo, "touch a project's lock");
    assert_eq!(paths(&affected(&repo, &base)), vec!["projects/gw-iaas/export"]);

    let base = git(&repo, &["rev-parse", "HEAD"]);
    append(&repo.join("libs/hermes/hermes.typeo/poetry.lock"), "\n");
    append(&repo.join("README.md"), "more\n");
    append(&repo.join("pyproject.toml"), "\n");
    commit_all(&repo, "a lib's lock, the readme, the root config");
    assert!(affected(&repo, &base).is_empty());
}

#[test]
fn a_merge_commit_brings_the_branch_changes() {
    let repo = history("merge");
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    append(
        &repo.join("libs/hermes/hermes.stillwater/hermes/stillwater/__init__.py"),
        "# feature\n",
    );
    commit_all(&repo, "feature work");
    git(&repo, &["checkout", "-q", "main"]);
    append(&repo.join("README.md"), "main work\n");
    let main_before = commit_all(&repo, "main work");
    git(
        &repo,
        &["-c", "core.editor=true", "merge", "-q", "--no-ff", "-m", "merge feature", "feature"],
    );
    assert_eq!(paths(&affected(&repo, &main_before)), vec!["projects/gw-iaas/clients"]);
    // Since the feature branch itself: only main's README came in, which touches nothing.
    assert!(affected(&repo, "feature").is_empty());
}

#[test]
fn a_deleted_package_affects_its_former_dependents() {
    let repo = history("delete");
    let base = git(&repo, &["rev-parse", "HEAD"]);
    fs::remove_dir_all(repo.join("libs/hermes/hermes.stillwater")).unwrap();
    edit(
        &repo.join("libs/hermes/hermes.gwftools/pyproject.toml"),
        "\"hermes.stillwater\" = { path = \"../hermes.stillwater\", develop = true }\n",
        "",
    );
    commit_all(&repo, "drop stillwater");
    let list = affected(&repo, &base);
    assert_eq!(paths(&list), vec!["projects/gw-iaas/clients"]);
    assert!(
        list[0]
            .1
            .iter()
            .any(|(changed, chain)| changed.starts_with("libs/hermes/hermes.stillwater/")
                && chain.last().map(String::as_str) == Some("libs/hermes/hermes.stillwater")),
        "{:?}",
        list[0].1
    );
}

#[test]
fn a_shallow_clone_without_the_revision_says_to_fetch_deeper() {
    let repo = history("shallow-src");
    for n in 0..3 {
        append(&repo.join("README.md"), &format!("{n}\n"));
        commit_all(&repo, "more");
    }
    let clone = scratch("shallow");
    let status = Command::new("git")
        .args(["clone", "-q", "--depth", "1"])
        .arg(format!("file://{}", repo.display()))
        .arg(clone.join("r"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = xtask(&clone.join("r"), &shared_cache(), &["affected", "--since", "HEAD~2"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("shallow") && stderr.contains("fetch-depth: 0"), "{stderr}");
}

#[test]
fn files_with_accents_spaces_or_newlines_in_their_names_are_seen() {
    let repo = history("z-names");
    let base = git(&repo, &["rev-parse", "HEAD"]);
    fs::write(repo.join("libs/hermes/hermes.typeo/hermes/typeo/données.py"), "X = 1\n").unwrap();
    commit_all(&repo, "accented file in typeo");
    let list = affected(&repo, &base);
    assert!(paths(&list).contains(&"projects/hello-world"), "{list:?}");
    let reason = &list.iter().find(|(p, _)| p == "projects/hello-world").unwrap().1[0];
    assert_eq!(reason.0, "libs/hermes/hermes.typeo/hermes/typeo/données.py");

    let base = git(&repo, &["rev-parse", "HEAD"]);
    fs::write(repo.join("libs/hermes/hermes.stillwater/two\nlines.txt"), "x\n").unwrap();
    commit_all(&repo, "a name with a newline in stillwater");
    let out = xtask(&repo, &shared_cache(), &["ci", "--since", &base, "--matrix"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let matrix: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(
        matrix,
        serde_json::json!({"include": [{"project": "projects/gw-iaas/clients", "name": "clients"}]})
    );
}

#[test]
fn a_folder_that_is_not_a_git_repository_is_named() {
    // Outside this repository's own work tree, which would otherwise contain it.
    let repo = std::env::temp_dir().join(format!("xtask-not-git-{}", std::process::id()));
    let _ = fs::remove_dir_all(&repo);
    copy_tree(&sample_copy("not-git"), &repo);
    let out = xtask(&repo, &shared_cache(), &["affected", "--since", "main"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is not a git repository") && !stderr.contains("fatal:"), "{stderr}");
    fs::remove_dir_all(&repo).unwrap();
}

#[test]
fn ci_matrix_lists_the_affected_projects() {
    let repo = history("matrix");
    let base = git(&repo, &["rev-parse", "HEAD"]);
    append(&repo.join("projects/hello-world/hello_world/__init__.py"), "# edit\n");
    commit_all(&repo, "edit hello");
    let out = xtask(&repo, &shared_cache(), &["ci", "--since", &base, "--matrix"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let matrix: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(
        matrix,
        serde_json::json!({"include": [{"project": "projects/hello-world", "name": "hello-world"}]})
    );
}

#[test]
fn ci_pushes_the_affected_images_to_a_registry() {
    let registry = std::env::var("XTASK_TEST_REGISTRY").expect(
        "XTASK_TEST_REGISTRY: run the tests with `cargo xtask test`, which starts a registry",
    );
    let repo = history("ci-push");
    let base = git(&repo, &["rev-parse", "HEAD"]);
    append(&repo.join("projects/hello-world/hello_world/__init__.py"), "# edit\n");
    let head = commit_all(&repo, "edit hello");
    let summary = scratch("summary").join("summary.md");
    let out = xtask_cmd(
        &repo,
        &shared_cache(),
        &["ci", "--since", &base, "--push", "--registry", &registry, "--json"],
    )
    .env("GITHUB_STEP_SUMMARY", &summary)
    .env_remove("GITHUB_REF_NAME")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = json["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "only the affected project: {images:?}");
    let image = images[0]["image"].as_str().unwrap();
    assert_eq!(image, format!("{registry}/hello-world:{}", &head[..12]));
    assert!(images[0]["digest"].as_str().unwrap().starts_with("sha256:"));
    let table = fs::read_to_string(&summary).unwrap();
    assert!(table.contains(&format!("| `{image}` |")), "{table}");
    // On the default branch the same image is also pushed as `latest`; pull both back.
    for reference in [image.to_string(), format!("{registry}/hello-world:latest")] {
        // (`latest` was named in the registry only: the engine may not have it.)
        let _ = Command::new("docker").args(["rmi", "--no-prune", &reference]).output();
        assert!(docker(&["pull", &reference]).status.success(), "{reference}");
    }
    let out = docker(&["run", "--rm", image, "hello-world"]);
    assert!(text(&out.stdout).starts_with("hello-world 1.0.0"));
}

#[test]
fn the_workflow_is_valid_and_only_calls_xtask() {
    let text = fs::read_to_string(repo_root().join(".github/workflows/images.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    let on = &doc["on"];
    assert!(on.get("pull_request").is_some() && on.get("merge_group").is_some());
    assert_eq!(on["push"]["branches"][0], "main", "{on:?}");
    let jobs = doc["jobs"].as_mapping().unwrap();
    for job in ["build", "publish"] {
        assert_eq!(doc["jobs"][job]["needs"], "plan");
        assert_eq!(
            doc["jobs"][job]["strategy"]["matrix"],
            "${{ fromJSON(needs.plan.outputs.matrix) }}"
        );
    }
    for (name, job) in jobs {
        assert!(job.get("timeout-minutes").is_some(), "{name:?} has no timeout");
        for step in job["steps"].as_sequence().unwrap() {
            if let Some(uses) = step.get("uses") {
                let uses = uses.as_str().unwrap();
                let pinned = uses.split_once('@').is_some_and(|(_, r)| r.len() == 40);
                assert!(pinned, "{name:?}: {uses} is not pinned by commit");
                assert!(
                    uses.starts_with("actions/checkout@") || uses.starts_with("actions/cache@"),
                    "{name:?}: {uses}"
                );
            }
            let Some(run) = step.get("run").and_then(|r| r.as_str()) else { continue };
            // Work is done by xtask; the rest only passes values around.
            for line in run.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let plumbing = line.starts_with("echo ")
                    || line.starts_with("since=")
                    || line.starts_with("matrix=\"$(cargo xtask ");
                assert!(line.starts_with("cargo xtask ") || plumbing, "{name:?}: {line}");
                assert!(
                    !line.contains("${{"),
                    "{name:?}: an expression expanded in a script: {line}"
                );
            }
        }
    }
}
