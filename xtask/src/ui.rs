//! What a run prints: a line per step with its duration, and JSON alone on stdout with `--json`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

/// How much a run says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `-q`: errors and results only.
    Quiet,
    /// A line when a long step starts and one when it ends.
    #[default]
    Normal,
    /// `-v`: also the engine's own output (build steps, container output).
    Verbose,
}

/// Where lines go: stdout for people, stderr when stdout carries JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ui {
    json: bool,
    level: Level,
}

impl Ui {
    pub fn new(json: bool) -> Ui {
        Ui { json, level: Level::Normal }
    }

    pub fn with_level(self, level: Level) -> Ui {
        Ui { level, ..self }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    pub fn verbose(&self) -> bool {
        self.level == Level::Verbose
    }

    /// A long step starts (so a cold build is never silent for long).
    pub fn begin(&self, what: &str) {
        if self.level > Level::Quiet {
            self.line(&format!("{what} …"));
        }
    }

    /// A finished step: what it did and how long it took.
    pub fn step(&self, what: &str, since: Instant) {
        if self.level > Level::Quiet {
            self.line(&format!("{what:<48} {:>7.2} s", since.elapsed().as_secs_f64()));
        }
    }

    /// A line of engine output, shown with `-v` only.
    pub fn detail(&self, text: &str) {
        if self.level == Level::Verbose {
            self.line(&format!("  {text}"));
        }
    }

    /// A finer step, shown only with `XTASK_TRACE=1` (for finding where time goes).
    pub fn trace(&self, what: &str, since: Instant) {
        if std::env::var_os("XTASK_TRACE").is_some() {
            eprintln!("  trace: {what:<42} {:>7.3} s", since.elapsed().as_secs_f64());
        }
    }

    /// A note or a table: shown unless quiet.
    pub fn note(&self, text: &str) {
        if self.level > Level::Quiet {
            self.line(text);
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
        PRINTED_JSON.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Whether this process printed its JSON document (one that carries its own errors, such as
/// `graph --json`): a failure after it adds none.
static PRINTED_JSON: AtomicBool = AtomicBool::new(false);

pub fn printed_json() -> bool {
    PRINTED_JSON.load(Ordering::Relaxed)
}
