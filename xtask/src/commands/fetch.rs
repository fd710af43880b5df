//! `cargo xtask fetch <project>`: the locked third-party wheels, hash-verified, in a shared wheelhouse.

use std::time::Instant;

use anyhow::Result;
use camino::Utf8Path;
use serde::Serialize;

use crate::cli::FetchArgs;
use crate::hash::Sha256;
use crate::pipeline::{fetch, plan};
use crate::session::Session;

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    version: &'a str,
    file: &'a Utf8Path,
    sha256: &'a Sha256,
    cached: bool,
}

#[derive(Serialize)]
struct FetchJson<'a> {
    project: &'a str,
    requirements: &'a Utf8Path,
    wheels: Vec<Row<'a>>,
}

pub fn run(session: &Session, args: &FetchArgs) -> Result<()> {
    let start = Instant::now();
    let repo = session.repo()?;
    let idx = repo.graph.find(&args.project).map_err(anyhow::Error::msg)?;
    plan::closure(repo, idx)?;
    let t = Instant::now();
    let runtime = plan::python::of_project(session, idx, plan::python::Read::Known)?.runtime;
    session.ui.trace("the runtime's Python", t);
    let t = Instant::now();
    let resolved = plan::resolve(repo, idx, plan::Groups::Main, &runtime)?;
    session.ui.trace("resolve the lock", t);
    let t = Instant::now();
    let house = fetch::provide(session, &resolved)?;
    session.ui.trace("provide the wheelhouse", t);
    if args.json {
        let wheels = house
            .wheels
            .iter()
            .map(|w| Row {
                name: &w.name,
                version: &w.version,
                file: &w.file,
                sha256: &w.sha256,
                cached: w.cached,
            })
            .collect();
        let project = &repo.graph.packages[idx].dir;
        return session.ui.print_json(&FetchJson {
            project,
            requirements: &house.requirements,
            wheels,
        });
    }
    for file in &house.discarded {
        println!("  discarded {file}: its sha256 is not the one the lock pins");
    }
    for w in house.wheels.iter().filter(|w| w.file.components().any(|c| c.as_str() == "from-sdist"))
    {
        println!("  using {} (built from its sdist)", w.file.file_name().unwrap_or_default());
    }
    let fetched = house.wheels.iter().filter(|w| !w.cached).count();
    if let Some(took) = house.download {
        println!("  fetched {fetched} wheel(s) in {:.2} s", took.as_secs_f64());
    }
    println!(
        "{} third-party wheels ({fetched} fetched, {} cached) in {:.2} s; requirements: {}",
        house.wheels.len(),
        house.wheels.len() - fetched,
        start.elapsed().as_secs_f64(),
        house.requirements
    );
    Ok(())
}
