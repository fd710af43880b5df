//! `cargo xtask ci`: the affected projects' images, tagged by commit, pushed, summarised.

use std::io::Write as _;

use anyhow::{Context, Result};
use camino::Utf8Path;
use serde::Serialize;
use xshell::{cmd, Shell};

use super::build_image::{self, human_bytes, ImageRow, ImagesJson};
use super::{affected, print_json};
use crate::cli::{BuildImageArgs, CiArgs};
use crate::engine::Engine;
use crate::model::{self, Kind, Repo};

#[derive(Serialize)]
struct MatrixEntry<'a> {
    project: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Matrix<'a> {
    include: Vec<MatrixEntry<'a>>,
}

pub fn run(root: &Utf8Path, args: &CiArgs) -> Result<()> {
    let repo = model::load(root)?;
    let sh = Shell::new()?;
    let projects = select(&sh, &repo, args)?;
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
    let root_dir = &repo.root;
    let sha = cmd!(sh, "git -C {root_dir} rev-parse --short=12 HEAD")
        .quiet()
        .read()
        .context("read the commit to tag images with")?;
    let build_args = BuildImageArgs {
        projects: projects.clone(),
        all: false,
        tag: sha.clone(),
        dry_run: false,
        no_cache: false,
        json: args.json,
        push: args.push,
        registry: args.registry.clone(),
    };
    let rows = build_image::build(&repo, &build_args)?.unwrap_or_default();
    if on_default_branch(&sh, &repo, args.default_branch.as_deref()) {
        let engine = Engine::connect(&sh)?;
        let bin = &engine.bin;
        for row in &rows {
            let latest = format!(
                "{}:latest",
                row.image.rsplit_once(':').map_or(row.image.as_str(), |(name, _)| name)
            );
            let image = &row.image;
            cmd!(sh, "{bin} tag {image} {latest}")
                .quiet()
                .run()
                .with_context(|| format!("tag {latest}"))?;
            if args.push {
                engine.push(&sh, &latest)?;
            }
        }
    }
    if args.json {
        print_json(&ImagesJson { images: &rows })?;
    } else {
        build_image::print_summary(&rows);
    }
    step_summary(&rows, &format!("commit {sha}"))
}

/// `--project`s as given, the projects affected since `--since`, or every project.
fn select(sh: &Shell, repo: &Repo, args: &CiArgs) -> Result<Vec<String>> {
    let g = &repo.graph;
    if !args.projects.is_empty() {
        return args
            .projects
            .iter()
            .map(|q| g.find(q).map(|i| g.packages[i].dir.clone()).map_err(anyhow::Error::msg))
            .collect();
    }
    match &args.since {
        Some(since) => {
            Ok(affected::compute(sh, repo, since, false)?.into_iter().map(|a| a.path).collect())
        }
        None => Ok(g
            .packages
            .iter()
            .filter(|p| p.kind == Kind::Project)
            .map(|p| p.dir.clone())
            .collect()),
    }
}

/// Whether HEAD is the default branch: `--default-branch` (or main/master) against the branch
/// checked out, or GitHub's `GITHUB_REF_NAME` where the checkout is detached.
fn on_default_branch(sh: &Shell, repo: &Repo, default: Option<&str>) -> bool {
    let root = &repo.root;
    let branch = std::env::var("GITHUB_REF_NAME")
        .ok()
        .or_else(|| cmd!(sh, "git -C {root} rev-parse --abbrev-ref HEAD").quiet().read().ok())
        .unwrap_or_default();
    match default {
        Some(d) => branch == d,
        None => branch == "main" || branch == "master",
    }
}

/// Appends a Markdown table to `$GITHUB_STEP_SUMMARY` when Actions sets it.
fn step_summary(rows: &[ImageRow], title: &str) -> Result<()> {
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else { return Ok(()) };
    let mut text = format!("### Images ({title})\n\n");
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
                r.status,
                r.digest.as_deref().unwrap_or("")
            );
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("open $GITHUB_STEP_SUMMARY ({path})"))?;
    f.write_all(text.as_bytes()).with_context(|| format!("append to {path}"))
}
