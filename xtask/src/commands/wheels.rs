//! `cargo xtask wheels <project>`: installable wheels of every local package of a closure.

use std::time::Instant;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;
use serde::Serialize;

use crate::cli::WheelsArgs;
use crate::hash::Sha256;
use crate::pipeline::{plan, wheels};
use crate::session::Session;

#[derive(Serialize)]
struct Row<'a> {
    package: &'a str,
    path: &'a str,
    file: &'a Utf8Path,
    sha256: &'a Sha256,
    cached: bool,
}

#[derive(Serialize)]
struct WheelsJson<'a> {
    wheels: Vec<Row<'a>>,
}

pub fn run(session: &Session, args: &WheelsArgs) -> Result<()> {
    let start = Instant::now();
    let repo = session.repo()?;
    let idx = repo.graph.find(&args.project).map_err(anyhow::Error::msg)?;
    let closure = plan::closure(repo, idx)?;
    let minor =
        plan::python::of_project(session, idx, plan::python::Read::Known)?.runtime.python_minor();
    let jobs = plan::jobs(session, &closure, minor)?;
    let built = wheels::provide(session, &jobs.iter().collect::<Vec<_>>())?;
    let list = wheels::wheels(repo, &jobs, &built.keys)?;
    if let Some(out) = &args.out {
        copy_out(&list, out)?;
    }
    if args.json {
        let rows = list
            .iter()
            .map(|w| Row {
                package: &w.name,
                path: &w.dir,
                file: &w.file,
                sha256: &w.sha256,
                cached: w.cached,
            })
            .collect();
        return session.ui.print_json(&WheelsJson { wheels: rows });
    }
    if let Some((image, took)) = &built.build_image {
        println!("  build image {image} ({:.2} s)", took.as_secs_f64());
    }
    if let Some(took) = built.took {
        println!("  built {} wheel(s) offline in {:.2} s", built.keys.len(), took.as_secs_f64());
    }
    for w in &list {
        let state = if w.cached { "cached" } else { "built" };
        println!("  {state:7} {} ({})", w.file.file_name().unwrap_or_default(), w.dir);
    }
    let fresh = list.iter().filter(|w| !w.cached).count();
    let secs = start.elapsed().as_secs_f64();
    println!("{} wheels ({fresh} built, {} cached) in {secs:.2} s", list.len(), list.len() - fresh);
    Ok(())
}

/// `--out`: copies of the wheels in a folder of the user's.
fn copy_out(list: &[wheels::LocalWheel], out: &Utf8PathBuf) -> Result<()> {
    fs::create_dir_all(out)?;
    for w in list {
        crate::files::copy_replacing(&w.file, &out.join(w.file.file_name().unwrap_or_default()))?;
    }
    Ok(())
}
