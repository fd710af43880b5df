//! What a run prints: a line per step with its duration, and JSON alone on stdout with `--json`.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

/// Where lines go: stdout for people, stderr when stdout carries JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ui {
    json: bool,
}

impl Ui {
    pub fn new(json: bool) -> Ui {
        Ui { json }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// A finished step: what it did and how long it took.
    pub fn step(&self, what: &str, since: Instant) {
        self.line(&format!("{what:<48} {:>7.2} s", since.elapsed().as_secs_f64()));
    }

    /// A finer step, shown only with `XTASK_TRACE=1` (for finding where time goes).
    pub fn trace(&self, what: &str, since: Instant) {
        if std::env::var_os("XTASK_TRACE").is_some() {
            eprintln!("  trace: {what:<42} {:>7.3} s", since.elapsed().as_secs_f64());
        }
    }

    /// A line of progress.
    pub fn line(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// A value as pretty JSON on stdout.
    pub fn print_json(&self, value: &impl Serialize) -> Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }
}
