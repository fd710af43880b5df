//! One module per command, plus the report helpers they share.

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

use crate::model::graph::{Graph, Kind, Package, Problem};

/// A package as the JSON contract shows it.
#[derive(Serialize)]
pub struct PackageRow<'a> {
    pub path: &'a str,
    pub name: Option<&'a str>,
    pub version: Option<&'a str>,
    pub kind: Kind,
}

impl<'a> PackageRow<'a> {
    pub fn of(p: &'a Package) -> Self {
        PackageRow {
            path: &p.dir,
            name: Some(p.name.as_str()).filter(|n| !n.is_empty()),
            version: p.version.as_deref(),
            kind: p.kind,
        }
    }
}

pub fn package_rows(graph: &Graph) -> Vec<PackageRow<'_>> {
    graph.packages.iter().map(PackageRow::of).collect()
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

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
