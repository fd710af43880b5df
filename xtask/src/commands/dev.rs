//! `cargo xtask dev <project> [-- cmd…]`: the project's environment with live library sources.

use std::io::{Cursor, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::Shell;
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

use super::fetch;
use crate::cli::DevArgs;
use crate::engine::Engine;
use crate::files::{link_or_copy, write_tree};
use crate::model::{self, graph::Package, Kind, Repo};
use crate::toolchain::owner_of;
use crate::wheel::install::{install, Layout, Placed};
use crate::wheel::sha256_hex;

const TEMPLATE: &str = "docker/dev.Dockerfile";
/// Where the repo's packages are mounted in the container (the same path locks are made at).
const MOUNT: &str = "/repo";

pub fn run(root: &Utf8Path, args: &DevArgs) -> Result<ExitCode> {
    let start = Instant::now();
    let repo = model::load(root)?;
    let g = &repo.graph;
    let idx = g.find(&args.project).map_err(anyhow::Error::msg)?;
    if g.packages[idx].kind == Kind::Config {
        bail!("{} declares no package; pass a project or a lib", g.packages[idx].manifest_path());
    }
    let closure = g.closure(idx, &[]);
    super::report(&closure.problems)?;
    let packages: Vec<&Package> = closure.order.iter().map(|(i, _)| &g.packages[*i]).collect();
    let resolved = fetch::resolve_for(&repo, idx, true)?;
    let sh = Shell::new()?;
    let engine = Engine::connect(&sh)?;
    let image = ensure_image(&sh, &engine, &repo, idx, &packages, &resolved)?;
    eprintln!("dev image {image} ready in {:.2} s", start.elapsed().as_secs_f64());
    run_container(&engine, &repo, &packages, &g.packages[idx], &image, &args.command)
}

/// Builds the dev image unless one with the same inputs exists. Its inputs are manifests and
/// locks, never library code.
fn ensure_image(
    sh: &Shell,
    engine: &Engine,
    repo: &Repo,
    idx: usize,
    packages: &[&Package],
    resolved: &fetch::Resolved,
) -> Result<String> {
    let pkg = &repo.graph.packages[idx];
    let runtime_image = repo.config.runtime_image(&pkg.dir);
    let dockerfile = repo.read_or_default(TEMPLATE)?;
    let layer = dev_layer(repo, packages)?;
    let base_id = engine.require_image(sh, &runtime_image)?;
    // The third-party set and the metadata layer are what the image holds; hash them before
    // fetching, so that a warm run needs no lock check or wheelhouse scan.
    let mut input = format!("{dockerfile}\n{base_id}\n");
    for p in &resolved.pinned {
        input += &format!("{}=={} {:?}\n", p.name, p.version, p.files);
    }
    for f in &layer {
        input += &format!("{} {:o} {}\n", f.path, f.mode, sha256_hex(&f.data));
    }
    let tag = format!("xtask-dev/{}:{}", pkg.name, &sha256_hex(input.as_bytes())[..16]);
    if engine.image_id(sh, &tag)?.is_some() {
        return Ok(tag);
    }
    let house = fetch::provide(sh, repo, resolved, false)?;
    let ctx = repo.work.join("contexts").join(format!("{}-dev", pkg.name));
    if ctx.exists() {
        std::fs::remove_dir_all(&ctx).with_context(|| format!("remove {ctx}"))?;
    }
    let wheels = ctx.join("wheels/third-party");
    std::fs::create_dir_all(&wheels)?;
    std::fs::write(ctx.join("Dockerfile"), &dockerfile)?;
    std::fs::write(wheels.join("requirements.txt"), &house.requirements_text)?;
    for w in &house.wheels {
        link_or_copy(&w.file, &wheels.join(w.file.file_name().unwrap_or_default()))?;
    }
    write_tree(&ctx.join("layers/dev"), &layer)?;
    let args: Vec<String> = vec![
        "--network".into(),
        "none".into(),
        "--tag".into(),
        tag.clone(),
        "--build-arg".into(),
        format!("RUNTIME_IMAGE={runtime_image}"),
        ctx.to_string(),
    ];
    engine
        .build(&args, &mut |_| {})
        .with_context(|| format!("build the dev image of {} from {TEMPLATE}", pkg.dir))?;
    Ok(tag)
}

/// Metadata, console scripts and a .pth file per local package, installed from a tiny
/// generated wheel so the layout is the same as a real install.
fn dev_layer(repo: &Repo, packages: &[&Package]) -> Result<Vec<Placed>> {
    let python = repo.config.runtime.python_version();
    let layout = Layout { venv: "/opt/venv", python: &python };
    let mut out = Vec::new();
    for pkg in packages {
        let raw = pkg.manifest.name.clone().unwrap_or_else(|| pkg.name.clone());
        let version = pkg.version.clone().unwrap_or_else(|| "0".into());
        let dist = format!("{}-{version}", pkg.name.replace('-', "_"));
        let roots: Vec<String> = if pkg.manifest.source_roots.is_empty() {
            vec![format!("{MOUNT}/{}", pkg.dir)]
        } else {
            pkg.manifest.source_roots.iter().map(|r| format!("{MOUNT}/{}/{r}", pkg.dir)).collect()
        };
        let mut entry_points = String::from("[console_scripts]\n");
        for (name, target) in &pkg.manifest.scripts {
            entry_points += &format!("{name} = {target}\n");
        }
        let files = [
            (format!("xtask_dev_{}.pth", pkg.name.replace('-', "_")), roots.join("\n") + "\n"),
            (format!("{dist}.dist-info/METADATA"), format!("Metadata-Version: 2.1\nName: {raw}\nVersion: {version}\n")),
            (format!("{dist}.dist-info/WHEEL"), "Wheel-Version: 1.0\nGenerator: xtask dev\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_string()),
            (format!("{dist}.dist-info/entry_points.txt"), entry_points),
        ];
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in &files {
            zip.start_file(name.as_str(), SimpleFileOptions::default())?;
            zip.write_all(text.as_bytes())?;
        }
        let wheel = zip.finish()?.into_inner();
        out.extend(
            install(&wheel, &layout)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("dev metadata of {}", pkg.dir))?,
        );
    }
    Ok(out)
}

fn run_container(
    engine: &Engine,
    repo: &Repo,
    packages: &[&Package],
    project: &Package,
    image: &str,
    command: &[String],
) -> Result<ExitCode> {
    let user = owner_of(&repo.root.join(&project.dir))?;
    let mut args: Vec<String> = vec!["run".into(), "--rm".into(), "--user".into(), user];
    for pkg in packages {
        args.extend(["-v".into(), format!("{}:{MOUNT}/{}", repo.root.join(&pkg.dir), pkg.dir)]);
    }
    // `pytest` alone runs the tests of the project and of every local package it uses.
    let tests: Vec<String> = packages
        .iter()
        .filter(|p| repo.root.join(&p.dir).join("tests").is_dir())
        .map(|p| format!("{MOUNT}/{}/tests", p.dir))
        .collect();
    args.extend([
        "-e".into(),
        format!(
            "PYTEST_ADDOPTS=-p no:cacheprovider --import-mode=importlib -o \"testpaths={}\"",
            tests.join(" ")
        ),
    ]);
    args.extend(["-w".into(), format!("{MOUNT}/{}", project.dir)]);
    let interactive = command.is_empty();
    if interactive {
        args.push("-it".into());
    }
    args.push(image.to_string());
    if interactive {
        args.push("bash".into());
    } else {
        args.extend(command.iter().cloned());
    }
    // Interactive sessions need our terminal: xshell nulls stdin, so this one child is run
    // with std::process::Command and inherited stdio; its exit code becomes ours.
    let status = std::process::Command::new(&engine.bin)
        .args(&args)
        .status()
        .with_context(|| format!("run {} {}", engine.bin, args[0]))?;
    let code = status.code().unwrap_or(1);
    if code == 127 && !interactive {
        eprintln!(
            "error: `{}` is not a command in the dev image of {} (exit code 127)",
            command[0], project.dir
        );
    } else if code == 125 {
        bail!(
            "the engine could not start the dev container (exit code 125); see the message above"
        );
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
