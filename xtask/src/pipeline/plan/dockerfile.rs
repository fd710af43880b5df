//! A project's own Dockerfile: an extension (`FROM app`), a standalone file (not used, and
//! said so), or none; an extension's build context (its project folder minus `.dockerignore`,
//! exactly as Docker sends it) and a check of its `COPY` sources before anything slow.

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use crate::image::dockerfile::{context_reads, first_from};
use crate::image::dockerignore::DockerIgnore;
use crate::model::Repo;

/// What a project's `Dockerfile` is to xtask.
pub enum ProjectDockerfile {
    /// No Dockerfile: the template alone.
    None,
    /// Starts `FROM app`: built on top of the template's image.
    Extension(Extension),
    /// Starts from another image (`FROM python:3.11`): written to build the project by hand,
    /// so not used; the template is.
    Standalone { path: String, from: String },
}

/// A Dockerfile that extends the template's image, and the context Docker will send for it.
pub struct Extension {
    /// `projects/x/Dockerfile`, for messages.
    pub path: String,
    pub text: String,
    /// The project folder: the extension's build context.
    pub folder: Utf8PathBuf,
    /// Every entry Docker sends (sorted, `.dockerignore` applied): files and symlinks, the
    /// latter with their target (Docker sends a symlink as a symlink, never its target).
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub rel: String,
    pub link: Option<String>,
}

/// Reads and checks the Dockerfile of the project at `dir`.
pub fn read(repo: &Repo, dir: &str) -> Result<ProjectDockerfile> {
    let folder = repo.root.join(dir);
    let path = format!("{dir}/Dockerfile");
    let Some(text) = read_inside(&folder, "Dockerfile", &path)? else {
        return Ok(ProjectDockerfile::None);
    };
    match first_from(&text) {
        Some((image, _)) if image.eq_ignore_ascii_case("app") => {}
        Some((image, _)) => return Ok(ProjectDockerfile::Standalone { path, from: image }),
        None => bail!("{path} has no FROM; an extension of the project's image starts `FROM app`"),
    }
    let ignore_path = format!("{dir}/.dockerignore");
    let ignore_text = read_inside(&folder, ".dockerignore", &ignore_path)?.unwrap_or_default();
    let ignore = DockerIgnore::parse(&ignore_text).map_err(|e| {
        anyhow::anyhow!("{ignore_path}: {e}; Docker refuses it too: fix the pattern")
    })?;
    let (entries, dirs) = context(&folder, &ignore)?;
    check_copies(&text, &path, dir, &entries, &dirs)?;
    Ok(ProjectDockerfile::Extension(Extension { path, text, folder, entries }))
}

/// A file of the project folder, or `None` when there is none. A symlink that leaves the
/// folder is refused, never followed (Docker refuses to send one too).
fn read_inside(folder: &Utf8Path, name: &str, shown: &str) -> Result<Option<String>> {
    let path = folder.join(name);
    let Ok(meta) = fs::symlink_metadata(&path) else { return Ok(None) };
    if meta.file_type().is_symlink() {
        let target = path.canonicalize_utf8().ok();
        let inside = target
            .as_ref()
            .zip(folder.canonicalize_utf8().ok())
            .is_some_and(|(t, f)| t.starts_with(f));
        if !inside {
            bail!(
                "{shown} is a symlink to a file outside the project folder; xtask never follows \
                 one (neither does Docker): make it a regular file"
            );
        }
    }
    Ok(Some(fs::read_to_string(&path).with_context(|| format!("read {shown}"))?))
}

/// What Docker sends of `folder` as a build context, `.dockerignore` applied: the entries
/// (files and symlinks, sorted) and the folders.
pub fn context(folder: &Utf8Path, ignore: &DockerIgnore) -> Result<(Vec<Entry>, BTreeSet<String>)> {
    let mut entries = Vec::new();
    let mut dirs = BTreeSet::new();
    walk(folder, folder, ignore, &mut entries, &mut dirs)?;
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((entries, dirs))
}

/// Folders that are excluded with no exception that could bring something back are not
/// entered.
fn walk(
    root: &Utf8Path,
    dir: &Utf8Path,
    ignore: &DockerIgnore,
    entries: &mut Vec<Entry>,
    dirs: &mut BTreeSet<String>,
) -> Result<()> {
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let entry = entry?;
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path()).as_str().to_string();
        let excluded = ignore.excludes(&rel);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !excluded {
                dirs.insert(rel.clone());
            }
            if !excluded || ignore.has_exceptions() {
                walk(root, entry.path(), ignore, entries, dirs)?;
            }
        } else if !excluded {
            let link = kind.is_symlink().then(|| fs::read_link(entry.path())).transpose()?;
            let link = link.map(|l| l.to_string_lossy().into_owned());
            entries.push(Entry { rel, link });
        }
    }
    Ok(())
}

/// Every literal source of a `COPY`/`ADD` must be in the context: found here, before the
/// fetch and the wheels, instead of at the end of a build.
fn check_copies(
    text: &str,
    path: &str,
    dir: &str,
    entries: &[Entry],
    dirs: &BTreeSet<String>,
) -> Result<()> {
    for read in context_reads(text) {
        for source in &read.sources {
            let cleaned = clean(source);
            if cleaned == "." {
                continue;
            }
            if cleaned.starts_with("..") || source.starts_with('/') && cleaned.is_empty() {
                bail!(
                    "{path} line {}: {} {source}: the path leaves the project folder; a project \
                     Dockerfile sees only its own folder (local packages are installed by xtask, \
                     so such a COPY is not needed)",
                    read.line,
                    read.keyword
                );
            }
            let link = entries.iter().find(|e| e.rel == cleaned).and_then(|e| e.link.as_ref());
            if let Some(target) = link.filter(|t| leaves(&cleaned, t)) {
                bail!(
                    "{path} line {}: {} {source}: it is a symlink to {target:?}, outside the \
                     project folder; Docker resolves symlinks inside the context, where it is \
                     not, and xtask never follows one out: copy the file into {dir}",
                    read.line,
                    read.keyword
                );
            }
            let found = dirs.contains(&cleaned)
                || entries
                    .iter()
                    .any(|e| e.rel == cleaned || e.rel.starts_with(&format!("{cleaned}/")));
            if !found {
                bail!(
                    "{path} line {}: {} {source}: no such file in {dir}, or .dockerignore leaves \
                     it out; COPY paths are relative to the project folder",
                    read.line,
                    read.keyword
                );
            }
        }
    }
    Ok(())
}

/// Whether a symlink at `rel` pointing at `target` leads out of the folder.
fn leaves(rel: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let parent = rel.rsplit_once('/').map_or("", |(d, _)| d);
    clean(&format!("{parent}/{target}")).starts_with("..")
}

/// A source path as Docker resolves it against the context root: `./a/../b/` is `b`.
fn clean(source: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}
