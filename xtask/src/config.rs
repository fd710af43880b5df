//! docker/images.toml: the one place for names, versions and repo layout, with defaults.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use camino::Utf8Path;
use serde::Deserialize;

/// Where the config lives, relative to the repo root.
pub const CONFIG_PATH: &str = "docker/images.toml";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub repo: RepoConfig,
    #[serde(default)]
    pub toolchain: Toolchain,
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// Per-project image settings, keyed by the project's repo-relative folder.
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectImage>,
    #[serde(default)]
    pub cache: CacheConfig,
}

/// Caches beyond the local one.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Share local wheels and build images through the registry the images go to, so that
    /// every runner builds each once (see `pipeline::shared`).
    #[serde(default)]
    pub registry: bool,
}

/// How one project's image is named and based.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectImage {
    /// Image name (default: the project's normalised name).
    pub image: Option<String>,
    /// Runtime base image (default: chosen by the project's Python constraint, see
    /// [`Toolchain::python_image`]), e.g. a CUDA image with Python.
    pub runtime_image: Option<String>,
    /// Extras of the project itself to install, as `pip install ".[server]"` would (default:
    /// none).
    #[serde(default)]
    pub extras: Vec<String>,
}

/// The pinned tools: what locks are made with, what every wheel is built with, and which
/// Pythons projects run on by default.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Toolchain {
    /// The default runtime image of every project whose Python constraint allows its Python;
    /// without it (or where the constraint excludes it), `python:<X.Y>-slim` for the newest
    /// Python 3.9 to 3.13 that the project and its libraries allow.
    pub python_image: Option<String>,
    /// The Python (`3.11`) whose `python:<X.Y>-slim` runs Poetry and uv.
    pub python: String,
    /// The Poetry `cargo xtask lock` runs for Poetry projects.
    pub poetry: String,
    /// Installed next to Poetry, for `poetry export` (the tests cross-check fetch with it).
    pub poetry_plugin_export: String,
    /// The uv that `lock` runs for uv projects and that pins the build backends.
    pub uv: String,
    /// Debian packages in the build images, for sdists that compile code (`gcc`,
    /// `libffi-dev`, …); installed with the network when the build image is made.
    pub system_packages: Vec<String>,
    /// Name of the build images; each is tagged with the hash of its inputs.
    pub build_image: String,
}

impl Default for Toolchain {
    fn default() -> Self {
        Toolchain {
            python_image: None,
            python: "3.11".into(),
            poetry: "2.5.1".into(),
            poetry_plugin_export: "1.10.1".into(),
            uv: "0.13.9".into(),
            system_packages: Vec::new(),
            build_image: "xtask-build".into(),
        }
    }
}

impl Toolchain {
    /// `python:<X.Y>-slim` for the Python that runs the tools.
    pub fn tools_image(&self) -> String {
        format!("python:{}-slim", self.python)
    }

    /// The minor of the tools' Python (`11`).
    pub fn tools_minor(&self) -> u32 {
        self.python.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(11)
    }
}

/// Facts of the runtime image, when set: xtask reads them from the image and refuses a
/// value that differs (see `crate::runtime`). Useful only to pin what the image must be.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    pub python_full_version: Option<String>,
    pub sys_platform: Option<String>,
    pub platform_machine: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Globs (repo-relative folders) of the packages that are projects; the rest are libs.
    /// Without it, projects are inferred: a package with a Dockerfile, a Poetry app in
    /// non-package mode, or one nothing in the repo depends on.
    #[serde(default)]
    pub projects: Option<Vec<String>>,
    /// Globs of folders that discovery skips, on top of hidden and build-output folders.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Compiled folder globs.
pub struct Globs(Vec<glob::Pattern>);

impl Globs {
    pub fn new(patterns: &[String], key: &str) -> Result<Globs> {
        let compiled = patterns
            .iter()
            .map(|p| {
                glob::Pattern::new(p)
                    .with_context(|| format!("{CONFIG_PATH}: {key}: bad glob {p:?}"))
            })
            .collect::<Result<_>>()?;
        Ok(Globs(compiled))
    }

    /// Whether a repo-relative folder matches, either itself or as the root of a `dir/**` glob.
    pub fn matches(&self, dir: &str) -> bool {
        let with_slash = format!("{dir}/");
        self.0.iter().any(|p| p.matches(dir) || p.matches(&with_slash))
    }
}

/// Parses the config text; an error names the file and the key.
pub fn parse(text: &str) -> Result<Config> {
    let config: Config = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{CONFIG_PATH}: {}", e.to_string().trim_end()))?;
    let python = &config.toolchain.python;
    let minor_ok = python
        .strip_prefix("3.")
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| (9..=13).contains(&m));
    if !minor_ok {
        anyhow::bail!(
            "{CONFIG_PATH}: [toolchain] python = {python:?} is not a Python from 3.9 to 3.13 such as \"3.11\""
        );
    }
    if let Some(v) = &config.runtime.python_full_version {
        let parts: Vec<&str> = v.split('.').collect();
        if parts.len() != 3
            || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            anyhow::bail!(
                "{CONFIG_PATH}: [runtime] python_full_version = {v:?} is not a Python version such \
                 as \"3.11.2\"; remove the key (xtask reads it from the runtime image) or fix it"
            );
        }
    }
    Ok(config)
}

/// Reads `<repo>/docker/images.toml`, or the defaults when a repo has none.
pub fn load(repo: &Utf8Path) -> Result<Config> {
    let path = repo.join(CONFIG_PATH);
    match fs_err::read_to_string(&path) {
        Ok(text) => parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_missing_keys() {
        assert_eq!(parse("").unwrap(), Config::default());
        let c = parse("[repo]\nexclude = [\"x/**\"]\n").unwrap();
        assert_eq!(c.repo.projects, None, "projects are inferred unless configured");
    }

    #[test]
    fn a_python_version_that_is_not_one_is_refused() {
        let e = parse("[runtime]\npython_full_version = \"banana\"\n").unwrap_err().to_string();
        assert!(e.contains("[runtime] python_full_version") && e.contains("banana"), "{e}");
        assert!(parse("[runtime]\npython_full_version = \"3.12.1\"\n").is_ok());
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_file() {
        let e = parse("[repo]\nproject = []\n").unwrap_err().to_string();
        assert!(e.contains("docker/images.toml") && e.contains("project"), "{e}");
    }

    #[test]
    fn folder_globs_match_the_folder_and_below() {
        let g = Globs::new(&["projects/**".to_string()], "projects").unwrap();
        assert!(g.matches("projects/a"));
        assert!(g.matches("projects/gw-iaas/export"));
        assert!(!g.matches("libs/projects"));
        let g = Globs::new(&["xtask/test_data/**".to_string()], "exclude").unwrap();
        assert!(g.matches("xtask/test_data"));
    }
}
