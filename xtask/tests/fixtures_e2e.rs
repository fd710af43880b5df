//! Every project of every fixture monorepo (xtask/test_data/monorepos: Poetry 1 and 2, uv
//! workspaces, setuptools, hatchling, pdm, flit, Polylith, package-mode = false, pylock.toml,
//! Pythons 3.9 to 3.13, existing standalone Dockerfiles) built with no config, then run.

mod common;

use std::path::Path;

use common::*;

/// Builds every project of the fixture copy at `repo` (no config), tagged uniquely; returns
/// the build's stderr and the images by project folder.
fn build_all(repo: &Path, tag: &str) -> (String, Vec<(String, String)>) {
    let out = xtask(repo, &shared_cache(), &["build-image", "--all", "--tag", tag, "--json"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "build-image --all failed:\n{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (i["project"].as_str().unwrap().to_string(), i["image"].as_str().unwrap().to_string())
        })
        .collect();
    (stderr, images)
}

/// Runs `args` in `image` (offline) and returns its stdout; panics on failure.
fn run_in(image: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm", "--network", "none", image];
    all.extend(args);
    let out = docker(&all);
    assert!(out.status.success(), "{image} {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn tag(name: &str) -> String {
    format!("fx-{name}-{}", std::process::id())
}

/// The image of `project` among `images`.
fn image<'a>(images: &'a [(String, String)], project: &str) -> &'a str {
    &images
        .iter()
        .find(|(p, _)| p == project)
        .unwrap_or_else(|| panic!("no image of {project}: {images:?}"))
        .1
}

#[test]
fn poetry_1_apps_outside_projects_with_a_standalone_dockerfile() {
    let repo = fixture_copy("poetry1-apps");
    let (stderr, images) = build_all(&repo, &tag("poetry1"));
    assert_eq!(images.len(), 2, "{images:?}");
    assert!(
        stderr.contains("apps/web/Dockerfile starts FROM python:3.11-slim, not FROM app"),
        "{stderr}"
    );
    assert_eq!(
        run_in(image(&images, "apps/web"), &["web"]),
        "web 1.0.0: acme-models 0.1.0, acme-storage 0.2.0"
    );
    assert_eq!(
        run_in(image(&images, "services/worker"), &["worker"]),
        "worker 0.5.0: acme-models 0.1.0"
    );
}

#[test]
fn adopt_turns_a_standalone_dockerfile_into_an_extension_that_keeps_what_matters() {
    let repo = fixture_copy("poetry1-apps");
    let shown = xtask(&repo, &shared_cache(), &["adopt", "apps/web"]);
    let diff = text(&shown.stdout);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(
        diff.contains("+FROM app") && diff.contains("-RUN pip install poetry==1.8.5"),
        "{diff}"
    );
    assert!(diff.contains("COPY libs/: outside the project folder"), "{diff}");
    let dockerfile = repo.join("apps/web/Dockerfile");
    let before = fs_err::read_to_string(&dockerfile).unwrap();
    assert!(before.starts_with("# Hand-written"), "without --write nothing is written");
    let written = xtask(&repo, &shared_cache(), &["adopt", "apps/web", "--write"]);
    assert!(written.status.success(), "{}", text(&written.stderr));
    let after = fs_err::read_to_string(&dockerfile).unwrap();
    assert!(
        after.contains("FROM app") && after.contains("libsndfile1") && !after.contains("poetry"),
        "{after}"
    );
    // The system package needs the network and root: the extension's RUN gets both.
    let t = tag("adopt");
    let out =
        xtask_json(&repo, &shared_cache(), &["build-image", "apps/web", "--tag", &t, "--json"]);
    let web = out["images"][0]["image"].as_str().unwrap();
    assert_eq!(run_in(web, &[]), "web 1.0.0: acme-models 0.1.0, acme-storage 0.2.0");
    let check =
        "id -un; ls /usr/lib/x86_64-linux-gnu | grep -c libsndfile; cat $WEB_SETTINGS | head -1";
    let out = docker(&["run", "--rm", "--entrypoint", "sh", web, "-c", check]);
    let lines = text(&out.stdout);
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines[0], "app", "the adopted image runs as app again");
    assert_ne!(lines[1], "0", "libsndfile1 was installed");
    assert!(lines[2].starts_with("# Runtime settings"), "{lines:?}");
}

#[test]
fn setuptools_packages_from_setup_py_setup_cfg_and_pyproject() {
    let repo = fixture_copy("setuptools-mixed");
    let (_, images) = build_all(&repo, &tag("setuptools"));
    assert_eq!(
        run_in(image(&images, "projects/app"), &["app"]),
        "app 0.1.0: alpha 0.2.0, beta 0.3.0"
    );
}

