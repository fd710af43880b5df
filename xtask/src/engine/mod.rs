//! The container engine: every call to it (run, build, tag, push, pull, import, inspect).
//!
//! The binary is `$DOCKER` or `docker` on PATH. Arguments are always passed as a list, never
//! through a shell. Containers run offline unless a step says it needs the network.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::process::{ExitStatus, Output};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::runs;

mod inspect;
mod spec;

pub use inspect::{missing_image, ImageInfo};
pub use spec::{Build, Container, HostSettings, Mount};

/// Go template that prints the daemon's version: empty or failing when no daemon answers.
const SERVER_VERSION: &str = "{{.Server.Version}}";

/// The engine CLI, connected to a daemon that answers.
pub struct Engine {
    bin: String,
    /// Where runs register: containers of dead runs registered there are removed, once.
    runs: std::cell::OnceCell<Utf8PathBuf>,
    swept: std::cell::Cell<bool>,
    /// What `inspect` found this run, forgotten whenever this run changes the engine's images.
    known: std::cell::RefCell<BTreeMap<String, Option<ImageInfo>>>,
    /// References to ask for with the next inspect.
    expected: std::cell::RefCell<Vec<String>>,
}

/// The engine binary: `$DOCKER`, or `docker` on PATH.
pub fn binary() -> String {
    std::env::var("DOCKER").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| "docker".into())
}

/// Whether an engine daemon answers the CLI.
pub fn answers(sh: &Shell) -> bool {
    let bin = binary();
    let out = cmd!(sh, "{bin} version --format {SERVER_VERSION}").quiet().ignore_status().output();
    out.is_ok_and(|o| o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty())
}

impl Engine {
    /// Finds the engine binary and checks that a daemon answers, with a hint when not.
    pub fn connect(sh: &Shell) -> Result<Engine> {
        Engine::connect_to(sh, binary())
    }

    /// Like `connect`, for the engine CLI `bin` rather than `$DOCKER`.
    pub fn connect_to(sh: &Shell, bin: String) -> Result<Engine> {
        if docker_socket_answers(&bin) {
            return Ok(Engine::with(bin));
        }
        // One call: it fails to start without a CLI, and prints no server version without a daemon.
        let out =
            cmd!(sh, "{bin} version --format {SERVER_VERSION}").quiet().ignore_status().output();
        let Ok(out) = out else {
            bail!(
                "no container engine CLI {bin:?} found; install Docker (`apt-get install \
                 docker.io`) or set $DOCKER"
            );
        };
        match String::from_utf8_lossy(&out.stdout).trim() {
            v if out.status.success() && !v.is_empty() => Ok(Engine::with(bin)),
            _ => match std::env::var("DOCKER_HOST") {
                Ok(host) => bail!(
                    "the engine at DOCKER_HOST={host} does not answer ({bin} cannot reach it); \
                     start it, or unset DOCKER_HOST to use the local engine"
                ),
                Err(_) => bail!(
                    "the Docker engine is not running ({bin} cannot reach it); run `cargo xtask \
                     up`, which installs and starts one, or start it yourself (`systemctl start \
                     docker`)"
                ),
            },
        }
    }

    fn with(bin: String) -> Engine {
        let (runs, swept, known, expected) = Default::default();
        Engine { bin, runs, swept, known, expected }
    }

    /// Forgets what `inspect` found: called by every call that adds, moves or removes images.
    fn changed(&self) {
        self.known.borrow_mut().clear();
    }

    /// Registers runs (and sweeps dead ones' containers) in `runs`, the cache's folder, from
    /// the next container on. The first folder given stays.
    pub fn register_in(&self, runs: Utf8PathBuf) {
        let _ = self.runs.set(runs);
    }

    /// Whether the CLI is Podman's (`DOCKER=podman`): its push reports the digest differently.
    fn is_podman(&self) -> bool {
        Utf8Path::new(&self.bin).file_name().is_some_and(|n| n.starts_with("podman"))
    }

    /// Whether `load` takes an archive that leaves out layers the engine has (Docker's does).
    pub fn loads_partial_archives(&self) -> bool {
        !self.is_podman()
    }

    /// The CLI's name, for messages.
    pub fn name(&self) -> &str {
        &self.bin
    }

    /// Runs a container to completion and returns its output, whatever its exit status.
    pub fn output(&self, sh: &Shell, c: &Container) -> Result<Output> {
        self.sweep(sh);
        let (bin, args) = (&self.bin, c.args());
        let out = cmd!(sh, "{bin} run {args...}").quiet().ignore_status().output();
        out.with_context(|| format!("start {bin} run"))
    }

