//! `cargo xtask build-image`: plan the targets, build their images, print a table or JSON.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::cli::BuildImageArgs;
use crate::pipeline::build::{self, human_bytes, Image, Options, Status};
use crate::pipeline::plan::{self, ProjectDockerfile, Request, Target};
use crate::pipeline::{fetch, stage, wheels};
use crate::session::Session;

/// An image as `--json` reports it.
#[derive(Serialize)]
pub struct ImageRow<'a> {
    pub project: &'a str,
    pub image: &'a str,
    pub id: &'a str,
    pub size: u64,
    pub base_size: u64,
    pub layers: usize,
    pub context_bytes: u64,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<&'a str>,
    /// Where the image's SBOM was written (images xtask assembled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<&'a str>,
}

#[derive(Serialize)]
pub struct ImagesJson<'a> {
    pub images: Vec<ImageRow<'a>>,
}

impl<'a> ImagesJson<'a> {
    pub fn of(images: &'a [Image]) -> ImagesJson<'a> {
        let row = |i: &'a Image| ImageRow {
            project: &i.project,
            image: &i.reference,
            id: &i.info.id,
            size: i.info.size,
            base_size: i.base.size,
            layers: i.info.layers.len(),
            context_bytes: i.context_bytes,
            status: i.status,
            digest: i.digest.as_deref(),
            sbom: i.sbom.as_deref().map(camino::Utf8Path::as_str),
        };
        ImagesJson { images: images.iter().map(row).collect() }
    }
}

pub fn run(session: &Session, args: &BuildImageArgs) -> Result<()> {
    let start = Instant::now();
    let request = Request {
        projects: args.projects.clone(),
        all: args.all,
        tag: args.tag.clone(),
        registry: args.registry.clone(),
        push: args.push,
        dry_run: args.dry_run,
    };
    let platforms = match &args.platform {
        Some(list) => Some(crate::oci::platform::Platform::parse_list(list)?),
        None => None,
    };
    let t = Instant::now();
    let targets = plan::targets(session, &request)?;
    session.ui.step(&format!("plan {} image(s)", targets.len()), t);
    if args.dry_run {
        return dry_run(session, &targets);
    }
    let options = Options {
        no_cache: args.no_cache,
        builder: args.builder,
        oci: args.oci.clone(),
        push: args.push,
    };
    session.share_through(args.registry.as_deref());
    let images = match &platforms {
        Some(platforms) => {
            crate::pipeline::platforms::images(session, &targets, platforms, &options)?
        }
        None => {
            let mut images = build::images(session, &targets, &options)?;
            if args.push {
                build::push(session, &mut images)?;
            }
            images
        }
    };
    if args.json {
        session.ui.print_json(&ImagesJson::of(&images))?;
    } else {
        print_summary(&images);
    }
    session.ui.step("total", start);
    Ok(())
}

fn dry_run(session: &Session, targets: &[Target]) -> Result<()> {
    let repo = session.repo()?;
    let cache = wheels::cache(repo);
    for target in targets {
        let pkg = &repo.graph.packages[target.idx];
        println!("{} -> {}", pkg.dir, target.reference);
        for job in &target.jobs {
            let state = if cache.has(&job.key) { "reuse" } else { "build" };
            println!("  wheel {state:5} {} {} ({})", job.name, job.version, job.dir);
        }
        for (pin, file) in fetch::cached_status(repo, &target.third_party)? {
            println!("  third-party {} {pin}", if file.is_some() { "cached " } else { "fetch  " });
        }
        let ctx = format!("target/xtask/contexts/{}", target.context_name());
        println!(
            "  context {ctx}/: Dockerfile ({}), wheels/{{third-party,libs,project}}/, layers/",
            stage::TEMPLATE
        );
        println!(
            "  engine: docker build --network none --tag {} --build-arg RUNTIME_IMAGE={} … {ctx}",
            target.reference, target.runtime_image
        );
        match &target.dockerfile {
            ProjectDockerfile::Extension(ext) => println!(
                "          then {} on top of it, with {} as its context ({} entries after .dockerignore)",
                ext.path,
                pkg.dir,
                ext.entries.len()
            ),
            ProjectDockerfile::Standalone { path, from } => {
                println!("          ({path} starts FROM {from}, not FROM app: not used)");
            }
            ProjectDockerfile::None => {}
        }
        println!("          (skipped when an image with the same fingerprint is already tagged)");
    }
    Ok(())
}

/// The table that ends a human run: image, size, size over base, layers, context, status.
pub fn print_summary(images: &[Image]) {
    let width = images.iter().map(|r| r.reference.len()).max().unwrap_or(5).max(5);
    println!(
        "\n{:width$}  {:>9}  {:>9}  {:>6}  {:>9}  STATUS",
        "IMAGE", "SIZE", "OVER BASE", "LAYERS", "CONTEXT"
    );
    for r in ImagesJson::of(images).images {
        let status = serde_json::to_value(r.status).ok();
        println!(
            "{:width$}  {:>9}  {:>9}  {:>6}  {:>9}  {}",
            r.image,
            human_bytes(r.size),
            human_bytes(r.size.saturating_sub(r.base_size)),
            r.layers,
            human_bytes(r.context_bytes),
            status.as_ref().and_then(|s| s.as_str()).unwrap_or_default()
        );
        if let Some(d) = r.digest {
            println!("  pushed {d}");
        }
    }
}
