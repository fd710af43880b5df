//! Regression tests for what a careless or hostile user can do: poisoned caches, secrets in
//! labels, names as paths, symlinks out of a project, wrong runtimes. On a real engine; these
//! tests fail without one (`cargo xtask test` starts it).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use fs_err as fs;

fn unique_tag(name: &str) -> String {
    format!("h-{name}-{}", std::process::id())
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

fn fails(repo: &Path, args: &[&str]) -> String {
    let out = xtask(repo, &shared_cache(), args);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail:\n{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn credentials_in_the_git_remote_reach_no_label_and_no_history() {
    let repo = sample_copy("creds");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(
        &repo,
        &[
            "remote",
            "add",
            "origin",
            "https://gitlab-ci-token:s3cr3t@example.invalid/acme/repo.git?t=x",
        ],
    );
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "sample"]);
    let tag = unique_tag("creds");
    xtask_json(&repo, &shared_cache(), &["build-image", "hello-world", "--tag", &tag, "--json"]);
    let image = format!("hello-world:{tag}");
    let labels =
        text(&docker(&["image", "inspect", "--format", "{{json .Config.Labels}}", &image]).stdout);
    assert!(
        labels.contains(
            "\"org.opencontainers.image.source\":\"https://example.invalid/acme/repo.git\""
        ),
        "{labels}"
    );
    let history = text(&docker(&["history", "--no-trunc", &image]).stdout);
    for secret in ["s3cr3t", "gitlab-ci-token", "t=x"] {
        assert!(
            !labels.contains(secret) && !history.contains(secret),
            "{secret} leaked:\n{labels}\n{history}"
        );
    }
}

#[test]
fn a_package_name_that_is_a_path_is_refused_where_it_is_declared() {
    let repo = sample_copy("name-path");
    edit(
        &repo.join("projects/hello-world/pyproject.toml"),
        "name = \"hello-world\"",
        "name = \"/tmp/x/victim\"",
    );
    let stderr = fails(&repo, &["build-image", "projects/hello-world"]);
    assert!(
        stderr.contains("projects/hello-world/pyproject.toml")
            && stderr.contains("not a valid package name"),
        "{stderr}"
    );
    let out = xtask(&repo, &shared_cache(), &["list", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> =
        json["packages"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert!(!paths.contains(&"projects/hello-world"), "list still accepts it: {paths:?}");
    assert!(text(&out.stderr).contains("not a valid package name"));
}

#[test]
fn a_runtime_python_the_image_does_not_have_is_refused_before_building() {
    let repo = sample_copy("runtime");
    let (shim, log) = docker_shim("runtime");
    append(&repo.join("docker/images.toml"), "\n[runtime]\npython_full_version = \"3.12.1\"\n");
    let out = xtask_cmd(&repo, &shared_cache(), &["build-image", "hello-world"])
        .env("DOCKER", &shim)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("[runtime] python_full_version = \"3.12.1\"") && stderr.contains("3.11"),
        "{stderr}"
    );
    let calls = fs::read_to_string(&log).unwrap_or_default();
    assert!(!calls.lines().any(|l| l.starts_with("build")), "it built: {calls}");

    edit(&repo.join("docker/images.toml"), "\"3.12.1\"", "\"banana\"");
    let stderr = fails(&repo, &["build-image", "hello-world"]);
    assert!(stderr.contains("docker/images.toml") && stderr.contains("banana"), "{stderr}");
}

/// Runs a command in an image as root, with no network; its stdout.
fn in_image(image: &str, script: &str) -> String {
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0",
        "--entrypoint",
        "sh",
        image,
        "-c",
        script,
    ]);
    assert!(out.status.success(), "{image}: {script}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn copy_dot_sees_exactly_the_project_folder_minus_dockerignore() {
    let repo = sample_copy("copy-dot");
    let hello = repo.join("projects/hello-world");
    fs::write(hello.join("Dockerfile"), "FROM app\nCOPY . /srv/hello/\n").unwrap();
    fs::write(hello.join(".dockerignore"), "tests\n**/__pycache__\nsecret.env\n").unwrap();
    fs::write(hello.join("secret.env"), "TOKEN=x\n").unwrap();
    fs::create_dir_all(hello.join("data/.git")).unwrap();
    fs::write(hello.join("data/x.txt"), "x\n").unwrap();
    fs::write(hello.join("data/.git/config"), "[remote]\nurl = https://u:secret@host/r\n").unwrap();
    fs::write(hello.join(".git"), "gitdir: ../../.git/modules/hello\n").unwrap();
    let tag = unique_tag("copy-dot");
    xtask_json(&repo, &shared_cache(), &["build-image", "hello-world", "--tag", &tag, "--json"]);
    let listed =
        in_image(&format!("hello-world:{tag}"), "cd /srv/hello && find . -type f | sed 's|^./||'");
    let expected = [
        ".dockerignore",
        "Dockerfile",
        "data/x.txt",
        "hello_world/__init__.py",
        "poetry.lock",
        "pyproject.toml",
    ];
    assert_eq!(
        sorted_lines(&listed),
        expected.map(String::from).to_vec(),
        "xtask's own files, .git or ignored files leaked"
    );
}

#[test]
fn literal_copies_send_only_what_they_name_and_a_mode_change_rebuilds() {
    let repo = sample_copy("literal-copy");
    let export = repo.join("projects/gw-iaas/export");
    let cache = shared_cache();
    let tag = unique_tag("literal-copy");
    let build = || {
        let v = xtask_json(&repo, &cache, &["build-image", "export", "--tag", &tag, "--json"]);
        v["images"][0]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(build(), "built");
    // A file no COPY names: not in the context, so no rebuild.
    fs::write(export.join("notes.txt"), "unrelated\n").unwrap();
    assert_eq!(build(), "up-to-date", "a file no COPY reads rebuilt the image");
    // The executable bit of a copied file is part of the image.
    let config = export.join("config/export.toml");
    fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(build(), "built", "a mode change was not seen");
    let mode = in_image(&format!("gw-iaas/export:{tag}"), "stat -c %a /etc/export/export.toml");
    assert_eq!(mode.trim(), "755");
    // The engine path sends the extension's context itself: without the unnamed file.
    let engine = xtask_json(
        &repo,
        &cache,
        &["build-image", "export", "--tag", &tag, "--builder", "engine", "--json"],
    );
    assert_eq!(engine["images"][0]["status"], "built");
    let sent = repo.join("target/xtask/contexts");
    let names: Vec<String> = walk_names(&sent);
    assert!(!names.iter().any(|n| n.ends_with("notes.txt")), "{names:?}");
}

/// Every path below `dir`, as strings.
fn walk_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.display().to_string());
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk_names(&path));
        }
    }
    out
}

