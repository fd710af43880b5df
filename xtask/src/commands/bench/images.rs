//! `cargo xtask bench images`: build-image against a status-quo and a hand-written Dockerfile.

use std::time::Duration;

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

use super::{copy_sample, ms, release_binary, summarize, timed};

const STATUS_QUO: &str = "docker/bench/status-quo.Dockerfile";
const HAND_WRITTEN: &str = "docker/bench/hand-written.Dockerfile";

pub fn run(sh: &Shell, root: &Utf8Path, runs: usize) -> Result<()> {
    let bin = release_binary(sh, root)?;
    let cache = root.join("target/bench/images-cache");
    if cache.exists() {
        sh.remove_path(&cache)?;
    }
    std::fs::create_dir_all(&cache)?;
    let main_toolchain = root.join("target/xtask/cache/toolchain");
    if main_toolchain.exists() {
        super::copy_tree(&main_toolchain, &cache.join("toolchain"))?;
    }
    let _env = sh.push_env("XTASK_CACHE_DIR", &cache);

    let sample = root.join("target/bench/images-sample");
    copy_sample(root, &sample)?;
    let a = case(
        sh,
        &bin,
        root,
        &cache,
        &sample,
        "projects/gw-iaas/export",
        "gw-iaas/export",
        "libs/hermes/hermes.typeo/hermes/typeo/__init__.py",
        runs,
    )?;

    let generated = root.join("target/bench/images-gw-iaas-shaped");
    write_gw_iaas_shaped(&generated)?;
    cmd!(sh, "{bin} --repo {generated} lock --all")
        .quiet()
        .run()
        .context("lock the generated repo")?;
    let b = case(
        sh,
        &bin,
        root,
        &cache,
        &generated,
        "projects/app",
        "app",
        "libs/lib-a/lib_a/__init__.py",
        runs,
    )?;

    println!("\n| figure | sample export | generated gw-iaas-shaped | goal |\n|---|---|---|---|");
    for (i, (name, goal)) in FIGURES.iter().enumerate() {
        println!("| {name} | {} | {} | {goal} |", a[i], b[i]);
    }
    Ok(())
}

const FIGURES: &[(&str, &str)] = &[
    ("image over base: xtask", "≤ hand-written + 1%"),
    ("image over base: hand-written", ""),
    ("image over base: status quo", ""),
    ("context: xtask / wheels it needs", "≤ 1.1"),
    ("context: status quo", ""),
    ("cold, wheels included: xtask", "≤ hand-written"),
    ("cold: hand-written", ""),
    ("cold: status quo", ""),
    ("edit one lib → new image: xtask (third-party layer reused?)", "≤ 2.5 s, reused"),
    ("edit one lib: hand-written", ""),
    ("edit one lib: status quo", ""),
    ("no-op build-image: xtask (median)", "≤ 150 ms"),
];

