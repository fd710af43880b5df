//! `cargo xtask test`: the one test command (README, CI): unit and end-to-end tests.

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

pub fn run(root: &Utf8Path) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    cmd!(sh, "cargo test --workspace --locked").run().context("run the test suite")?;
    Ok(())
}