#[test]
fn polylith_bricks_from_outside_the_project_go_into_its_wheel() {
    let repo = fixture_copy("polylith");
    let (_, images) = build_all(&repo, &tag("polylith"));
    assert_eq!(images.len(), 1, "the development workspace at the root is no image: {images:?}");
    let greet = image(&images, "projects/greet-cli");
    assert_eq!(
        run_in(greet, &["greet-cli"]),
        "greet-cli 0.1.0: acme.greeting 0.1.0, acme.log 0.1.0"
    );
    // An edit in a brick outside the project rebuilds it.
    append(&repo.join("components/acme/log/__init__.py"), "\nEDITED = 1\n");
    let out = xtask_json(
        &repo,
        &shared_cache(),
        &["build-image", "--all", "--tag", &tag("polylith"), "--json"],
    );
    assert_eq!(out["images"][0]["status"], "built", "a brick edit went unnoticed");
}

#[test]
fn a_package_mode_false_app_is_copied_to_app_minus_dockerignore() {
    let repo = fixture_copy("package-mode-false");
    let (_, images) = build_all(&repo, &tag("nonpackage"));
    let report = image(&images, "apps/report");
    let out = run_in(report, &["python", "main.py"]);
    assert!(
        out.starts_with("report: tools 0.4.0\n") && out.contains("| total  |       7 |"),
        "{out}"
    );
    let files = run_in(report, &["find", "/app", "-type", "f"]);
    let mut files: Vec<&str> = files.lines().collect();
    files.sort_unstable();
    assert_eq!(
        files,
        ["/app/config/report.toml", "/app/main.py"],
        "manifests, locks, notes.md or tests leaked"
    );
}

#[test]
fn lock_markers_pick_the_entry_for_the_runtime_python() {
    let repo = fixture_copy("lock-markers");
    let (_, images) = build_all(&repo, &tag("markers"));
    assert_eq!(
        run_in(image(&images, "projects/calc"), &["calc"]),
        "calc 0.2.0: mathx 0.1.0, numpy 2.0.2"
    );
}

#[test]
fn projects_needing_python_3_9_and_3_13_run_on_them() {
    let repo = fixture_copy("pythons");
    let (_, images) = build_all(&repo, &tag("pythons"));
    let legacy = image(&images, "projects/legacy");
    let modern = image(&images, "projects/modern");
    assert_eq!(run_in(legacy, &["legacy"]), "legacy 0.1.0: common 1.0.0");
    assert_eq!(run_in(modern, &["modern"]), "modern 2.0.0: common 1.0.0");
    assert!(run_in(legacy, &["python", "--version"]).starts_with("Python 3.9."));
    assert!(run_in(modern, &["python", "--version"]).starts_with("Python 3.13."));
}

#[test]
fn a_uv_workspace_with_an_extension_dockerfile() {
    let repo = fixture_copy("uv-workspace");
    let (_, images) = build_all(&repo, &tag("uvws"));
    let api = image(&images, "apps/api");
    // CMD ["api"] comes from the project's `FROM app` Dockerfile.
    assert_eq!(run_in(api, &[]), "api 1.0.0: core 0.1.0, extras-lib 0.3.0, util 0.2.0");
    assert!(!run_in(api, &["cat", "/etc/api/api.toml"]).is_empty());
}

#[test]
fn every_backend_builds_and_a_library_builds_as_an_image_when_named() {
    let repo = fixture_copy("backends");
    let (_, images) = build_all(&repo, &tag("backends"));
    assert_eq!(
        run_in(image(&images, "projects/all"), &["all"]),
        "all 1.0.0: flit-lib 0.3.0, hatch-lib 0.1.0, pdm-lib 0.2.0, poetry1-lib 0.4.0, poetry2-lib 0.5.0"
    );
    let lib = xtask_json(
        &repo,
        &shared_cache(),
        &["build-image", "libs/hatch-lib", "--tag", &tag("backends"), "--json"],
    );
    let lib_image = lib["images"][0]["image"].as_str().unwrap();
    assert_eq!(
        run_in(lib_image, &["python", "-c", "import hatch_lib; print(hatch_lib.hello())"]),
        "hatch-lib 0.1.0"
    );
}

#[test]
fn pylock_files_written_by_pip_and_by_uv() {
    let repo = fixture_copy("pylock");
    let (_, images) = build_all(&repo, &tag("pylock"));
    assert_eq!(run_in(image(&images, "projects/tool"), &["tool"]), "tool 1.0.0: pylock-base 0.1.0");
    assert_eq!(
        run_in(image(&images, "projects/tool-uv"), &["tool-uv"]),
        "tool-uv 1.0.0: pylock-base 0.1.0"
    );
}

#[test]
fn an_sdist_with_c_code_is_compiled_in_the_build_image_and_only_its_library_ships() {
    let repo = fixture_copy("sdist-compiled");
    let (_, images) = build_all(&repo, &tag("sdist"));
    let crc = image(&images, "projects/crc");
    assert_eq!(run_in(crc, &["crc"]), "crc 0.1.0: crc-32 07b6bc5a, compiled extension True");
    let compilers = run_in(crc, &["sh", "-c", "command -v gcc cc x86_64-linux-gnu-gcc || true"]);
    assert!(compilers.is_empty(), "a compiler reached the image: {compilers}");
}