    /// Runs a container; fails with the last lines of its stderr when it exits non-zero.
    pub fn run(&self, sh: &Shell, c: &Container) -> Result<Output> {
        let out = self.output(sh, c)?;
        if !out.status.success() {
            bail!("the container exited with {}:\n{}", out.status, tail(&out.stderr, 25));
        }
        Ok(out)
    }

    /// Runs a container on our terminal: stdin, stdout and stderr are inherited (xshell would
    /// null stdin, which an interactive shell needs).
    pub fn run_attached(&self, c: &Container) -> Result<ExitStatus> {
        self.sweep(&Shell::new()?);
        let status = std::process::Command::new(&self.bin).arg("run").args(c.args()).status();
        status.with_context(|| format!("start {} run", self.bin))
    }

    /// Runs `build`, following its output line by line: each line goes to `progress`, the
    /// last lines are kept for the error when it fails. Returns the id the build itself
    /// reports (`--iidfile`, with the legacy builder and BuildKit alike), not whatever a tag
    /// points at afterwards.
    pub fn build(&self, build: &Build, progress: &mut dyn FnMut(&str)) -> Result<String> {
        self.changed();
        if let Ok(sh) = Shell::new() {
            self.sweep(&sh);
        }
        let iidfile = build
            .iidfile
            .clone()
            .unwrap_or_else(|| Utf8PathBuf::from(format!("{}.iid", build.context)));
        let _ = fs_err::remove_file(&iidfile);
        let mut args = Build { iidfile: Some(iidfile.clone()), ..build.clone() }.args();
        // With BuildKit (`DOCKER_BUILDKIT=1` and an engine that has it), plain progress lines.
        if std::env::var("DOCKER_BUILDKIT").is_ok_and(|v| v == "1") {
            args.insert(1, "--progress=plain".to_string());
        }
        let reader = duct::cmd(&self.bin, args)
            .stdin_null()
            .stderr_to_stdout()
            .unchecked()
            .reader()
            .with_context(|| format!("start {} build", self.bin))?;
        let mut tail: VecDeque<String> = VecDeque::new();
        for line in BufReader::new(&reader).lines() {
            let line = strip_ansi(&line?);
            // The legacy builder's deprecation notice is noise on every build.
            if line.contains("legacy builder is deprecated") || line.contains("buildx") {
                continue;
            }
            progress(&line);
            if !line.trim().is_empty() {
                tail.push_back(line);
            }
            if tail.len() > 40 {
                tail.pop_front();
            }
        }
        let output = reader.try_wait()?.context("the build ended without an exit status")?;
        if !output.status.success() {
            bail!("docker build failed; last lines of its output:\n{}", Vec::from(tail).join("\n"));
        }
        let id = fs_err::read_to_string(&iidfile)
            .with_context(|| format!("the build wrote no image id to {iidfile}"))?;
        let _ = fs_err::remove_file(&iidfile);
        Ok(id.trim().to_string())
    }

