//! `cargo xtask build-image`: minimal per-project contexts, layered images, and a true no-op.

mod stage;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use serde::Serialize;
use xshell::{cmd, Shell};

use super::{fetch, print_json, wheels};
use crate::cli::BuildImageArgs;
use crate::engine::Engine;
use crate::image::{reference, rfc3339};
use crate::model::{self, Kind, Repo};
use stage::Inputs;

#[derive(Serialize)]
pub struct ImageRow {
    pub project: String,
    pub image: String,
    pub id: String,
    pub size: u64,
    pub base_size: u64,
    pub layers: usize,
    pub context_bytes: u64,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[derive(Serialize)]
pub struct ImagesJson<'a> {
    pub images: &'a [ImageRow],
}

/// Progress lines: to stdout for people, to stderr when stdout carries JSON.
struct Log {
    json: bool,
}

impl Log {
    fn step(&self, what: &str, since: Instant) {
        let line = format!("{what:<48} {:>7.2} s", since.elapsed().as_secs_f64());
        if self.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    fn line(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// One project to build: where it is and what it will be called.
struct Target {
    idx: usize,
    reference: String,
    runtime_image: String,
    jobs: Vec<wheels::Job>,
    resolved: fetch::Resolved,
}

pub fn run(root: &Utf8Path, args: &BuildImageArgs) -> Result<()> {
    let start = Instant::now();
    let repo = model::load(root)?;
    let Some(rows) = build(&repo, args)? else { return Ok(()) };
    if args.json {
        print_json(&ImagesJson { images: &rows })?;
    } else {
        print_summary(&rows);
    }
    Log { json: args.json }.step("total", start);
    Ok(())
}

/// Builds (and pushes) the images `args` asks for; `None` for a dry run, which only prints.
pub fn build(repo: &Repo, args: &BuildImageArgs) -> Result<Option<Vec<ImageRow>>> {
    let start = Instant::now();
    let log = Log { json: args.json };
    let targets = plan(repo, args)?;
    log.step(&format!("plan {} image(s)", targets.len()), start);
    if args.dry_run {
        dry_run(repo, &targets)?;
        return Ok(None);
    }
    let sh = Shell::new()?;
    let engine = Engine::connect(&sh)?;

    let t = Instant::now();
    let mut houses = Vec::new();
    for target in &targets {
        houses.push(fetch::provide(&sh, repo, &target.resolved, false)?);
    }
    log.step("fetch third-party wheels", t);
    let t = Instant::now();
    let all_jobs: Vec<&wheels::Job> = targets.iter().flat_map(|t| t.jobs.iter()).collect();
    let built = wheels::build_missing_refs(repo, &all_jobs, false)?;
    log.step(&format!("local wheels ({} built)", built.len()), t);

    let mut rows = Vec::new();
    for (target, house) in targets.iter().zip(&houses) {
        let wheel_rows = wheels::rows(repo, &target.jobs, &built, false)?;
        rows.push(build_one(&sh, &engine, repo, target, house, &wheel_rows, &log, args.no_cache)?);
    }
    if args.push {
        for row in &mut rows {
            let t = Instant::now();
            row.digest = Some(engine.push(&sh, &row.image)?);
            log.step(&format!("push {}", row.image), t);
        }
    }
    Ok(Some(rows))
}

/// Resolves every target and checks everything that can fail before any build starts.
fn plan(repo: &Repo, args: &BuildImageArgs) -> Result<Vec<Target>> {
    let g = &repo.graph;
    let indices: Vec<usize> = if args.all {
        (0..g.packages.len()).filter(|&i| g.packages[i].kind == Kind::Project).collect()
    } else if args.projects.is_empty() {
        bail!("name the projects to build (paths or names), or pass --all");
    } else {
        args.projects
            .iter()
            .map(|q| g.find(q).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    let mut targets = Vec::new();
    for idx in indices {
        let pkg = &g.packages[idx];
        if pkg.kind != Kind::Project {
            let projects: Vec<&str> = g
                .packages
                .iter()
                .filter(|p| p.kind == Kind::Project)
                .map(|p| p.dir.as_str())
                .collect();
            bail!(
                "{} is a {:?} package, not a project; build-image builds projects: {}",
                pkg.dir,
                pkg.kind,
                projects.join(", ")
            );
        }
        let name = repo
            .config
            .projects
            .get(&pkg.dir)
            .and_then(|p| p.image.clone())
            .unwrap_or_else(|| pkg.name.clone());
        let mut reference = format!("{name}:{}", args.tag);
        if let Some(registry) = &args.registry {
            reference = format!("{}/{reference}", registry.trim_end_matches('/'));
        }
        reference::validate(&reference)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("name the image of {}", pkg.dir))?;
        let runtime_image = repo.config.runtime_image(&pkg.dir);
        let jobs = wheels::plan(repo, idx)?;
        let resolved = fetch::resolve(repo, idx)?;
        targets.push(Target { idx, reference, runtime_image, jobs, resolved });
    }
    if args.push && args.registry.is_none() {
        bail!("--push needs --registry (or XTASK_REGISTRY), e.g. --registry 127.0.0.1:5000");
    }
    Ok(targets)
}

#[allow(clippy::too_many_arguments)]
fn build_one(
    sh: &Shell,
    engine: &Engine,
    repo: &Repo,
    target: &Target,
    house: &fetch::Wheelhouse,
    wheel_rows: &[wheels::WheelRow],
    log: &Log,
    no_cache: bool,
) -> Result<ImageRow> {
    let pkg = &repo.graph.packages[target.idx];
    let t = Instant::now();
    let inputs = Inputs::collect(repo, target.idx, house, wheel_rows, &target.runtime_image)?;
    let [base, current] = <[Option<_>; 2]>::try_from(
        engine.inspect(sh, &[&target.runtime_image, &target.reference])?,
    )
    .map_err(|_| anyhow::anyhow!("inspect returned the wrong number of images"))?;
    let base = base.ok_or_else(|| crate::engine::missing_image(&target.runtime_image))?;
    let fingerprint = inputs.fingerprint(&base.id)?;
    let context_bytes = inputs.context_bytes()?;
    let up_to_date = current
        .as_ref()
        .filter(|c| !no_cache && c.labels.get("xtask.fingerprint") == Some(&fingerprint));
    if let Some(image) = up_to_date {
        log.step(&format!("{} up to date", target.reference), t);
        return Ok(row(pkg.dir.clone(), target, image, &base, context_bytes, "up-to-date"));
    }
    let dir = repo.work.join("contexts").join(&pkg.name);
    // Concurrent runs for the same project take turns with its context folder.
    std::fs::create_dir_all(repo.work.join("contexts"))?;
    let lock =
        std::fs::File::create(repo.work.join("contexts").join(format!(".{}.lock", pkg.name)))?;
    lock.lock().with_context(|| format!("lock the context of {}", pkg.dir))?;
    inputs.stage(&dir)?;
    log.step(&format!("stage context {} ({})", rel(repo, &dir), human_bytes(context_bytes)), t);

    let t = Instant::now();
    let mut args: Vec<String> =
        vec!["--network".into(), "none".into(), "--tag".into(), target.reference.clone()];
    if no_cache {
        args.push("--no-cache".into());
    }
    for (k, v) in &inputs.build_args {
        args.extend(["--build-arg".into(), format!("{k}={v}")]);
    }
    for (k, v) in labels(sh, repo, pkg, &fingerprint) {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    args.push(dir.to_string());
    // Docker's own steps are shown on a terminal only; logs get one line per xtask step.
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stdout()) && !log.json;
    engine
        .build(&args, &mut |line| {
            if on_terminal {
                log.line(&format!("  {line}"))
            }
        })
        .with_context(|| {
            format!(
                "build the image of {} from {}",
                pkg.dir,
                if inputs.custom_dockerfile {
                    format!("{}/Dockerfile", pkg.dir)
                } else {
                    stage::TEMPLATE.to_string()
                }
            )
        })?;
    let image = engine
        .inspect(sh, &[&target.reference])?
        .pop()
        .flatten()
        .with_context(|| format!("{} vanished after its build", target.reference))?;
    log.step(&format!("build {}", target.reference), t);
    Ok(row(pkg.dir.clone(), target, &image, &base, context_bytes, "built"))
}

fn row(
    project: String,
    target: &Target,
    image: &crate::engine::ImageInfo,
    base: &crate::engine::ImageInfo,
    context_bytes: u64,
    status: &'static str,
) -> ImageRow {
    ImageRow {
        project,
        image: target.reference.clone(),
        id: image.id.clone(),
        size: image.size,
        base_size: base.size,
        layers: image.layers.len(),
        context_bytes,
        status,
        digest: None,
    }
}

/// OCI labels; revision and created describe the build, so they are not in the fingerprint.
fn labels(
    sh: &Shell,
    repo: &Repo,
    pkg: &model::graph::Package,
    fingerprint: &str,
) -> Vec<(&'static str, String)> {
    let git = |args: &[&str]| -> Option<String> {
        let root = &repo.root;
        cmd!(sh, "git -C {root} {args...}")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()
            .filter(|s| !s.is_empty())
    };
    let source = git(&["config", "--get", "remote.origin.url"])
        .unwrap_or_else(|| format!("{}/{}", repo.root.file_name().unwrap_or("repo"), pkg.dir));
    let created =
        std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
        });
    vec![
        ("org.opencontainers.image.title", pkg.name.clone()),
        ("org.opencontainers.image.version", pkg.version.clone().unwrap_or_default()),
        ("org.opencontainers.image.source", source),
        (
            "org.opencontainers.image.revision",
            git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
        ),
        ("org.opencontainers.image.created", rfc3339(created)),
        ("xtask.fingerprint", fingerprint.to_string()),
    ]
}

fn dry_run(repo: &Repo, targets: &[Target]) -> Result<()> {
    let cache = wheels::cache(repo);
    for target in targets {
        let pkg = &repo.graph.packages[target.idx];
        println!("{} -> {}", pkg.dir, target.reference);
        for job in &target.jobs {
            let state = if cache.get(&job.key).is_some() { "reuse" } else { "build" };
            println!("  wheel {state:5} {} {} ({})", job.name, job.version, job.dir);
        }
        for (pin, file) in fetch::cached_status(repo, &target.resolved)? {
            println!("  third-party {} {pin}", if file.is_some() { "cached " } else { "fetch  " });
        }
        let own = repo.root.join(&pkg.dir).join("Dockerfile");
        let dockerfile = if own.is_file() {
            format!("{}/Dockerfile appended to {}", pkg.dir, stage::TEMPLATE)
        } else {
            stage::TEMPLATE.to_string()
        };
        println!("  context target/xtask/contexts/{}/: Dockerfile ({dockerfile}), wheels/{{third-party,libs,project}}/", pkg.name);
        println!("  engine: docker build --network none --tag {} --build-arg RUNTIME_IMAGE={} … target/xtask/contexts/{}", target.reference, target.runtime_image, pkg.name);
        println!("          (skipped when an image with the same fingerprint is already tagged)");
    }
    Ok(())
}

fn rel(repo: &Repo, path: &Utf8Path) -> String {
    path.strip_prefix(&repo.root).map(|p| p.to_string()).unwrap_or_else(|_| path.to_string())
}

pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

pub fn print_summary(rows: &[ImageRow]) {
    let width = rows.iter().map(|r| r.image.len()).max().unwrap_or(5).max(5);
    println!(
        "\n{:width$}  {:>9}  {:>9}  {:>6}  {:>9}  STATUS",
        "IMAGE", "SIZE", "OVER BASE", "LAYERS", "CONTEXT"
    );
    for r in rows {
        println!(
            "{:width$}  {:>9}  {:>9}  {:>6}  {:>9}  {}",
            r.image,
            human_bytes(r.size),
            human_bytes(r.size.saturating_sub(r.base_size)),
            r.layers,
            human_bytes(r.context_bytes),
            r.status
        );
        if let Some(d) = &r.digest {
            println!("  pushed {d}");
        }
    }
}
