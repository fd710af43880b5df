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
#[derive(Clone)]
pub enum ProjectDockerfile {
    /// No Dockerfile: the template alone.
    None,
    /// Starts `FROM app`: built on top of the template's image.
    Extension(Extension),
    /// Starts from another image (`FROM python:3.11`): written to build the project by hand,
    /// so not used; the template is.
    Standalone { path: String, from: String },
}

/// A Dockerfile that extends the template's image, and the context xtask sends for it.
#[derive(Clone)]
pub struct Extension {
    /// `projects/x/Dockerfile`, for messages.
    pub path: String,
    pub text: String,
    /// The project folder, where the context's entries are read from.
    pub folder: Utf8PathBuf,
    /// What the context holds (sorted): the entries Docker would send of the folder
    /// (`.dockerignore` applied), less `.git` and xtask's own folders, and, when every path
    /// its `COPY`/`ADD` read is known, only those. Files and symlinks; the latter keep their
    /// target (a symlink is sent as one, never followed).
    pub entries: Vec<Entry>,
    /// Folders of the context, for empty ones a `COPY` may name.
    pub dirs: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub rel: String,
    pub link: Option<String>,
    /// Permission bits: a changed executable bit changes the image.
    pub mode: u32,
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
    let own =
        [&repo.work, &repo.cache].map(|d| d.strip_prefix(&folder).ok().map(ToString::to_string));
    let skip: Vec<String> = own.into_iter().flatten().collect();
    let (entries, dirs) = context(&folder, &ignore, &skip)?;
    check_copies(&text, &path, dir, &entries, &dirs)?;
    let (entries, dirs) = select(&text, entries, dirs);
    Ok(ProjectDockerfile::Extension(Extension { path, text, folder, entries, dirs }))
}

/// Writes the extension's context into the empty folder `dir`: its folders, its symlinks as
/// symlinks, its files hard-linked (copied across file systems).
pub fn write_context(ext: &Extension, dir: &Utf8Path) -> Result<()> {
    for d in &ext.dirs {
        fs::create_dir_all(dir.join(d))?;
    }
    for e in &ext.entries {
        let dest = dir.join(&e.rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        match &e.link {
            Some(target) => fs::os::unix::fs::symlink(target, &dest)?,
            None => {
                let source = ext.folder.join(&e.rel);
                if fs::hard_link(&source, &dest).is_err() {
                    fs::copy(&source, &dest)?;
                }
            }
        }
    }
    Ok(())
}

/// Only what the `COPY`/`ADD` lines read, when that is known: every source known (no
/// wildcard or variable), none through a symlink, and no `RUN --mount` (which reads the
/// context too). Otherwise everything.
fn select(
    text: &str,
    entries: Vec<Entry>,
    dirs: BTreeSet<String>,
) -> (Vec<Entry>, BTreeSet<String>) {
    let reads = context_reads(text);
    let sources: Vec<String> =
        reads.iter().flat_map(|r| r.sources.iter().map(|s| clean(s))).collect();
    let through_link = |s: &String| {
        entries
            .iter()
            .any(|e| e.link.is_some() && (*s == e.rel || s.starts_with(&format!("{}/", e.rel))))
    };
    let all = text.to_ascii_lowercase().contains("--mount")
        || reads.iter().any(|r| !r.complete)
        || sources.iter().any(|s| s == "." || through_link(s));
    if all {
        return (entries, dirs);
    }
    let wanted = |rel: &str| sources.iter().any(|s| rel == s || rel.starts_with(&format!("{s}/")));
    let entries: Vec<Entry> = entries.into_iter().filter(|e| wanted(&e.rel)).collect();
    let dirs = dirs.into_iter().filter(|d| wanted(d)).collect();
    (entries, dirs)
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

/// What Docker sends of `folder` as a build context, `.dockerignore` applied, less `.git`
/// (anywhere) and the folders in `skip` (xtask's own, relative to `folder`): the entries
/// (files and symlinks, sorted; sockets and devices are not sent) and the folders.
pub fn context(
    folder: &Utf8Path,
    ignore: &DockerIgnore,
    skip: &[String],
) -> Result<(Vec<Entry>, BTreeSet<String>)> {
    let mut found =
        Found { root: folder, ignore, skip, entries: Vec::new(), dirs: BTreeSet::new() };
    found.walk(folder)?;
    found.entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((found.entries, found.dirs))
}

struct Found<'a> {
    root: &'a Utf8Path,
    ignore: &'a DockerIgnore,
    skip: &'a [String],
    entries: Vec<Entry>,
    dirs: BTreeSet<String>,
}

impl Found<'_> {
    /// Folders that are excluded with no exception that could bring something back are not
    /// entered.
    fn walk(&mut self, dir: &Utf8Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
            let entry = entry?;
            let rel = entry.path().strip_prefix(self.root).unwrap_or(entry.path()).to_string();
            if entry.file_name() == ".git" || self.skip.contains(&rel) {
                continue;
            }
            let excluded = self.ignore.excludes(&rel);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !excluded {
                    self.dirs.insert(rel.clone());
                }
                if !excluded || self.ignore.has_exceptions() {
                    self.walk(entry.path())?;
                }
            } else if !excluded && (kind.is_file() || kind.is_symlink()) {
                let link = kind.is_symlink().then(|| fs::read_link(entry.path())).transpose()?;
                let link = link.map(|l| l.to_string_lossy().into_owned());
                let mode = fs::symlink_metadata(entry.path())?.permissions().mode() & 0o7777;
                self.entries.push(Entry { rel, link, mode });
            }
        }
        Ok(())
    }
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
            if cleaned == ".." || cleaned.starts_with("../") {
                bail!(
                    "{path} line {}: {} {source}: the path leaves the project folder; a project \
                     Dockerfile sees only its own folder (local packages are installed by xtask, \
                     so such a COPY is not needed)",
                    read.line,
                    read.keyword
                );
            }
            // A path through a symlinked folder is resolved by Docker inside the context: it
            // is not checked here (the link itself is, where it is named).
            let via_link = entries
                .iter()
                .any(|e| e.link.is_some() && cleaned.starts_with(&format!("{}/", e.rel)));
            if via_link {
                continue;
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
    let resolved = clean(&format!("{parent}/{target}"));
    resolved == ".." || resolved.starts_with("../")
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