    /// Removes, once per run, the containers of runs that died without removing them (a
    /// `kill -9` leaves `docker run` going). Best effort: a failure here blocks nothing.
    fn sweep(&self, sh: &Shell) {
        let Some(runs) = self.runs.get().filter(|_| !self.swept.replace(true)) else { return };
        // This run's containers carry its label: it registers first, so others see it alive.
        let _ = runs::register(runs);
        if !runs::any_dead(runs) {
            return;
        }
        let bin = &self.bin;
        let filter = format!("label={}", runs::LABEL);
        let format = format!("{{{{.ID}}}} {{{{.Label \"{}\"}}}}", runs::LABEL);
        let Ok(listing) =
            cmd!(sh, "{bin} ps -a --filter {filter} --format {format}").quiet().read()
        else {
            return;
        };
        let dead: Vec<&str> = listing
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, run)| !runs::alive(runs, run))
            .map(|(id, _)| id)
            .collect();
        if !dead.is_empty() {
            let _ = cmd!(sh, "{bin} rm -f {dead...}").quiet().ignore_stdout().ignore_stderr().run();
        }
        runs::forget_dead(runs);
    }

    /// Gives `source` the extra name `target`.
    pub fn tag(&self, sh: &Shell, source: &str, target: &str) -> Result<()> {
        self.changed();
        let bin = &self.bin;
        cmd!(sh, "{bin} tag {source} {target}")
            .quiet()
            .run()
            .with_context(|| format!("tag {target}"))
    }

    /// Pushes a reference and returns the digest the registry reports.
    pub fn push(&self, sh: &Shell, reference: &str) -> Result<String> {
        let bin = &self.bin;
        if self.is_podman() {
            // Podman prints no digest; it writes it to a file on request (here our pipe).
            // Like Docker, it may push to a loopback registry over plain HTTP.
            let host = reference.split('/').next().unwrap_or_default();
            let loopback = host.starts_with("127.") || host.starts_with("localhost");
            let tls = format!("--tls-verify={}", !loopback);
            let out = cmd!(sh, "{bin} push -q {tls} --digestfile /dev/stdout {reference}")
                .quiet()
                .read()
                .with_context(|| format!("push {reference}"))?;
            return Ok(out.trim().to_string());
        }
        let out = cmd!(sh, "{bin} push {reference}").quiet().read();
        let out = out.with_context(|| format!("push {reference}"))?;
        out.lines()
            .find_map(|l| l.split("digest: ").nth(1).and_then(|d| d.split_whitespace().next()))
            .map(str::to_string)
            .with_context(|| format!("push {reference}: no digest in the engine's output:\n{out}"))
    }

    /// Pulls a reference; false when no registry provides it.
    pub fn pull(&self, sh: &Shell, reference: &str) -> bool {
        self.changed();
        let bin = &self.bin;
        cmd!(sh, "{bin} pull {reference}").quiet().ignore_stdout().ignore_stderr().run().is_ok()
    }

    /// Makes an image of a root filesystem folder: `tar | docker import`, both exit statuses
    /// checked. `changes` are Dockerfile instructions (`ENV …`, `CMD …`, `LABEL …`).
    pub fn import(&self, rootfs: &Utf8Path, changes: &[&str], reference: &str) -> Result<()> {
        self.changed();
        let mut args = vec!["import".to_string()];
        for change in changes {
            args.extend(["--change".to_string(), (*change).to_string()]);
        }
        args.extend(["-".to_string(), reference.to_string()]);
        duct::cmd("tar", ["-C", rootfs.as_str(), "-c", "."])
            .pipe(duct::cmd(&self.bin, args))
            .stdout_null()
            .run()
            .with_context(|| format!("tar {rootfs} | {} import … {reference}", self.bin))?;
        Ok(())
    }

    /// Writes `reference` as a docker-archive tar to `path`.
    pub fn save(&self, sh: &Shell, reference: &str, path: &Utf8Path) -> Result<()> {
        let bin = &self.bin;
        let out = cmd!(sh, "{bin} save -o {path} {reference}").quiet().ignore_status().output()?;
        if !out.status.success() {
            bail!("save {reference} from the engine: {}", tail(&out.stderr, 5));
        }
        Ok(())
    }

    /// Loads a docker-archive tar into the engine.
    pub fn load(&self, sh: &Shell, path: &Utf8Path) -> Result<()> {
        self.changed();
        let bin = &self.bin;
        let out = cmd!(sh, "{bin} load -q -i {path}").quiet().ignore_status().output()?;
        if !out.status.success() {
            bail!(
                "load the image into the engine: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

/// Whether `bin` is Docker's CLI, on PATH, talking to the local daemon's socket (no
/// `DOCKER_HOST`, no context chosen), and that daemon answers a ping there: a millisecond,
/// where `docker version` takes 10 to 30 ms of every command. Anything else is asked the slow way.
fn docker_socket_answers(bin: &str) -> bool {
    use std::io::{Read, Write};
    let plain_docker = bin == "docker"
        && ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"]
            .iter()
            .all(|v| std::env::var_os(v).is_none());
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let context_chosen = home
        .and_then(|h| fs_err::read_to_string(h.join(".docker/config.json")).ok())
        .is_some_and(|c| c.contains("currentContext"));
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("docker").is_file()));
    if !plain_docker || context_chosen || !on_path {
        return false;
    }
    let Ok(mut socket) = std::os::unix::net::UnixStream::connect("/var/run/docker.sock") else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let mut answer = [0u8; 12];
    socket.write_all(b"GET /_ping HTTP/1.0\r\n\r\n").is_ok()
        && socket.read_exact(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.")
        && answer.ends_with(b" 200")
}

/// The last `n` lines of a child's output, for an error message.
pub fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
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
    use super::*;

    #[test]
    fn strip_ansi_drops_colour_codes() {
        assert_eq!(strip_ansi("\u{1b}[91m/bin/sh: 1: \u{1b}[0mx"), "/bin/sh: 1: x");
    }
}
