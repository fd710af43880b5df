//! `cargo xtask list`: every package of the monorepo.

use anyhow::Result;
use serde::Serialize;

use super::{package_rows, report, PackageRow};
use crate::cli::ListArgs;
use crate::model::graph::Problem;
use crate::session::Session;

#[derive(Serialize)]
struct ListJson<'a> {
    packages: Vec<PackageRow<'a>>,
    errors: Vec<Problem>,
}

pub fn run(session: &Session, args: &ListArgs) -> Result<()> {
    let repo = session.repo()?;
    let problems = repo.graph.problems();
    let rows = package_rows(&repo.graph);
    if args.json {
        session.ui.print_json(&ListJson { packages: rows, errors: problems.clone() })?;
    } else {
        let width = rows.iter().map(|r| r.path.len()).max().unwrap_or(4).max(4);
        let name_width = rows.iter().map(|r| r.name.map_or(1, str::len)).max().unwrap_or(4).max(4);
        println!("{:width$}  {:name_width$}  {:9}  KIND", "PATH", "NAME", "VERSION");
        for r in &rows {
            let kind = serde_json::to_value(r.kind)?;
            println!(
                "{:width$}  {:name_width$}  {:9}  {}",
                r.path,
                r.name.unwrap_or("-"),
                r.version.unwrap_or("-"),
                kind.as_str().unwrap_or_default()
            );
        }
        if repo.config.repo.projects.is_none() {
            println!(
                "\nprojects are inferred: a package with a Dockerfile, a Poetry app in non-package \
                 mode, or one nothing in the repo depends on; to choose them, set [repo] projects \
                 = [\"apps/*\", …] in {}",
                crate::config::CONFIG_PATH
            );
        }
    }
    report(&problems)
}
