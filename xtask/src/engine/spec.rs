//! What one engine call is asked to do: a container to run, an image to build.

use camino::{Utf8Path, Utf8PathBuf};

/// A bind mount: a host path at a path inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: Utf8PathBuf,
    pub inside: String,
    pub read_only: bool,
}

impl Mount {
    /// `--mount` syntax, which carries any path (`-v` splits at `:`): fields are CSV, so a
    /// field with a comma, a quote or a line break is quoted.
    fn spec(&self) -> String {
        let field = |f: String| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        };
        let mut spec = format!(
            "type=bind,{},{}",
            field(format!("source={}", self.host)),
            field(format!("target={}", self.inside))
        );
        if self.read_only {
            spec.push_str(",readonly");
        }
        spec
    }
}

/// One `docker run --rm`: offline unless asked, with the user, mounts and variables given.
#[derive(Debug, Clone)]
pub struct Container {
    image: String,
    network: bool,
    user: Option<String>,
    mounts: Vec<Mount>,
    env: Vec<String>,
    workdir: Option<String>,
    entrypoint: Option<String>,
    tty: bool,
    command: Vec<String>,
}

impl Container {
    /// A container with no network at all (`--network none`).
    pub fn offline(image: &str) -> Container {
        Container {
            image: image.to_string(),
            network: false,
            user: None,
            mounts: Vec::new(),
            env: Vec::new(),
            workdir: None,
            entrypoint: None,
            tty: false,
            command: Vec::new(),
        }
    }

    /// A container on the engine's default network: only the fetch and lock steps need one.
    pub fn online(image: &str) -> Container {
        Container { network: true, ..Container::offline(image) }
    }

    /// Runs as `uid:gid` (the owner of the folders it writes into).
    pub fn user(mut self, user: &str) -> Container {
        self.user = Some(user.to_string());
        self
    }

    pub fn mount(mut self, host: &Utf8Path, inside: &str) -> Container {
        self.mounts.push(Mount { host: host.to_owned(), inside: inside.into(), read_only: false });
        self
    }

    pub fn mount_ro(mut self, host: &Utf8Path, inside: &str) -> Container {
        self.mounts.push(Mount { host: host.to_owned(), inside: inside.into(), read_only: true });
        self
    }

    /// `NAME=value`, or `NAME` alone to pass the value from our environment without writing
    /// it into the command line.
    pub fn env(mut self, var: &str) -> Container {
        self.env.push(var.to_string());
        self
    }

    /// The host's settings for a tool in the container (variables by name, files read-only).
    pub fn with(mut self, settings: &HostSettings) -> Container {
        self.env.extend(settings.env.iter().cloned());
        for m in &settings.mounts {
            // Two tools may need the same file (pip and Poetry, one CA bundle): mount it once.
            if !self.mounts.iter().any(|have| have.inside == m.inside) {
                self.mounts.push(m.clone());
            }
        }
        self
    }

    pub fn workdir(mut self, dir: &str) -> Container {
        self.workdir = Some(dir.to_string());
        self
    }

    /// Runs `program` instead of the image's entrypoint.
    pub fn entrypoint(mut self, program: &str) -> Container {
        self.entrypoint = Some(program.to_string());
        self
    }

    /// An interactive terminal (`-it`).
    pub fn tty(mut self) -> Container {
        self.tty = true;
        self
    }

    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, words: I) -> Container {
        self.command.extend(words.into_iter().map(Into::into));
        self
    }

    /// The arguments after `docker run`.
    pub(super) fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--rm".to_string(),
            "--label".into(),
            format!("{}={}", crate::runs::LABEL, crate::runs::this_run()),
        ];
        if !self.network {
            args.extend(["--network".into(), "none".into()]);
        }
        if let Some(user) = &self.user {
            args.extend(["--user".into(), user.clone()]);
        }
        for m in &self.mounts {
            args.extend(["--mount".into(), m.spec()]);
        }
        for e in &self.env {
            args.extend(["-e".into(), e.clone()]);
        }
        if let Some(dir) = &self.workdir {
            args.extend(["-w".into(), dir.clone()]);
        }
        if let Some(program) = &self.entrypoint {
            args.extend(["--entrypoint".into(), program.clone()]);
        }
        if self.tty {
            args.push("-it".into());
        }
        args.push(self.image.clone());
        args.extend(self.command.iter().cloned());
        args
    }
}

