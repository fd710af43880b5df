//! `cargo xtask dev <project> [-- cmd…]`: the project's environment with live library sources.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};

use crate::cli::DevArgs;
use crate::pipeline::dev;
use crate::session::Session;

pub fn run(session: &Session, args: &DevArgs) -> Result<ExitCode> {
    let start = Instant::now();
    let repo = session.repo()?;
    let idx = repo.graph.find(&args.project).map_err(anyhow::Error::msg)?;
    let image = dev::image(session, idx)?;
    eprintln!("dev image {} ready in {:.2} s", image.tag, start.elapsed().as_secs_f64());
    let container = dev::container(session, &image, &args.command)?;
    let code = session.engine()?.run_attached(&container)?.code().unwrap_or(1);
    let project = &repo.graph.packages[idx].dir;
    if code == 127 && !args.command.is_empty() {
        eprintln!(
            "error: `{}` is not a command in the dev image of {project} (exit code 127)",
            args.command[0]
        );
    } else if code == 125 {
        bail!(
            "the engine could not start the dev container (exit code 125); see the message above"
        );
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
