//! `cargo xtask graph [<package>]`: local edges, or one package's closure in build order.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use super::{package_rows, report, PackageRow};
use crate::cli::GraphArgs;
use crate::model::{
    self,
    graph::{Edge, Graph, Problem},
    Kind,
};
use crate::session::Session;

#[derive(Serialize)]
struct EdgeRow<'a> {
    from: &'a str,
    to: &'a str,
    group: &'a str,
    extras: &'a [String],
    optional: bool,
}

#[derive(Serialize)]
struct ClosureRow<'a> {
    path: &'a str,
    name: &'a str,
    extras: Vec<String>,
}

#[derive(Serialize)]
struct GraphJson<'a> {
    packages: Vec<PackageRow<'a>>,
    edges: Vec<EdgeRow<'a>>,
    errors: Vec<Problem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closure: Option<Vec<ClosureRow<'a>>>,
}

fn edge_row<'a>(g: &'a Graph, e: &Edge) -> EdgeRow<'a> {
    let dep = g.dep(e);
    EdgeRow {
        from: &g.packages[e.from].dir,
        to: &g.packages[e.to].dir,
        group: &dep.group,
        extras: &dep.extras,
        optional: dep.optional,
    }
}

pub fn run(session: &Session, args: &GraphArgs) -> Result<()> {
    let repo = session.repo()?;
    let g = &repo.graph;
    let (problems, closure) = match &args.package {
        None => (g.problems(), None),
        Some(query) => {
            let root = g.find(query).map_err(anyhow::Error::msg)?;
            let c = g.closure(root, &args.extras);
            (c.problems, Some(c.order))
        }
    };
    let closure_rows = closure.as_ref().map(|order| {
        order
            .iter()
            .map(|(i, extras)| ClosureRow {
                path: &g.packages[*i].dir,
                name: g.packages[*i].name.as_str(),
                extras: extras.iter().cloned().collect(),
            })
            .collect::<Vec<_>>()
    });
    if args.json {
        let edges = g.edges.iter().map(|e| edge_row(g, e)).collect();
        session.ui.print_json(&GraphJson {
            packages: package_rows(g),
            edges,
            errors: problems.clone(),
            closure: closure_rows,
        })?;
    } else if args.dot {
        print!("{}", dot(g, closure.as_ref().map(|o| o.iter().map(|(i, _)| *i).collect())));
    } else if let Some(rows) = closure_rows {
        for (n, row) in rows.iter().enumerate() {
            let extras = if row.extras.is_empty() {
                String::new()
            } else {
                format!("[{}]", row.extras.join(","))
            };
            println!("{:>3}. {}{extras}  ({})", n + 1, row.name, row.path);
        }
    } else {
        print_edges(g);
    }
    report(&problems)
}

fn print_edges(g: &Graph) {
    for (i, p) in g.packages.iter().enumerate() {
        println!("{} ({} {})", p.dir, p.name, p.version.as_deref().unwrap_or("-"));
        for e in g.edges.iter().filter(|e| e.from == i) {
            let row = edge_row(g, e);
            let extras = if row.extras.is_empty() {
                String::new()
            } else {
                format!("[{}]", row.extras.join(","))
            };
            let dep = g.dep(e);
            let optional = if dep.optional {
                format!(", optional via {}", dep.enabled_by.join("|"))
            } else {
                String::new()
            };
            println!("  -> {}{extras} ({}{optional})", row.to, row.group);
        }
    }
}

/// Graphviz DOT: every package and edge, or only a closure's packages and main edges.
fn dot(g: &Graph, only: Option<BTreeSet<usize>>) -> String {
    let keep = |i: usize| only.as_ref().is_none_or(|s| s.contains(&i));
    let mut out = String::from("digraph monorepo {\n  rankdir=LR;\n  node [shape=box];\n");
    for p in g.packages.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, p)| p) {
        let shape = if p.kind == Kind::Project { ", style=bold" } else { "" };
        out += &format!("  \"{}\" [label=\"{}\\n{}\"{shape}];\n", p.dir, p.name, p.dir);
    }
    for e in g.edges.iter().filter(|e| keep(e.from) && keep(e.to)) {
        let dep = g.dep(e);
        if only.is_some() && dep.group != model::manifest::MAIN {
            continue;
        }
        let style = if dep.optional { ", style=dashed" } else { "" };
        out += &format!(
            "  \"{}\" -> \"{}\" [label=\"{}\"{style}];\n",
            g.packages[e.from].dir, g.packages[e.to].dir, dep.group
        );
    }
    out + "}\n"
}