#[test]
fn dockerignore_rules_match_the_engine() {
    use xtask::image::dockerignore::DockerIgnore;
    use xtask::pipeline::plan::dockerfile::context;
    let dir = scratch("ignore-vs-engine");
    let ctx = dir.join("ctx");
    let files = [
        "conf/secret.env",
        "conf/secretXenv",
        "conf/app.toml",
        "a.pyc",
        "pkg/b.pyc",
        "x.log",
        "deep/er/y.log",
        "build/out/z",
        "builds/w",
        "tests/test_a.py",
        "tests/keep.py",
        "data1.csv",
        "data10.csv",
        "a.txt",
        "ab.txt",
        "deep/cache/c",
        "cache/d",
        "docs/v1/draft.md",
        "docs/v1/final.md",
        "docs/draft.md",
        "spaced name.txt",
        "dir with space/f.txt",
        "données/é.txt",
        "main.py",
        "x+y(1).txt",
        "n/a.tmp",
        "m/n/b.tmp",
    ];
    for f in files {
        let path = ctx.join(f);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, f).unwrap();
    }
    let ignore = "conf/../conf/secret.env\nconf/secret\\.env\n*.pyc\n**/*.log\nbuild/**\ntests\n!tests/keep.py\n\
                  data[0-9].csv\n?.txt\n**/cache\ndocs/*/draft.md\n  spaced name.txt  \n/dir with space\nx+y(1).txt\n\
                  **/*.tmp\n!m/**\n# a comment\ndonnées\n";
    fs::write(ctx.join(".dockerignore"), ignore).unwrap();
    let dockerfile = dir.join("Dockerfile");
    fs::write(&dockerfile, "FROM python:3.11-slim\nCOPY . /ctx/\n").unwrap();
    let tag = format!("xtask-ignore-test:{}", std::process::id());
    let out = docker(&[
        "build",
        "-q",
        "--network",
        "none",
        "-f",
        dockerfile.to_str().unwrap(),
        "-t",
        &tag,
        ctx.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let engine = sorted_lines(&in_image(&tag, "cd /ctx && find . -type f | sed 's|^./||'"));
    let root = camino::Utf8Path::from_path(&ctx).unwrap();
    let (entries, _) = context(root, &DockerIgnore::parse(ignore).unwrap(), &[]).unwrap();
    let ours: Vec<String> = entries.into_iter().map(|e| e.rel).collect();
    assert_eq!(ours, engine, "xtask and the engine disagree on what the context holds");
    assert!(
        !engine.contains(&"conf/secret.env".to_string())
            && engine.contains(&"tests/keep.py".to_string())
    );

    // A pattern the engine refuses is refused too, with the file and line.
    fs::write(ctx.join(".dockerignore"), "ok\nconf/[\n").unwrap();
    let refused = Command::new(std::env::var("DOCKER").unwrap_or_else(|_| "docker".into()))
        .args(["build", "-q", "--network", "none", "-f"])
        .args([&dockerfile, &ctx])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the engine took an invalid pattern");
    assert_eq!(DockerIgnore::parse("ok\nconf/[\n").unwrap_err().line, 2);
    docker(&["rmi", "--no-prune", &tag]);
}

#[test]
fn an_invalid_dockerignore_pattern_is_an_error_naming_file_and_line() {
    let repo = sample_copy("bad-ignore");
    let export = repo.join("projects/gw-iaas/export");
    fs::write(export.join(".dockerignore"), "tests/\nconf/[\n").unwrap();
    let stderr = fails(&repo, &["build-image", "export", "--dry-run"]);
    assert!(
        stderr.contains("projects/gw-iaas/export/.dockerignore: line 2")
            && stderr.contains("conf/["),
        "{stderr}"
    );
}

#[test]
fn project_files_named_like_xtask_files_cannot_reach_the_cache_or_the_repo() {
    let repo = sample_copy("poison");
    let cache = private_cache("poison");
    let hello = repo.join("projects/hello-world");
    // Build once so the cache holds typeo's wheel; remember it.
    xtask_json(
        &repo,
        &cache,
        &["build-image", "hello-world", "--tag", &unique_tag("poison1"), "--json"],
    );
    let wheels = xtask_json(&repo, &cache, &["wheels", "hello-world", "--json"]);
    let typeo = wheels["wheels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["package"] == "hermes-typeo")
        .unwrap();
    let cached_file = typeo["file"].as_str().unwrap().to_string();
    let before = fs::read(&cached_file).unwrap();
    // The project now holds files at the paths xtask's context uses, and copies its folder.
    for rel in [
        "wheels/libs/hermes_typeo-0.1.5-py3-none-any.whl",
        "wheels/third-party/requirements.txt",
        "layers/project/x.py",
        "Dockerfile.project",
    ] {
        let path = hello.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "poison").unwrap();
    }
    let layer_file = hello.join("layers/project/x.py");
    let mtime = fs::metadata(&layer_file).unwrap().modified().unwrap();
    fs::write(hello.join("Dockerfile"), "FROM app\nCOPY . /srv/hello/\n").unwrap();
    let tag = unique_tag("poison2");
    xtask_json(&repo, &cache, &["build-image", "hello-world", "--tag", &tag, "--json"]);
    assert_eq!(fs::read(&cached_file).unwrap(), before, "the cached wheel was written through");
    assert_eq!(fs::read_to_string(&layer_file).unwrap(), "poison");
    assert_eq!(
        fs::metadata(&layer_file).unwrap().modified().unwrap(),
        mtime,
        "a repo file was touched"
    );
    let out = docker(&["run", "--rm", &format!("hello-world:{tag}"), "hello-world"]);
    assert!(
        text(&out.stdout).starts_with("hello-world 1.0.0: hermes.typeo 0.1.5"),
        "{}",
        text(&out.stderr)
    );
    let again = xtask_json(&repo, &cache, &["wheels", "hello-world", "--json"]);
    let shas = |j: &serde_json::Value| -> Vec<String> {
        j["wheels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["sha256"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(shas(&again), shas(&wheels), "the wheels changed");
}

#[test]
fn symlinks_that_leave_the_project_are_never_followed() {
    let repo = sample_copy("symlinks");
    let hello = repo.join("projects/hello-world");
    std::os::unix::fs::symlink("/etc/shadow", hello.join("leak")).unwrap();
    fs::write(hello.join("Dockerfile"), "FROM app\nCOPY leak /leak\n").unwrap();
    let tag = unique_tag("symlinks");
    let stderr = fails(&repo, &["build-image", "hello-world", "--tag", &tag]);
    assert!(
        stderr.contains(
            "line 2: COPY leak: it is a symlink to \"/etc/shadow\", outside the project folder"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("root:"), "{stderr}");
    // A symlink inside the folder is fine, and travels as a symlink.
    std::os::unix::fs::symlink("pyproject.toml", hello.join("inside")).unwrap();
    fs::write(hello.join("Dockerfile"), "FROM app\nCOPY . /srv/\n").unwrap();
    fs::write(hello.join(".dockerignore"), "leak\n").unwrap();
    xtask_json(&repo, &shared_cache(), &["build-image", "hello-world", "--tag", &tag, "--json"]);
    let image = format!("hello-world:{tag}");
    assert_eq!(in_image(&image, "readlink /srv/inside").trim(), "pyproject.toml");
    assert_eq!(in_image(&image, "ls /srv/leak 2>/dev/null; echo done").trim(), "done");

    fs::remove_file(hello.join("Dockerfile")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", hello.join("Dockerfile")).unwrap();
    let stderr = fails(&repo, &["build-image", "hello-world", "--tag", &tag]);
    assert!(
        stderr.contains("projects/hello-world/Dockerfile is a symlink")
            && !stderr.contains("root:"),
        "{stderr}"
    );
}

#[test]
fn copy_problems_are_found_before_fetch_and_wheels_and_unknowable_sources_are_not_guessed() {
    let repo = sample_copy("copy-check");
    let cache = private_cache("copy-check");
    let hello = repo.join("projects/hello-world");
    fs::write(
        hello.join("Dockerfile"),
        "FROM app\nENV A=1\nCOPY config/missing.toml /etc/m.toml\n",
    )
    .unwrap();
    let out = xtask(&repo, &cache, &["build-image", "hello-world"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "projects/hello-world/Dockerfile line 3: COPY config/missing.toml: no such file"
        ),
        "{stderr}"
    );
    assert!(!cache.join("wheels").exists(), "wheels were built before the COPY check");

    fs::write(hello.join("Dockerfile"), "FROM app\nCOPY ../../libs /libs\n").unwrap();
    assert!(fails(&repo, &["build-image", "hello-world"]).contains("leaves the project folder"));

    // Forms only the build can resolve are not reported as missing.
    fs::write(
        hello.join("Dockerfile"),
        "FROM app\nARG CFG=conf\nADD https://example.org/x.tgz /x\nCOPY ${CFG}/a.toml /a\nCOPY --chown=app:app --chmod=644 [\"pyproject.toml\", \"/p.toml\"]\nCOPY *.lock /l/\n",
    )
    .unwrap();
    let out = xtask(&repo, &cache, &["build-image", "hello-world", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Changes a byte in the middle of a file, keeping its size and mtime: what a check by stat
/// cannot see.
fn flip_a_byte(path: &str) {
    let meta = fs::metadata(path).unwrap();
    let mut bytes = fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    fs::write(path, bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .file()
        .set_modified(meta.modified().unwrap())
        .unwrap();
}

#[test]
fn cached_files_changed_in_place_are_found_and_replaced() {
    let repo = sample_copy("tamper");
    let cache = private_cache("tamper");
    let tag = unique_tag("tamper");
    let json = xtask_json(&repo, &cache, &["build-image", "hello-world", "--tag", &tag, "--json"]);
    assert_eq!(json["images"][0]["status"], "built");
    let wheels = xtask_json(&repo, &cache, &["wheels", "hello-world", "--json"]);
    let typeo = wheels["wheels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["package"] == "hermes-typeo")
        .unwrap()
        .clone();

    // A local wheel: evicted and built again, with the same bytes as before.
    flip_a_byte(typeo["file"].as_str().unwrap());
    let again = xtask_json(&repo, &cache, &["wheels", "hello-world", "--json"]);
    let rebuilt = again["wheels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["package"] == "hermes-typeo")
        .unwrap();
    assert_eq!(rebuilt["cached"], false, "a changed wheel was reported as cached");
    assert_eq!(rebuilt["sha256"], typeo["sha256"]);

    // A third-party wheel: checked byte for byte before it goes into an image, fetched again.
    let fetched = xtask_json(&repo, &cache, &["fetch", "hello-world", "--json"]);
    let wheel = fetched["wheels"][0].clone();
    flip_a_byte(wheel["file"].as_str().unwrap());
    let json = xtask_json(
        &repo,
        &cache,
        &["build-image", "hello-world", "--tag", &tag, "--no-cache", "--json"],
    );
    assert_eq!(json["images"][0]["status"], "built");
    let bytes = fs::read(wheel["file"].as_str().unwrap()).unwrap();
    assert_eq!(xtask::hash::Sha256::of(&bytes).hex(), wheel["sha256"].as_str().unwrap());
    let out = docker(&["run", "--rm", &format!("hello-world:{tag}"), "hello-world"]);
    assert!(text(&out.stdout).starts_with("hello-world 1.0.0"), "{}", text(&out.stderr));

    // `wheels --out` into a context, whose wheels are hard links into the cache.
    let libs = repo.join("target/xtask/contexts/hello-world/wheels/libs");
    let out = xtask(&repo, &cache, &["wheels", "hello-world", "--out", libs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cached = fs::read(typeo["file"].as_str().unwrap()).unwrap();
    assert_eq!(
        xtask::hash::Sha256::of(&cached).hex(),
        typeo["sha256"].as_str().unwrap(),
        "written through a link"
    );
}

#[test]
fn two_projects_with_one_image_name_are_refused_naming_both() {
    let repo = sample_copy("same-name");
    let copy = repo.join("projects/hello-copy");
    copy_tree(&repo.join("projects/hello-world"), &copy);
    let stderr = fails(&repo, &["build-image", "projects/hello-copy", "--dry-run"]);
    assert!(
        stderr.contains(
            "projects/hello-copy and projects/hello-world both make the image \"hello-world\""
        ) && stderr.contains("[projects.\"projects/hello-world\"] image"),
        "{stderr}"
    );
    append(
        &repo.join("docker/images.toml"),
        "\n[projects.\"projects/hello-copy\"]\nimage = \"hello-other\"\n",
    );
    let out = xtask(&repo, &shared_cache(), &["build-image", "--all", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_config_key_naming_no_project_is_an_error_with_the_nearest() {
    let repo = sample_copy("bad-key");
    append(
        &repo.join("docker/images.toml"),
        "\n[projects.\"projects/helo-world\"]\nimage = \"x\"\n",
    );
    let stderr = fails(&repo, &["list"]);
    assert!(
        stderr.contains("docker/images.toml: [projects.\"projects/helo-world\"] names no project")
            && stderr.contains("did you mean [projects.\"projects/hello-world\"]"),
        "{stderr}"
    );
}

#[test]
fn a_cache_folder_with_a_colon_in_its_path_works() {
    let repo = sample_copy("colon");
    let cache = scratch("cache:with:colons");
    let out = xtask(&repo, &cache, &["wheels", "hello-world", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn what_a_killed_run_left_is_removed_and_what_a_live_run_uses_is_not() {
    let repo = sample_copy("sweep");
    let cache = private_cache("sweep");
    let runs = cache.join("runs");
    fs::create_dir_all(&runs).unwrap();
    // A run that died: its lock file is there, nobody holds it. A live run holds its lock (this
    // test, for the run "live-1"). A run that never registered in this cache is left alone.
    fs::write(runs.join("dead-1.lock"), "").unwrap();
    let held = fs::File::create(runs.join("live-1.lock")).unwrap();
    held.file().lock().unwrap();
    let start = |run: &str| {
        let label = format!("xtask.run={run}");
        let out = docker(&[
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            &label,
            "python:3.11-slim",
            "sleep",
            "300",
        ]);
        text(&out.stdout).trim().to_string()
    };
    let (dead, live, elsewhere) = (start("dead-1"), start("live-1"), start("other-cache-1"));
    fs::create_dir_all(cache.join("tmp/fetch~dead-1")).unwrap();
    fs::create_dir_all(cache.join("tmp/fetch~live-1")).unwrap();
    // Any run that starts a container sweeps first: build a wheel.
    append(&repo.join("libs/hermes/hermes.typeo/hermes/typeo/__init__.py"), "\n# sweep\n");
    let out = xtask(&repo, &cache, &["wheels", "hello-world"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let running = text(&docker(&["ps", "-aq", "--no-trunc"]).stdout);
    assert!(!running.contains(&dead), "a dead run's container remains");
    assert!(
        running.contains(&live) && running.contains(&elsewhere),
        "a live or unknown run's container was removed"
    );
    assert!(!cache.join("tmp/fetch~dead-1").exists(), "a dead run's scratch folder remains");
    assert!(cache.join("tmp/fetch~live-1").exists(), "a live run's scratch folder was removed");
    docker(&["rm", "-f", &live, &elsewhere]);
    drop(held);
}

#[test]
fn an_engine_that_does_not_answer_is_named_with_what_to_do() {
    let dir = scratch("no-engine");
    let shim = dir.join("docker");
    fs::write(&shim, "#!/bin/sh\nexit 1\n").unwrap();
    fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = xtask_cmd(&repo_root(), &shared_cache(), &["build-image", "hello-world"])
        .env("DOCKER", &shim)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the Docker engine is not running")
            && text(&out.stderr).contains(" up`")
    );
    // `up` with DOCKER_HOST at a missing socket starts no second dockerd: it names the host.
    let out = xtask_cmd(&repo_root(), &shared_cache(), &["up"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("DOCKER_HOST=unix:///nonexistent/docker.sock"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_package_folder_that_is_a_symlink_is_named_as_one() {
    let repo = sample_copy("symlinked-lib");
    let real = repo.join("libs/hermes/real-typeo");
    fs::rename(repo.join("libs/hermes/hermes.typeo"), &real).unwrap();
    std::os::unix::fs::symlink(&real, repo.join("libs/hermes/hermes.typeo")).unwrap();
    edit(
        &repo.join("docker/images.toml"),
        "exclude = [",
        "exclude = [\"libs/hermes/real-typeo\", ",
    );
    let stderr = fails(&repo, &["build-image", "hello-world", "--dry-run"]);
    assert!(
        stderr.contains("symlinked folder") && stderr.contains("libs/hermes/hermes.typeo"),
        "{stderr}"
    );
}

#[test]
fn a_missing_python_image_gets_the_missing_base_image_message() {
    let repo = sample_copy("no-python-image");
    edit(
        &repo.join("docker/images.toml"),
        "python_image = \"python:3.11-slim\"",
        "python_image = \"python:0.0-missing\"",
    );
    fs::remove_file(repo.join("docker/toolchain.lock")).unwrap();
    let stderr = fails(&repo, &["lock", "--toolchain"]);
    assert!(
        stderr.contains("the base image python:0.0-missing is missing") && !stderr.contains("125"),
        "{stderr}"
    );
}

#[test]
fn hints_carry_repo_and_a_broken_manifest_is_named_when_its_package_is_asked_for() {
    let repo = sample_copy("hints");
    fs::remove_file(repo.join("projects/hello-world/poetry.lock")).unwrap();
    let stderr = fails(&repo, &["build-image", "hello-world", "--dry-run"]);
    let expected = format!("`cargo xtask --repo {} lock projects/hello-world`", repo.display());
    assert!(stderr.contains(&expected), "{stderr}");
    edit(
        &repo.join("projects/hello-world/pyproject.toml"),
        "python = \"^3.11\"\n",
        "python = \"^3.11\"\nlibmq = \"\"\n",
    );
    let stderr = fails(&repo, &["build-image", "hello-world", "--dry-run"]);
    assert!(
        stderr.contains("projects/hello-world/pyproject.toml does not parse")
            && stderr.contains("\"libmq\": an empty version constraint"),
        "{stderr}"
    );
}
