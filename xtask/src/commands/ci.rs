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
    let mut images = build::images(session, &targets, &Options::default())?;
    if args.push {
        build::push(session, &mut images)?;
    }
    if on_default_branch(&git, args.default_branch.as_deref()) {
        let engine = session.engine()?;
        for image in &images {
            let name =
                image.reference.rsplit_once(':').map_or(image.reference.as_str(), |(name, _)| name);
            let latest = format!("{name}:latest");
            engine.tag(&session.sh, &image.reference, &latest)?;
            if args.push {
                engine.push(&session.sh, &latest)?;
            }
        }
    }
    if args.json {
        session.ui.print_json(&ImagesJson::of(&images))?;
    } else {
        print_summary(&images);
    }
    step_summary(&images, &format!("commit {sha}"))
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
    match &args.since {
        Some(since) => {
            let list = affected::compute(&session.sh, repo, since, false)?;
            Ok(list.into_iter().map(|a| a.path).collect())
        }
        None => Ok(plan::projects(repo).into_iter().map(|i| g.packages[i].dir.clone()).collect()),
    }
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
