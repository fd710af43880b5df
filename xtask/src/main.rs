//! xtask: reads a Python monorepo and builds container images from it (see README.md).

mod cli;
mod commands;
mod config;
mod engine;
mod files;
mod image;
mod model;
mod pipenv;
mod toolchain;
mod wheel;

use std::process::ExitCode;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let repo = cli.repo.unwrap_or_else(project_root);
    let ok = |done: Result<()>| done.map(|()| ExitCode::SUCCESS);
    match cli.command {
        Command::List(args) => ok(commands::list::run(&repo, &args)),
        Command::Graph(args) => ok(commands::graph::run(&repo, &args)),
        Command::Fetch(args) => ok(commands::fetch::run(&repo, &args)),
        Command::Affected(args) => ok(commands::affected::run(&repo, &args)),
        Command::Ci(args) => ok(commands::ci::run(&repo, &args)),
        Command::Wheels(args) => ok(commands::wheels::run(&repo, &args)),
        Command::BuildImage(args) => ok(commands::build_image::run(&repo, &args)),
        Command::Lock(args) => ok(commands::lock::run(&repo, &args)),
        Command::GenRepo(args) => ok(commands::gen_repo::run(&args)),
        Command::Bench(args) => ok(commands::bench::run(&project_root(), &args)),
        Command::Test => ok(commands::test::run(&project_root())),
        Command::Up => ok(commands::up::run(&repo)),
        Command::Dev(args) => commands::dev::run(&repo, &args),
    }
}

/// The repo this xtask lives in: the parent of the crate's folder.
fn project_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the repo root")
        .to_owned()
}
