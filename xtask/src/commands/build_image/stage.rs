//! The per-project build context: what goes in, its fingerprint, and staging it on disk.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::commands::{fetch::Wheelhouse, wheels::WheelRow};
use crate::files::{link_or_copy, write_tree};
use crate::image::dockerfile::{copy_sources, Ignore};
use crate::model::Repo;
use crate::wheel::install::{install, Layout, Placed};
use crate::wheel::sha256_hex;

pub const TEMPLATE: &str = "docker/project.Dockerfile";
/// Bumped when the staging layout changes, so old images are not taken for up to date.
const LAYOUT: &str = "xtask-context-2";
/// Where the templates put the venv.
pub const VENV: &str = "/opt/venv";

/// One folder of `wheels/`: its wheels (file name, source path) and hash-pinned requirements.
pub struct WheelGroup {
    pub name: &'static str,
    pub files: Vec<(String, Utf8PathBuf)>,
    pub requirements: String,
}

/// Everything that goes into one project's image, before anything is written.
pub struct Inputs {
    /// The Dockerfile to build: the template, plus the project's own appended after it.
    pub dockerfile: String,
    pub custom_dockerfile: bool,
    /// Project files the Dockerfile copies: (context-relative path, source path).
    pub project_files: Vec<(String, Utf8PathBuf)>,
    /// Wheels by group: `third-party`, `libs`, `project`.
    pub groups: Vec<WheelGroup>,
    /// Local packages installed by xtask (`libs`, `project`): files to COPY into the image.
    pub layers: Vec<(&'static str, Vec<Placed>)>,
    pub build_args: Vec<(String, String)>,
}

impl Inputs {
    pub fn collect(
        repo: &Repo,
        idx: usize,
        house: &Wheelhouse,
        wheels: &[WheelRow],
        runtime_image: &str,
    ) -> Result<Inputs> {
        let pkg = &repo.graph.packages[idx];
        let template = repo.read_or_default(TEMPLATE)?;
        let own = repo.root.join(&pkg.dir).join("Dockerfile");
        let (dockerfile, custom, project_files) = if own.is_file() {
            let text = std::fs::read_to_string(&own)
                .with_context(|| format!("read {}/Dockerfile", pkg.dir))?;
            let files = project_files(repo, &pkg.dir, &text)?;
            (
                format!(
                    "{template}\n# ---- {}/Dockerfile, built on stage `app` above ----\n{text}",
                    pkg.dir
                ),
                true,
                files,
            )
        } else {
            (template, false, Vec::new())
        };
        let third = house.wheels.iter().map(|w| (file_name(&w.file), w.file.clone())).collect();
        let mut libs = (Vec::new(), String::new());
        let mut project = (Vec::new(), String::new());
        for w in wheels {
            let group = if w.path == pkg.dir { &mut project } else { &mut libs };
            let version = file_name(&w.file).split('-').nth(1).unwrap_or_default().to_string();
            group.0.push((file_name(&w.file), w.file.clone()));
            group.1 += &format!("{}=={version} --hash=sha256:{}\n", w.package, w.sha256);
        }
        let python = repo.config.runtime.python_version();
        let layout = Layout { venv: VENV, python: &python };
        let mut layers = Vec::new();
        for (group, files) in [("libs", &libs.0), ("project", &project.0)] {
            let mut placed = Vec::new();
            for (name, path) in files {
                let bytes = std::fs::read(path).with_context(|| format!("read {path}"))?;
                placed.extend(
                    install(&bytes, &layout)
                        .map_err(anyhow::Error::msg)
                        .with_context(|| format!("install {name} into the {group} layer"))?,
                );
            }
            layers.push((group, placed));
        }
        let build_args = vec![
            ("RUNTIME_IMAGE".to_string(), runtime_image.to_string()),
            ("PROJECT".to_string(), pkg.name.clone()),
            ("VERSION".to_string(), pkg.version.clone().unwrap_or_default()),
        ];
        Ok(Inputs {
            dockerfile,
            custom_dockerfile: custom,
            project_files,
            groups: vec![
                WheelGroup {
                    name: "third-party",
                    files: third,
                    requirements: house.requirements_text.clone(),
                },
                WheelGroup { name: "libs", files: libs.0, requirements: libs.1 },
                WheelGroup { name: "project", files: project.0, requirements: project.1 },
            ],
            layers,
            build_args,
        })
    }