#[test]
fn versions_computed_by_the_backend_from_code_or_from_git_tags() {
    let repo = fixture_copy("dynamic-versions");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.email=t@example.org", "-c", "user.name=t", "-C"])
            .arg(&repo)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "fixture"]);
    git(&["tag", "v2.1.0"]);
    let (_, images) = build_all(&repo, &tag("dynver"));
    assert_eq!(
        run_in(image(&images, "projects/app"), &["app"]),
        "app 1.0.0: core 0.3.0, stamp 2.1.0"
    );
}

#[test]
fn uv_lock_versions_split_by_markers() {
    let repo = fixture_copy("uv-markers");
    let (_, images) = build_all(&repo, &tag("uvmarkers"));
    let calc = image(&images, "projects/calc");
    // The newest Python the project allows here (3.13) gets the numpy entry for >= 3.12.
    assert_eq!(run_in(calc, &["calc"]), "calc 1.0.0: mathx 0.1.0, numpy 2.5.5");
}

/// Writes `files` (path, text) under `dir`.
fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = dir.join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, content).unwrap();
    }
}

/// A member whose dependencies setuptools reads from a file when it builds.
const DYNAMIC: &str = "[project]\nname = \"ws-dyn\"\nversion = \"0.1.0\"\n\
    requires-python = \">=3.11\"\ndynamic = [\"dependencies\"]\n\n[tool.setuptools.dynamic]\n\
    dependencies = { file = [\"requirements.in\"] }\n\n[build-system]\n\
    requires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n";

/// A uv workspace whose root is the repo's root and gives its members their sources (as
/// otel-python and pydantic-ai do), and a setup.py-only package (as zulip's).
#[test]
fn a_workspace_at_the_repo_root_locks_there_and_its_sources_reach_the_members() {
    let repo = scratch("root-workspace");
    let member = |name: &str, deps: &str| {
        format!(
            "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n\
             dependencies = [{deps}]\n\n[build-system]\nrequires = [\"hatchling\"]\n\
             build-backend = \"hatchling.build\"\n"
        )
    };
    let lib = member("ws-lib", "");
    // The app's server extra (`pip install ".[server]"`) is what its image needs.
    let app = member("ws-app", "\"ws-lib>=0.1\", \"six\"")
        + "\n[project.optional-dependencies]\nserver = [\"idna\"]\n";
    write_files(
        &repo,
        &[
            (
                "pyproject.toml",
                "[tool.uv.workspace]\nmembers = [\"lib\", \"app\", \"dyn\"]\n\n[tool.uv.sources]\n\
                 ws-lib = { workspace = true }\n",
            ),
            ("lib/pyproject.toml", &lib),
            ("lib/ws_lib/__init__.py", "VALUE = 42\n"),
            ("app/pyproject.toml", &app),
            ("app/ws_app/__init__.py", "from ws_lib import VALUE\n"),
            ("docker/images.toml", "[projects.\"app\"]\nextras = [\"server\"]\n"),
            (
                "legacy/setup.py",
                "from setuptools import setup\nsetup(name='legacy', version='1.0')\n",
            ),
            ("legacy/legacy/__init__.py", ""),
            // Its dependencies come from a file at build time (as mcp's from a hatch hook).
            ("dyn/pyproject.toml", DYNAMIC),
            ("dyn/requirements.in", "ws-lib\n"),
            ("dyn/ws_dyn/__init__.py", "from ws_lib import VALUE\n"),
        ],
    );
    // Locking the member locks the workspace at the root: the repo is mounted once, writable.
    let out = xtask(&repo, &shared_cache(), &["lock", "app"]);
    assert!(out.status.success(), "lock app:\n{}", text(&out.stderr));
    assert!(repo.join("uv.lock").is_file());
    // uv records ws-lib without its specifier (the root's source makes it local): not stale.
    let out = xtask(&repo, &shared_cache(), &["build-image", "app", "--tag", &tag("rootws")]);
    assert!(out.status.success(), "build-image app:\n{}", text(&out.stderr));
    let app = format!("ws-app:{}", tag("rootws"));
    let probe = "import ws_app, six, idna; print(ws_app.VALUE)";
    assert_eq!(run_in(&app, &["python", "-c", probe]), "42");
    // A dependency computed at build time is out of the graph: the image would lack it, and
    // the build says so instead of tagging a broken image.
    let out = xtask(&repo, &shared_cache(), &["build-image", "dyn", "--tag", &tag("rootws")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ws-dyn requires ws-lib") && stderr.contains("dynamic"), "{stderr}");
    let tagged = std::process::Command::new("docker")
        .args(["image", "inspect", &format!("ws-dyn:{}", tag("rootws"))])
        .output()
        .unwrap();
    assert!(!tagged.status.success(), "a broken image was tagged");
    // A package uv cannot lock is named with what to add, before any container starts.
    let out = xtask(&repo, &shared_cache(), &["lock", "legacy"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("legacy declares its package in setup.py")
            && stderr.contains("legacy/pyproject.toml"),
        "{stderr}"
    );
}
