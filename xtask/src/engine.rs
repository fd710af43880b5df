//! The container engine: which binary, whether it answers, and image queries.

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// Go template that prints the daemon's version: empty or failing when no daemon answers.
pub const SERVER_VERSION: &str = "{{.Server.Version}}";

/// The engine CLI: `$DOCKER` or `docker` on PATH.
pub struct Engine {
    pub bin: String,
}

impl Engine {
    /// Finds the engine binary and checks that a daemon answers, with a hint when not.
    pub fn connect(sh: &Shell) -> Result<Engine> {
        let bin = std::env::var("DOCKER")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "docker".into());
        // One call: it fails to start without a CLI, and prints no server version without a daemon.
        let Ok(out) =
            cmd!(sh, "{bin} version --format {SERVER_VERSION}").quiet().ignore_status().output()
        else {
            bail!("no container engine CLI {bin:?} found; install Docker (`apt-get install docker.io`) or set $DOCKER");
        };
        match String::from_utf8_lossy(&out.stdout).trim() {
            v if out.status.success() && !v.is_empty() => Ok(Engine { bin }),
            _ => bail!(
                "the Docker engine is not running ({bin} cannot reach it); run `cargo xtask up`, which \
                 installs and starts one, or start it yourself (`systemctl start docker`)"
            ),
        }
    }

    /// The image id of a base image the build needs, or an error that says how to get it.
    pub fn require_image(&self, sh: &Shell, reference: &str) -> Result<String> {
        self.image_id(sh, reference)?.ok_or_else(|| missing_image(reference))
    }

    /// The image id of `reference`, or `None` when the engine has no such image.
    pub fn image_id(&self, sh: &Shell, reference: &str) -> Result<Option<String>> {
        let bin = &self.bin;
        let format = "{{.Id}}";
        let out = cmd!(sh, "{bin} image inspect --format {format} {reference}")
            .quiet()
            .ignore_status()
            .output()?;
        if out.status.success() {
            return Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_string()));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.to_lowercase().contains("no such image") {
            return Ok(None);
        }
        Err(anyhow::anyhow!("{}", stderr.trim()))
            .with_context(|| format!("inspect image {reference}"))
    }
}

/// The error for a base image the engine does not have.
pub fn missing_image(reference: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the base image {reference} is missing; `docker pull {reference}` (or run `cargo xtask up`, which provides a stand-in)"
    )
}

/// Connects on first use only, so warm runs that need no engine never call it.
#[derive(Default)]
pub struct LazyEngine(std::cell::OnceCell<Engine>);

impl LazyEngine {
    pub fn get(&self, sh: &Shell) -> Result<&Engine> {
        if let Some(engine) = self.0.get() {
            return Ok(engine);
        }
        let engine = Engine::connect(sh)?;
        Ok(self.0.get_or_init(|| engine))
    }
}

/// What the summary and the no-op check need of an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    pub size: u64,
    pub layers: Vec<String>,
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Engine {
    /// Inspects several references in one engine call; `None` for each that does not exist.
    pub fn inspect(&self, sh: &Shell, references: &[&str]) -> Result<Vec<Option<ImageInfo>>> {
        let bin = &self.bin;
        let out =
            cmd!(sh, "{bin} image inspect {references...}").quiet().ignore_status().output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && !stderr.to_lowercase().contains("no such image") {
            bail!("inspect images {}: {}", references.join(", "), stderr.trim());
        }
        let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        Ok(references
            .iter()
            .map(|r| {
                let full = if r.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                    r.to_string()
                } else {
                    format!("{r}:latest")
                };
                found
                    .iter()
                    .find(|img| {
                        img["RepoTags"]
                            .as_array()
                            .is_some_and(|tags| tags.iter().any(|t| t == full.as_str()))
                    })
                    .map(|img| ImageInfo {
                        id: img["Id"].as_str().unwrap_or_default().to_string(),
                        size: img["Size"].as_u64().unwrap_or(0),
                        layers: img["RootFS"]["Layers"]
                            .as_array()
                            .map(|l| {
                                l.iter().filter_map(|d| d.as_str().map(str::to_string)).collect()
                            })
                            .unwrap_or_default(),
                        labels: img["Config"]["Labels"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| {
                                        (k.clone(), v.as_str().unwrap_or_default().to_string())
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
            })
            .collect())
    }

    /// Runs `docker build` and follows its output: `Step` lines go to `progress`, and the last
    /// lines are kept for the error when the build fails.
    pub fn build(&self, args: &[String], progress: &mut dyn FnMut(&str)) -> Result<()> {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        // xshell cannot stream a child's output line by line; a long build should show its steps.
        let mut child = Command::new(&self.bin)
            .arg("build")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {} build", self.bin))?;
        let stderr = child.stderr.take().context("build stderr")?;
        let err_thread = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .filter(|l| {
                    !l.contains("legacy builder is deprecated")
                        && !l.contains("buildx")
                        && !l.trim().is_empty()
                })
                .collect::<Vec<_>>()
        });
        let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        for line in BufReader::new(child.stdout.take().context("build stdout")?).lines() {
            let line = strip_ansi(&line?);
            if line.starts_with("Step ") {
                progress(&line);
            }
            tail.push_back(line);
            if tail.len() > 40 {
                tail.pop_front();
            }
        }
        let status = child.wait()?;
        let errors = err_thread.join().unwrap_or_default();
        if !status.success() {
            tail.extend(errors);
            bail!("docker build failed; last lines of its output:\n{}", Vec::from(tail).join("\n"));
        }
        Ok(())
    }

    /// Pushes a reference and returns the digest the registry reports.
    pub fn push(&self, sh: &Shell, reference: &str) -> Result<String> {
        let bin = &self.bin;
        let out = cmd!(sh, "{bin} push {reference}")
            .quiet()
            .read()
            .with_context(|| format!("push {reference}"))?;
        out.lines()
            .find_map(|l| {
                l.split("digest: ")
                    .nth(1)
                    .and_then(|d| d.split_whitespace().next())
                    .map(str::to_string)
            })
            .with_context(|| format!("push {reference}: no digest in the engine's output:\n{out}"))
    }
}

/// Drops terminal colour codes (`ESC [ … m`) that the legacy builder puts around RUN output.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn strip_ansi_drops_colour_codes() {
        assert_eq!(super::strip_ansi("\u{1b}[91m/bin/sh: 1: \u{1b}[0mx"), "/bin/sh: 1: x");
    }
}