/// Host configuration a containerised tool needs: variable names (values are copied by the
/// engine from our environment, never written into argv or a log) and read-only files.
#[derive(Debug, Clone, Default)]
pub struct HostSettings {
    pub env: Vec<String>,
    pub mounts: Vec<Mount>,
}

/// One `docker build` of a context folder, always with `--network none`, and removing its
/// intermediate containers even when it fails.
#[derive(Debug, Clone, Default)]
pub struct Build {
    pub context: Utf8PathBuf,
    /// A Dockerfile outside the context (`-f`); `None` for the context's own.
    pub dockerfile: Option<Utf8PathBuf>,
    pub tag: Option<String>,
    /// Where the engine writes the built image's id.
    pub iidfile: Option<Utf8PathBuf>,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub no_cache: bool,
    /// Whether RUN steps may use the network (for `apt-get`); builds are offline otherwise.
    pub network: bool,
}

impl Build {
    pub(super) fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec!["build".into(), "--force-rm".into()];
        if !self.network {
            args.extend(["--network".into(), "none".into()]);
        }
        if let Some(tag) = &self.tag {
            args.extend(["--tag".into(), tag.clone()]);
        }
        if let Some(file) = &self.iidfile {
            args.extend(["--iidfile".into(), file.to_string()]);
        }
        if let Some(file) = &self.dockerfile {
            args.extend(["--file".into(), file.to_string()]);
        }
        if self.no_cache {
            args.push("--no-cache".into());
        }
        for (k, v) in &self.build_args {
            args.extend(["--build-arg".into(), format!("{k}={v}")]);
        }
        for (k, v) in &self.labels {
            args.extend(["--label".into(), format!("{k}={v}")]);
        }
        args.push(self.context.to_string());
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_offline_unless_asked() {
        let c =
            Container::offline("img").user("1:2").mount_ro("/src".into(), "/repo").env("HOME=/tmp");
        let args = c.command(["python3", "-V"]).args();
        assert_eq!(
            args[..3],
            ["--rm", "--label", &format!("xtask.run={}", crate::runs::this_run())]
        );
        assert_eq!(
            args[3..],
            [
                "--network",
                "none",
                "--user",
                "1:2",
                "--mount",
                "type=bind,source=/src,target=/repo,readonly",
                "-e",
                "HOME=/tmp",
                "img",
                "python3",
                "-V"
            ]
        );
        assert!(!Container::online("img").args().contains(&"none".to_string()));
    }

    #[test]
    fn mounts_carry_colons_commas_and_quotes() {
        let m =
            |host: &str| Mount { host: host.into(), inside: "/in".into(), read_only: false }.spec();
        assert_eq!(m("/a:b"), "type=bind,source=/a:b,target=/in");
        assert_eq!(m("/a,b"), "type=bind,\"source=/a,b\",target=/in");
        assert_eq!(m("/a\"b"), "type=bind,\"source=/a\"\"b\",target=/in");
        assert_eq!(m("/a\nb"), "type=bind,\"source=/a\nb\",target=/in");
    }

    #[test]
    fn builds_are_offline_with_args_and_labels() {
        let b = Build {
            context: "/ctx".into(),
            dockerfile: None,
            tag: Some("x:1".into()),
            iidfile: None,
            build_args: vec![("A".into(), "b".into())],
            labels: vec![("l".into(), "v".into())],
            no_cache: true,
            network: false,
        };
        assert_eq!(
            b.args(),
            [
                "build",
                "--force-rm",
                "--network",
                "none",
                "--tag",
                "x:1",
                "--no-cache",
                "--build-arg",
                "A=b",
                "--label",
                "l=v",
                "/ctx"
            ]
        );
    }
}
