//! `cargo xtask ci`: the affected projects' images, tagged by commit, pushed, summarised.

use std::io::Write as _;
use std::time::Instant;

use anyhow::{Context, Result};
use fs_err as fs;
use serde::Serialize;

use super::build_image::{print_summary, ImagesJson};
use crate::cli::CiArgs;
use crate::git::Git;
use crate::pipeline::affected;
use crate::pipeline::build::{self, human_bytes, Image, Options};
use crate::pipeline::plan::{self, Request};
use crate::session::Session;

#[derive(Serialize)]
struct MatrixEntry<'a> {
    project: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Matrix<'a> {
    include: Vec<MatrixEntry<'a>>,
}

pub fn run(session: &Session, args: &CiArgs) -> Result<()> {
    let repo = session.repo()?;
    let projects = select(session, args)?;
    if args.matrix {
        let include = projects
            .iter()
            .map(|dir| MatrixEntry {
                project: dir,
                name: repo
                    .graph
                    .packages
                    .iter()
                    .find(|p| p.dir == *dir)
                    .map_or("", |p| p.name.as_str()),
            })
            .collect();
        // One line, ready for `echo "matrix=…" >> "$GITHUB_OUTPUT"`.
        println!("{}", serde_json::to_string(&Matrix { include })?);
        return Ok(());
    }
    if projects.is_empty() {
        println!("no project is affected; nothing to build");
        return step_summary(&[], "nothing to build");
    }
    let git = Git::open(&session.sh, &repo.root)?;
    let sha = git.head(Some(12)).context("read the commit to tag images with")?;
    let request = Request {
        projects,
        tag: sha.clone(),
        registry: args.registry.clone(),
        push: args.push,
        ..Request::default()
    };
    let t = Instant::now();
    let targets = plan::targets(session, &request)?;
    session.ui.step(&format!("plan {} image(s)", targets.len()), t);
    let options = Options { push: args.push, ..Options::default() };
    session.share_through(args.registry.as_deref());
    let mut images = build::images(session, &targets, &options)?;
    if args.push {
        build::push(session, &mut images)?;
    }
    if on_default_branch(&git, args.default_branch.as_deref()) {
        for image in &images {
            tag_latest(session, image, args.push)?;
        }
    }
    if args.json {
        session.ui.print_json(&ImagesJson::of(&images))?;
    } else {
        print_summary(&images);
    }
    step_summary(&images, &format!("commit {sha}"))
}

/// Also names the image `latest`: in its registry (one manifest PUT, no engine) when pushing,
/// in the engine otherwise.
fn tag_latest(session: &Session, image: &Image, pushed: bool) -> Result<()> {
    let name = image.reference.rsplit_once(':').map_or(image.reference.as_str(), |(name, _)| name);
    if pushed {
        let (host, repo, tag) = crate::oci::registry::split(&image.reference)
            .with_context(|| format!("{} names no registry", image.reference))?;
        let registry = crate::oci::registry::Repository::new(&host, &repo);
        let remote = registry
            .image(&tag)?
            .with_context(|| format!("{} vanished from its registry", image.reference))?;
        registry.push_manifest("latest", &remote.media_type, &remote.manifest)?;
    } else {
        session.engine()?.tag(&session.sh, &image.reference, &format!("{name}:latest"))?;
    }
    Ok(())
}

/// `--project`s as given, the projects affected since `--since`, or every project.
fn select(session: &Session, args: &CiArgs) -> Result<Vec<String>> {
    let repo = session.repo()?;
    let g = &repo.graph;
    if !args.projects.is_empty() {
        let dir =
            |q: &String| g.find(q).map(|i| g.packages[i].dir.clone()).map_err(anyhow::Error::msg);
        return args.projects.iter().map(dir).collect();
    }
    match args.since.as_deref() {
        Some("registry") => since_registry(session, args),
        Some(since) => {
            let list = affected::compute(&session.sh, repo, since, false)?;
            Ok(list.into_iter().map(|a| a.path).collect())
        }
        None => Ok(plan::projects(repo).into_iter().map(|i| g.packages[i].dir.clone()).collect()),
    }
}

/// `--since registry`: each project against the commit its `latest` image in the registry was
/// built from (its revision label). A project the registry has no image of, or whose commit
/// this clone does not have (a force push rewrote it), is built; so is one whose last run
/// failed, since its `latest` still names the commit before.
fn since_registry(session: &Session, args: &CiArgs) -> Result<Vec<String>> {
    let repo = session.repo()?;
    let registry = args
        .registry
        .as_deref()
        .context("--since registry needs --registry (or XTASK_REGISTRY)")?;
    let git = Git::open(&session.sh, &repo.root)?;
    let mut by_revision: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut out = Vec::new();
    for idx in plan::projects(repo) {
        let dir = repo.graph.packages[idx].dir.clone();
        let reference =
            format!("{}/{}:latest", registry.trim_end_matches('/'), plan::image_name(repo, idx));
        let (host, name, _) =
            crate::oci::registry::split(&reference).context("a registry reference")?;
        let remote = crate::oci::registry::Repository::new(&host, &name).image("latest")?;
        let revision = remote
            .as_ref()
            .and_then(|r| r.label("org.opencontainers.image.revision"))
            .map(String::from);
        let Some(revision) = revision.filter(|r| git.verify_commit(r).is_ok()) else {
            session.ui.line(&format!(
                "{dir}: no image of a commit this clone has in the registry; building it"
            ));
            out.push(dir);
            continue;
        };
        if !by_revision.contains_key(&revision) {
            let list = affected::compute(&session.sh, repo, &revision, false)?;
            by_revision.insert(revision.clone(), list.into_iter().map(|a| a.path).collect());
        }
        if by_revision[&revision].contains(&dir) {
            out.push(dir);
        }
    }
    Ok(out)
}

/// Whether HEAD is the default branch: `--default-branch` (or main/master) against the branch
/// checked out, or GitHub's `GITHUB_REF_NAME` where the checkout is detached.
fn on_default_branch(git: &Git, default: Option<&str>) -> bool {
    let branch = std::env::var("GITHUB_REF_NAME").ok().or_else(|| git.branch()).unwrap_or_default();
    match default {
        Some(d) => branch == d,
        None => branch == "main" || branch == "master",
    }
}

/// Appends a Markdown table to `$GITHUB_STEP_SUMMARY` when Actions sets it.
fn step_summary(images: &[Image], title: &str) -> Result<()> {
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else { return Ok(()) };
    let mut text = format!("### Images ({title})\n\n");
    let rows = ImagesJson::of(images).images;
    if rows.is_empty() {
        text += "No project is affected by this change.\n";
    } else {
        text += "| image | size | over base | layers | context | status | digest |\n|---|---|---|---|---|---|---|\n";
        for r in rows {
            text += &format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                r.image,
                human_bytes(r.size),
                human_bytes(r.size.saturating_sub(r.base_size)),
                r.layers,
                human_bytes(r.context_bytes),
                serde_json::to_value(r.status)?.as_str().unwrap_or_default(),
                r.digest.unwrap_or("")
            );
        }
    }
    let mut f = fs::OpenOptions::new().create(true).append(true).open(&path)?;
    f.write_all(text.as_bytes()).with_context(|| format!("append to $GITHUB_STEP_SUMMARY ({path})"))
}