fn mb(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn image_size(sh: &Shell, image: &str) -> Result<u64> {
    let format = "{{.Size}}";
    Ok(cmd!(sh, "docker image inspect --format {format} {image}").quiet().read()?.trim().parse()?)
}

fn third_party_layer(sh: &Shell, image: &str) -> Result<String> {
    let format = "{{index .RootFS.Layers 2}}";
    Ok(cmd!(sh, "docker image inspect --format {format} {image}").quiet().read()?)
}

fn dir_bytes(dir: &Utf8Path, skip: &str) -> Result<u64> {
    let mut total = 0;
    for entry in dir.read_dir_utf8()? {
        let entry = entry?;
        if entry.file_name() == skip {
            continue;
        }
        total += if entry.file_type()?.is_dir() {
            dir_bytes(entry.path(), "")?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}

/// One repo, one project: the figures in the order of [`FIGURES`].
#[allow(clippy::too_many_arguments)]
fn case(
    sh: &Shell,
    bin: &Utf8Path,
    root: &Utf8Path,
    cache: &Utf8Path,
    repo: &Utf8Path,
    project: &str,
    image: &str,
    lib_file: &str,
    runs: usize,
) -> Result<Vec<String>> {
    println!("== {repo} {project}");
    let ca =
        std::env::var("PIP_CERT").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    std::fs::copy(&ca, repo.join(".bench-ca.crt"))
        .with_context(|| format!("copy {ca} for the comparison builds"))?;
    std::fs::write(repo.join(".dockerignore"), "target\n")?;
    let base = image_size(sh, "python:3.11-slim")?;
    for part in ["wheels", "wheelhouse"] {
        if cache.join(part).exists() {
            sh.remove_path(cache.join(part))?;
        }
    }
    let (cold_ours, out) =
        timed(cmd!(sh, "{bin} --repo {repo} build-image {project} --tag bench --no-cache --json"))?;
    let json: serde_json::Value = serde_json::from_str(&out)?;
    let ours = &json["images"][0];
    let context = ours["context_bytes"].as_u64().unwrap_or(0);
    let name = image.rsplit('/').next().unwrap_or(image);
    let wheels = dir_bytes(
        &repo
            .join("target/xtask/contexts")
            .join(project.rsplit('/').next().unwrap_or(name))
            .join("wheels"),
        "requirements.txt",
    )?;
    let ours_over = ours["size"].as_u64().unwrap_or(0) - base;

    let arg = format!("PROJECT_DIR={project}");
    let (hand_dockerfile, quo_dockerfile) = (root.join(HAND_WRITTEN), root.join(STATUS_QUO));
    let hand_tag = format!("bench-hand-written/{name}");
    let quo_tag = format!("bench-status-quo/{name}");
    let (cold_hand, _) = timed(cmd!(
        sh,
        "docker build -q --no-cache -f {hand_dockerfile} --build-arg {arg} -t {hand_tag} {repo}"
    ))?;
    let (cold_quo, _) = timed(cmd!(
        sh,
        "docker build -q --no-cache -f {quo_dockerfile} --build-arg {arg} -t {quo_tag} {repo}"
    ))?;
    let hand_over = image_size(sh, &hand_tag)? - base;
    let quo_over = image_size(sh, &quo_tag)? - base;
    let quo_context = dir_bytes(repo, "target")?;

    let tp_before = third_party_layer(sh, &format!("{image}:bench"))?;
    let lib = repo.join(lib_file);
    let mut source = std::fs::read_to_string(&lib)?;
    source += "\n# benchmark edit\n";
    std::fs::write(&lib, source)?;
    let (edit_ours, _) = timed(cmd!(sh, "{bin} --repo {repo} build-image {project} --tag bench"))?;
    let reused = third_party_layer(sh, &format!("{image}:bench"))? == tp_before;
    let (edit_hand, _) = timed(cmd!(
        sh,
        "docker build -q -f {hand_dockerfile} --build-arg {arg} -t {hand_tag} {repo}"
    ))?;
    let (edit_quo, _) = timed(cmd!(
        sh,
        "docker build -q -f {quo_dockerfile} --build-arg {arg} -t {quo_tag} {repo}"
    ))?;

    let mut noop = Vec::new();
    for _ in 0..runs.max(1) {
        noop.push(timed(cmd!(sh, "{bin} --repo {repo} build-image {project} --tag bench"))?.0);
    }
    let (noop_median, _, _) = summarize(noop);
    Ok(vec![
        format!(
            "{} ({:+.1}% vs hand-written)",
            mb(ours_over),
            (ours_over as f64 / hand_over as f64 - 1.0) * 100.0
        ),
        mb(hand_over),
        mb(quo_over),
        format!("{} / {} = {:.3}", mb(context), mb(wheels), context as f64 / wheels.max(1) as f64),
        mb(quo_context),
        secs(cold_ours),
        secs(cold_hand),
        secs(cold_quo),
        format!("{} ({})", secs(edit_ours), if reused { "reused" } else { "NOT reused" }),
        secs(edit_hand),
        secs(edit_quo),
        ms(noop_median),
    ])
}

/// A gw-iaas-shaped repo: lib-c → lib-b → lib-a, and a project on lib-c with numpy and click.
fn write_gw_iaas_shaped(dir: &Utf8Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let source = "[[tool.poetry.source]]\nname = \"pypi-simple\"\nurl = \"https://pypi.org/simple/\"\npriority = \"primary\"\n\n[build-system]\nrequires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n";
    let package = |path: &str,
                   name: &str,
                   module: &str,
                   deps: &str,
                   scripts: &str,
                   code: &str|
     -> Result<()> {
        let d = dir.join(path);
        std::fs::create_dir_all(d.join(module))?;
        std::fs::write(
            d.join("pyproject.toml"),
            format!("[tool.poetry]\nname = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"{name}\"\nauthors = [\"bench <bench@example.org>\"]\npackages = [{{ include = \"{module}\" }}]\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\n{deps}\n{scripts}\n{source}"),
        )?;
        std::fs::write(d.join(module).join("__init__.py"), code)?;
        Ok(())
    };
    package("libs/lib-a", "lib-a", "lib_a", "", "", "def value():\n    return 1\n")?;
    package(
        "libs/lib-b",
        "lib-b",
        "lib_b",
        "lib-a = { path = \"../lib-a\", develop = true }",
        "",
        "from lib_a import value\n\ndef double():\n    return 2 * value()\n",
    )?;
    package(
        "libs/lib-c",
        "lib-c",
        "lib_c",
        "lib-b = { path = \"../lib-b\", develop = true }\nclick = \"^8.1\"",
        "",
        "from lib_b import double\n\ndef quad():\n    return 2 * double()\n",
    )?;
    package(
        "projects/app",
        "app",
        "app",
        "lib-c = { path = \"../../libs/lib-c\", develop = true }\nnumpy = \"^2.0\"\nclick = \"^8.1\"",
        "[tool.poetry.scripts]\napp = \"app:main\"\n\n[tool.poetry.group.dev.dependencies]\npytest = \"^8.0\"\n",
        "import click\nimport numpy as np\nfrom lib_c import quad\n\n\n@click.command()\ndef main():\n    click.echo(f\"app: {int(np.full(2, quad()).sum())}\")\n",
    )?;
    Ok(())
}
