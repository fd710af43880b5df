//! xtask: reads a Python monorepo and builds container images from it (see README.md).

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use xtask::cli::{Cli, Command};
use xtask::commands;
use xtask::session::Session;
use xtask::ui::{Level, Ui};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.repo.clone().unwrap_or_else(xtask::project_root);
    let repo_flag = cli.repo.as_ref().map(|r| format!("--repo {r} "));
    let json = cli.command.json();
    let fail = |e: &anyhow::Error| {
        // The fixes errors suggest are commands: with --repo, they need it too.
        let text = format!("{e:#}");
        let text = match &repo_flag {
            Some(flag) => text.replace("`cargo xtask ", &format!("`cargo xtask {flag}")),
            None => text,
        };
        if json && !xtask::ui::printed_json() {
            // Whoever reads the JSON gets the failure there too (and the exit code), unless
            // the document printed already carries it.
            let error = serde_json::json!({"error": {"message": text, "path": named_path(&text)}});
            println!("{error}");
        }
        eprintln!("error: {text}");
        ExitCode::FAILURE
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => Level::Quiet,
        (_, true) => Level::Verbose,
        _ => Level::Normal,
    };
    let session = match Session::new(root, Ui::new(json).with_level(level)) {
        Ok(session) => session,
        Err(e) => return fail(&e),
    };
    match run(&session, cli.command) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// The first repo file an error names (`projects/x/pyproject.toml`, `docker/images.toml`), for
/// the `path` of a JSON error.
fn named_path(message: &str) -> Option<&str> {
    const FILES: [&str; 7] = [
        "pyproject.toml",
        "poetry.lock",
        "uv.lock",
        "Dockerfile",
        ".dockerignore",
        ".toml",
        ".lock",
    ];
    message
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | ';' | '(' | ')' | '`' | '"'))
        .find(|w| FILES.iter().any(|f| w.ends_with(f)) && !w.starts_with('-'))
}

/// One dispatch: each command parses nothing more, calls the pipeline and prints.
fn run(s: &Session, command: Command) -> Result<ExitCode> {
    let ok = |done: Result<()>| done.map(|()| ExitCode::SUCCESS);
    match command {
        Command::BuildImage(args) => ok(commands::build_image::run(s, &args)),
        Command::Dev(args) => commands::dev::run(s, &args),
        Command::Up(args) => ok(commands::up::run(s, &args)),
        Command::Adopt(args) => ok(commands::adopt::run(s, &args)),
        Command::Affected(args) => ok(commands::affected::run(s, &args)),
        Command::Ci(args) => ok(commands::ci::run(s, &args)),
        Command::List(args) => ok(commands::list::run(s, &args)),
        Command::Graph(args) => ok(commands::graph::run(s, &args)),
        Command::Fetch(args) => ok(commands::fetch::run(s, &args)),
        Command::Wheels(args) => ok(commands::wheels::run(s, &args)),
        Command::Lock(args) => ok(commands::lock::run(s, &args)),
        Command::Test => ok(commands::test::run(s)),
        Command::Bench(args) => ok(commands::bench::run(s, &args)),
        Command::GenRepo(args) => ok(commands::gen_repo::run(&args)),
    }
}