    /// A hash of everything that decides the image's content. Wheels enter through their
    /// sha256 in the requirements texts; project files are hashed.
    pub fn fingerprint(&self, base_image_id: &str) -> Result<String> {
        let mut input = format!("{LAYOUT}\n{base_image_id}\n{}\n", self.dockerfile);
        for (k, v) in &self.build_args {
            input += &format!("arg {k}={v}\n");
        }
        for g in &self.groups {
            let names: Vec<&str> = g.files.iter().map(|(n, _)| n.as_str()).collect();
            input += &format!("group {}\n{}\n{}\n", g.name, names.join(" "), g.requirements);
        }
        for (rel, src) in &self.project_files {
            let bytes = std::fs::read(src).with_context(|| format!("read {src}"))?;
            input += &format!("file {rel} {}\n", sha256_hex(&bytes));
        }
        Ok(sha256_hex(input.as_bytes()))
    }

    /// Bytes the context holds, without staging it.
    pub fn context_bytes(&self) -> Result<u64> {
        let mut total = self.dockerfile.len() as u64;
        let files = self
            .groups
            .iter()
            .flat_map(|g| g.files.iter().map(|(_, p)| p))
            .chain(self.project_files.iter().map(|(_, p)| p));
        for path in files {
            total += std::fs::metadata(path).with_context(|| format!("stat {path}"))?.len();
        }
        let layers: u64 = self
            .layers
            .iter()
            .flat_map(|(_, files)| files.iter().map(|f| f.data.len() as u64))
            .sum();
        Ok(total + layers + self.groups.iter().map(|g| g.requirements.len() as u64).sum::<u64>())
    }

    /// Writes the context into `dir` (emptied first); wheels are hard links into the caches.
    pub fn stage(&self, dir: &Utf8Path) -> Result<()> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("remove the old context {dir}"))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("create {dir}"))?;
        std::fs::write(dir.join("Dockerfile"), &self.dockerfile)?;
        for g in &self.groups {
            let gdir = dir.join("wheels").join(g.name);
            std::fs::create_dir_all(&gdir)?;
            std::fs::write(gdir.join("requirements.txt"), &g.requirements)?;
            for (name, src) in &g.files {
                link_or_copy(src, &gdir.join(name))?;
            }
        }
        for (rel, src) in &self.project_files {
            let dest = dir.join(rel);
            std::fs::create_dir_all(dest.parent().unwrap_or(dir))?;
            link_or_copy(src, &dest)?;
        }
        for (group, files) in &self.layers {
            write_tree(&dir.join("layers").join(group), files)?;
        }
        Ok(())
    }
}

fn file_name(path: &Utf8Path) -> String {
    path.file_name().unwrap_or_default().to_string()
}

/// The files of the project folder that its Dockerfile copies, minus what .dockerignore
/// leaves out: (context-relative path, source path).
fn project_files(repo: &Repo, dir: &str, dockerfile: &str) -> Result<Vec<(String, Utf8PathBuf)>> {
    let folder = repo.root.join(dir);
    let ignore =
        Ignore::parse(&std::fs::read_to_string(folder.join(".dockerignore")).unwrap_or_default());
    let mut all = Vec::new();
    walk(&folder, &folder, &mut all)?;
    let mut out: Vec<(String, Utf8PathBuf)> = Vec::new();
    for source in copy_sources(dockerfile) {
        let source = source.trim_start_matches("./").trim_end_matches('/').to_string();
        if source == "wheels" || source.starts_with("wheels/") {
            continue;
        }
        let pattern = glob::Pattern::new(&source)
            .with_context(|| format!("{dir}/Dockerfile: COPY {source}: bad pattern"))?;
        let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
        let hits: Vec<&String> = all
            .iter()
            .filter(|rel| {
                pattern.matches_with(rel, options)
                    || source == "."
                    || rel.starts_with(&format!("{source}/"))
            })
            .collect();
        if hits.is_empty() {
            bail!("{dir}/Dockerfile: COPY {source}: no such file in {dir}; COPY paths are relative to the project folder");
        }
        for rel in hits {
            if !ignore.ignores(rel) && !out.iter().any(|(r, _)| r == rel) {
                out.push((rel.clone(), folder.join(rel)));
            }
        }
    }
    Ok(out)
}

fn walk(root: &Utf8Path, dir: &Utf8Path, out: &mut Vec<String>) -> Result<()> {
    for entry in dir.read_dir_utf8().with_context(|| format!("read {dir}"))? {
        let entry = entry?;
        if entry.file_name() == "__pycache__" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(root, entry.path(), out)?;
        } else {
            out.push(entry.path().strip_prefix(root).unwrap_or(entry.path()).as_str().to_string());
        }
    }
    Ok(())
}
