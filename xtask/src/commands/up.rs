//! `cargo xtask up`: brings up what builds and tests need on a bare machine (engine, base image).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use fs_err as fs;
use xshell::{cmd, Shell};

use crate::cli::UpArgs;
use crate::engine;
use crate::session::Session;

pub fn run(session: &Session, args: &UpArgs) -> Result<()> {
    let started = Instant::now();
    let (daemon, images) = engine_and_base_images(session, &args.python)?;
    // Unlike the test harness, `up` leaves the engine running for the commands that follow.
    daemon.detach();
    println!(
        "engine and {} ready in {:.1} s (daemon log: target/xtask/dockerd.log)",
        images.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Installs docker.io when missing, starts dockerd when no engine answers, and provides the
/// Python images: the tools' Python, `[toolchain] python_image` and `python:<X.Y>-slim` for
/// each of `pythons`. Returns the guard of a daemon it started and the images' names.
pub fn engine_and_base_images(
    session: &Session,
    pythons: &[String],
) -> Result<(Daemon, Vec<String>)> {
    ensure_engine_installed(&session.sh)?;
    let daemon = ensure_engine(&session.sh, session.root())?;
    let t = &session.config()?.toolchain;
    let mut images = vec![t.tools_image()];
    images.extend(t.python_image.clone());
    images.extend(pythons.iter().map(|p| format!("python:{p}-slim")));
    images.dedup();
    for image in &images {
        ensure_base_image(session, image)?;
    }
    Ok((daemon, images))
}

/// Whether `bin` is an executable file on PATH.
fn have(bin: &str) -> bool {
    if bin.contains('/') {
        return Utf8Path::new(bin).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(bin).is_file()))
}

/// The engine's CLI (`$DOCKER` or docker) and, for docker, its daemon.
fn ensure_engine_installed(sh: &Shell) -> Result<()> {
    let bin = engine::binary();
    let docker = Utf8Path::new(&bin).file_name() == Some("docker");
    if have(&bin) && (!docker || have("dockerd")) {
        return Ok(());
    }
    if !docker {
        bail!("$DOCKER is {bin:?}, which is not an executable on PATH; install it or unset DOCKER");
    }
    println!("installing docker.io (no dockerd on this machine)");
    apt_install(sh, &["docker.io"])
}

fn apt_install(sh: &Shell, packages: &[&str]) -> Result<()> {
    cmd!(sh, "apt-get update -q").run().context("apt-get update (needs root)")?;
    cmd!(sh, "apt-get install -y -q --no-install-recommends {packages...}")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
        .with_context(|| format!("apt-get install {}", packages.join(" ")))
}

/// A daemon this harness started; stopped (SIGTERM, then waited for) on drop.
pub struct Daemon(Option<Child>);

impl Daemon {
    /// Leaves the daemon running after we exit.
    pub fn detach(mut self) {
        self.0.take();
    }

    /// Starts `program` in the background, logging to `log` (never to our stdout, so it cannot
    /// hold CI's output open), and waits until `ready` says it answers.
    fn start(
        program: &str,
        args: &[&str],
        log: &Utf8Path,
        within: Duration,
        ready: impl Fn() -> bool,
    ) -> Result<Daemon> {
        fs::create_dir_all(log.parent().unwrap_or(log))?;
        crate::files::write_atomic(log, "")?;
        let file = fs::OpenOptions::new().append(true).open(log)?.into_parts().0;
        // xshell cannot leave a child running in the background, hence std::process here.
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("start {program}"))?;
        let daemon = Daemon(Some(child));
        let deadline = Instant::now() + within;
        while !ready() {
            if Instant::now() > deadline {
                bail!("{program} did not answer within {} s; see {log}", within.as_secs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(daemon)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Installs Debian's package `package` when `bin` is not on PATH (tools the tests check
/// images with, such as skopeo).
pub fn ensure_tool(sh: &Shell, bin: &str, package: &str) -> Result<()> {
    if have(bin) {
        return Ok(());
    }
    println!("installing {package} (for the tests)");
    apt_install(sh, &[package])
}

/// Starts a throwaway registry (Debian's docker-registry) on a free loopback port, storing
/// under target/xtask/registry; returns its guard and `127.0.0.1:<port>`.
pub fn start_registry(sh: &Shell, root: &Utf8Path) -> Result<(Daemon, String)> {
    if !have("docker-registry") {
        println!("installing docker-registry (for push tests)");
        apt_install(sh, &["docker-registry"])?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let address = format!("127.0.0.1:{port}");
    let dir = root.join("target/xtask/registry");
    crate::files::refuse_symlinked(root, &[&dir])?;
    crate::files::fresh_dir(&dir)?;
    let config = dir.join("config.yml");
    fs::write(
        &config,
        format!("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n"),
    )?;
    let daemon = Daemon::start(
        "docker-registry",
        &["serve", config.as_str()],
        &dir.join("registry.log"),
        Duration::from_secs(20),
        || std::net::TcpStream::connect(&address).is_ok(),
    )?;
    Ok((daemon, address))
}

fn ensure_engine(sh: &Shell, root: &Utf8Path) -> Result<Daemon> {
    if engine::answers(sh) {
        return Ok(Daemon(None));
    }
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        // Another engine is configured: starting a local dockerd would not make it answer.
        bail!(
            "the engine at DOCKER_HOST={host} does not answer; start it, or unset DOCKER_HOST to \
             let `cargo xtask up` start a local dockerd"
        );
    }
    let log_path = root.join("target/xtask/dockerd.log");
    crate::files::refuse_symlinked(root, &[&root.join("target/xtask")])?;
    println!("starting dockerd (log: {log_path})");
    Daemon::start("dockerd", &[], &log_path, Duration::from_secs(60), || engine::answers(sh))
}

/// The Debian release whose python3 is Python 3.`minor`, for stand-ins.
fn debian_for(minor: u32) -> Option<&'static str> {
    match minor {
        9 => Some("bullseye"),
        11 => Some("bookworm"),
        13 => Some("trixie"),
        _ => None,
    }
}

/// Makes a base image available: pulled when a registry answers, otherwise, for
/// `python:3.9/3.11/3.13-slim`, built locally from Debian packages and labelled as a stand-in.
fn ensure_base_image(session: &Session, image: &str) -> Result<()> {
    let (sh, engine) = (&session.sh, session.engine()?);
    if engine.image_id(sh, image)?.is_some() || engine.pull(sh, image) {
        return Ok(());
    }
    let minor = image
        .strip_prefix("python:3.")
        .and_then(|rest| rest.split(['-', '.']).next())
        .and_then(|m| m.parse::<u32>().ok());
    let Some((minor, suite)) = minor.and_then(|m| Some((m, debian_for(m)?))) else {
        bail!(
            "{image} cannot be pulled (no registry answers) and has no Debian stand-in (those exist \
             for python:3.9-slim, 3.11 and 3.13); make it available to the engine"
        );
    };
    println!("no registry answers for {image}: building a stand-in from Debian {suite} packages");
    if !have("debootstrap") {
        apt_install(sh, &["debootstrap"])?;
    }
    let rootfs = session.root().join(format!("target/xtask/stand-in-{suite}"));
    if rootfs.exists() {
        sh.remove_path(&rootfs)?;
    }
    cmd!(sh, "debootstrap --variant=minbase --include=python3,python3-venv,python3-pip {suite} {rootfs} http://deb.debian.org/debian")
        .ignore_stdout()
        .run()
        .with_context(|| format!("debootstrap a {suite} rootfs with python3"))?;
    // The stand-in behaves like the official image: pip may install system-wide and
    // `python` exists; apt caches and docs are dropped to stay close to its size.
    for trash in [
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
    ] {
        sh.remove_path(rootfs.join(trash))?;
    }
    sh.remove_path(rootfs.join(format!("usr/lib/python3.{minor}/EXTERNALLY-MANAGED")))?;
    let python = rootfs.join("usr/bin/python");
    if !python.exists() {
        std::os::unix::fs::symlink("python3", &python).context("link python")?;
    }
    let label = format!("LABEL xtask.stand-in=debootstrap-{suite}");
    let changes = ["ENV LANG=C.UTF-8", "CMD [\"python3\"]", label.as_str()];
    engine
        .import(&rootfs, &changes, image)
        .with_context(|| format!("import the stand-in {image}"))?;
    sh.remove_path(&rootfs)?;
    Ok(())
}
