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
        let bin = std::env::var("DOCKER").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| "docker".into());
        if cmd!(sh, "{bin} --version").quiet().ignore_stdout().ignore_stderr().run().is_err() {
            bail!("no container engine CLI {bin:?} found; install Docker (`apt-get install docker.io`) or set $DOCKER");
        }
        let server = cmd!(sh, "{bin} version --format {SERVER_VERSION}").quiet().ignore_stderr().read();
        match server {
            Ok(v) if !v.trim().is_empty() => Ok(Engine { bin }),
            _ => bail!(
                "the Docker engine is not running ({bin} cannot reach it); start it with `dockerd &` \
                 (or `systemctl start docker`), or run `cargo xtask test`, which starts one"
            ),
        }
    }

    /// The image id of `reference`, or `None` when the engine has no such image.
    pub fn image_id(&self, sh: &Shell, reference: &str) -> Result<Option<String>> {
        let bin = &self.bin;
        let format = "{{.Id}}";
        let out = cmd!(sh, "{bin} image inspect --format {format} {reference}").quiet().ignore_status().output()?;
        if out.status.success() {
            return Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_string()));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.to_lowercase().contains("no such image") {
            return Ok(None);
        }
        Err(anyhow::anyhow!("{}", stderr.trim())).with_context(|| format!("inspect image {reference}"))
    }
}
