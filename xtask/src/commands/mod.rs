//! One module per command: parse nothing more, call the pipeline, print. Plus the rows and
//! problem reports several commands print.

pub mod adopt;
pub mod affected;
pub mod bench;
pub mod build_image;
pub mod ci;
pub mod dev;
pub mod fetch;
pub mod gen_repo;
pub mod graph;
pub mod list;
pub mod lock;
pub mod test;
pub mod up;
pub mod wheels;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::model::graph::{Graph, Kind, Problem};

/// A package (or a manifest without one) as the JSON contract shows it.
#[derive(Serialize)]
pub struct PackageRow<'a> {
    pub path: &'a str,
    pub name: Option<&'a str>,
    pub version: Option<&'a str>,
    pub kind: Kind,
}

/// Every manifest of the repo in folder order: packages, and `config` for manifests without one.
pub fn package_rows(graph: &Graph) -> Vec<PackageRow<'_>> {
    let packages = graph.packages.iter().map(|p| PackageRow {
        path: &p.dir,
        name: Some(p.name.as_str()),
        version: p.version.as_deref(),
        kind: p.kind,
    });
    let configs = graph.configs.iter().map(|c| PackageRow {
        path: &c.dir,
        name: None,
        version: c.manifest.version.as_deref(),
        kind: Kind::Config,
    });
    let mut rows: Vec<PackageRow> = packages.chain(configs).collect();
    rows.sort_by(|a, b| a.path.cmp(b.path));
    rows
}

/// Prints problems to stderr, fatal ones as errors; fails when any is fatal.
pub fn report(problems: &[Problem]) -> Result<()> {
    for p in problems {
        let level = if p.fatal { "error" } else { "warning" };
        eprintln!("{level}: {}: {}", p.path, p.message);
    }
    let fatal = problems.iter().filter(|p| p.fatal).count();
    if fatal > 0 {
        bail!("{fatal} problem(s) in the repo's manifests (listed above); fix them and run again");
    }
    Ok(())
}
