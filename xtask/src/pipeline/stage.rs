//! Stage: xtask's build context before it is written (Dockerfile, the layers xtask installs
//! from wheels), its size and fingerprint, and writing it. Images and dev images are staged alike;
//! a project's own Dockerfile is built afterwards, on its own folder (see `build`).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use super::fetch::Wheelhouse;
use super::plan::dockerfile::Extension;
use super::plan::{ProjectDockerfile, Target};
use super::wheels::LocalWheel;
use crate::files::fresh_dir;
use crate::hash::Sha256;
use crate::image::dockerignore::DockerIgnore;
use crate::model::Repo;
use crate::runtime::Runtime;
use crate::wheel::install::{install, Layout, Placed};

/// The default per-project Dockerfile.
pub const TEMPLATE: &str = "docker/project.Dockerfile";
/// Bumped when the staging layout changes, so old images are not taken for up to date.
const LAYOUT: &str = "xtask-context-3";
pub use crate::image::VENV;

/// The venv layout of the runtime's Python.
pub fn layout(runtime: &Runtime) -> Layout {
    Layout { venv: VENV.to_string(), python: runtime.python_version() }
}

/// One layer xtask writes: the wheels it installs (file, digest) and files placed as they are.
/// Wheels are installed only when the context is written: an up-to-date image never needs it.
pub struct Layer {
    pub name: &'static str,
    pub wheels: Vec<(Utf8PathBuf, Sha256)>,
    pub placed: Vec<Placed>,
}

impl Layer {
    /// The third-party wheels of a wheelhouse.
    pub fn third_party(house: &Wheelhouse) -> Layer {
        let wheels = house.wheels.iter().map(|w| (w.file.clone(), w.sha256.clone())).collect();
        Layer { name: "third-party", wheels, placed: Vec::new() }
    }

    /// Local wheels.
    fn local(name: &'static str, wheels: &[&LocalWheel]) -> Layer {
        let wheels = wheels.iter().map(|w| (w.file.clone(), w.sha256.clone())).collect();
        Layer { name, wheels, placed: Vec::new() }
    }

    /// Files placed as they are (the dev image's metadata).
    pub fn placed(name: &'static str, placed: Vec<Placed>) -> Layer {
        Layer { name, wheels: Vec::new(), placed }
    }

    /// What the layer holds, for fingerprints: wheel names and digests, placed files' digests.
    fn describe(&self) -> String {
        let mut text = format!("layer {}\n", self.name);
        for (file, sha) in &self.wheels {
            text += &format!("wheel {} {sha}\n", file_name(file));
        }
        for f in &self.placed {
            text += &format!("file {} {:o} {}\n", f.path, f.mode, Sha256::of(&f.data));
        }
        text
    }

    /// Every file of the layer, wheels installed into the venv of `layout`.
    fn files(&self, layout: &Layout) -> Result<Vec<Placed>> {
        let mut files = self.placed.clone();
        for (wheel, _) in &self.wheels {
            let installed = install(&fs::read(wheel)?, layout).map_err(anyhow::Error::msg);
            files.extend(installed.with_context(|| {
                format!("install {} into the {} layer", file_name(wheel), self.name)
            })?);
        }
        Ok(files)
    }
}

/// xtask's own build context before it is written: nothing of the repo, only the Dockerfile
/// and the layers xtask installs (third-party, libraries, project; or the dev layers).
pub struct Context {
    pub dockerfile: String,
    pub layout: Layout,
    pub layers: Vec<Layer>,
}

impl Context {
    /// Bytes of what goes in, before it is written: the wheels (compressed) and placed files.
    pub fn bytes(&self) -> Result<u64> {
        let mut total = self.dockerfile.len() as u64;
        for layer in &self.layers {
            for (wheel, _) in &layer.wheels {
                total += fs::metadata(wheel)?.len();
            }
            total += layer.placed.iter().map(|f| f.data.len() as u64).sum::<u64>();
        }
        Ok(total)
    }

    /// What decides the context's content.
    fn describe(&self) -> String {
        let mut text =
            format!("{LAYOUT}\n{}\n{} {}\n", self.dockerfile, self.layout.venv, self.layout.python);
        for layer in &self.layers {
            text += &layer.describe();
        }
        text
    }

    /// Writes the context into `dir` (emptied first): the Dockerfile and `layers/<name>/`.
    pub fn write(&self, dir: &Utf8Path) -> Result<()> {
        fresh_dir(dir)?;
        fs::write(dir.join("Dockerfile"), &self.dockerfile)?;
        for layer in &self.layers {
            let root = dir.join("layers").join(layer.name);
            // Never an empty folder: the legacy builder fails on a COPY of one followed by
            // another COPY (moby#40591); the venv's own folder makes a harmless entry.
            fs::create_dir_all(root.join("opt/venv"))?;
            write_tree(&root, &layer.files(&self.layout)?)?;
        }
        Ok(())
    }
}

/// Everything that goes into one project's image, before anything is written: xtask's
/// context for the template's image, and the project's own extension built on top of it.
pub struct ImageInputs<'t> {
    pub context: Context,
    pub extension: Option<&'t Extension>,
    pub build_args: Vec<(String, String)>,
    pub runtime: Runtime,
    /// Local packages: normalized name → repo folder (for the SBOM).
    pub local_dirs: BTreeMap<String, String>,
    /// Third-party packages: normalized name → the index they come from (for the SBOM).
    pub indexes: BTreeMap<String, String>,
}

impl<'t> ImageInputs<'t> {
    pub fn collect(
        repo: &Repo,
        target: &'t Target,
        house: &Wheelhouse,
        wheels: &[LocalWheel],
    ) -> Result<Self> {
        let pkg = &repo.graph.packages[target.idx];
        let (project, libs): (Vec<&LocalWheel>, Vec<&LocalWheel>) =
            wheels.iter().partition(|w| w.dir == pkg.dir);
        // An app in non-package mode has no wheel: its files go to /app, its working folder.
        let (own, workdir) = if pkg.manifest.package_mode {
            (Layer::local("project", &project), "/")
        } else {
            (Layer::placed("project", app_files(repo, &pkg.dir)?), APP)
        };
        let layers = vec![Layer::third_party(house), Layer::local("libs", &libs), own];
        let build_args = vec![
            ("RUNTIME_IMAGE".to_string(), target.runtime_image.clone()),
            ("PROJECT".to_string(), pkg.name.to_string()),
            ("VERSION".to_string(), pkg.version.clone().unwrap_or_default()),
            ("WORKDIR".to_string(), workdir.to_string()),
        ];
        let context = Context {
            dockerfile: repo.read_or_default(TEMPLATE)?,
            layout: layout(&target.runtime),
            layers,
        };
        let extension = match &target.dockerfile {
            ProjectDockerfile::Extension(e) => Some(e),
            _ => None,
        };
        let local_dirs = wheels.iter().map(|w| (w.name.to_string(), w.dir.clone())).collect();
        let indexes = target
            .third_party
            .pinned
            .iter()
            .map(|p| {
                let index = p.index.clone().or_else(|| p.files.iter().find_map(|f| f.url.clone()));
                (p.name.to_string(), index.unwrap_or_else(|| crate::net::PYPI.to_string()))
            })
            .collect();
        Ok(ImageInputs {
            context,
            extension,
            build_args,
            runtime: target.runtime.clone(),
            local_dirs,
            indexes,
        })
    }

    /// A hash of everything that decides the image's content. Wheels enter through their
    /// sha256; the extension's context through every entry Docker is sent (a symlink by its
    /// target, never followed).
    pub fn fingerprint(&self, base_image_id: &str) -> Result<String> {
        let mut input = format!("{base_image_id}\n{}", self.context.describe());
        for (k, v) in &self.build_args {
            input += &format!("arg {k}={v}\n");
        }
        if let Some(ext) = self.extension {
            input += &format!("extension {}\n{}\n", ext.path, ext.text);
            for d in &ext.dirs {
                input += &format!("dir {d:?}\n");
            }
            for e in &ext.entries {
                let content = match &e.link {
                    Some(target) => format!("link {target}"),
                    None => Sha256::of(&fs::read(ext.folder.join(&e.rel))?).to_string(),
                };
                input += &format!("entry {:?} {:o} {content}\n", e.rel, e.mode);
            }
        }
        Ok(Sha256::of(input.as_bytes()).hex().to_string())
    }

    /// Bytes that go in: xtask's context, and the extension's.
    pub fn bytes(&self) -> Result<u64> {
        let mut total = self.context.bytes()?;
        for (ext, e) in self.extension.iter().flat_map(|x| x.entries.iter().map(move |e| (x, e))) {
            total += fs::symlink_metadata(ext.folder.join(&e.rel))?.len();
        }
        Ok(total)
    }
}

/// Where an app in non-package mode is copied, and runs from.
pub const APP: &str = "/app";

/// Files of a non-package app's folder that are not its own: manifests, locks, Docker files.
const NOT_APP: &[&str] =
    &["pyproject.toml", "poetry.lock", "uv.lock", "pylock.toml", "Dockerfile", ".dockerignore"];

/// The files of the app at `dir`, placed under [`APP`]: what Docker would send of its folder
/// (`.dockerignore` applied, never `.git` or xtask's folders), less its manifest, locks,
/// Docker files and caches.
fn app_files(repo: &Repo, dir: &str) -> Result<Vec<Placed>> {
    use std::os::unix::fs::PermissionsExt;
    let folder = repo.root.join(dir);
    let shown =
        if dir == "." { ".dockerignore".to_string() } else { format!("{dir}/.dockerignore") };
    let text = match fs::read_to_string(folder.join(".dockerignore")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    let ignore = DockerIgnore::parse(&text)
        .map_err(|e| anyhow::anyhow!("{shown}: {e}; Docker refuses it too: fix the pattern"))?;
    let own =
        [&repo.work, &repo.cache].map(|d| d.strip_prefix(&folder).ok().map(ToString::to_string));
    let skip: Vec<String> = own.into_iter().flatten().collect();
    let (entries, _) = super::plan::dockerfile::context(&folder, &ignore, &skip)?;
    let mut files = Vec::new();
    for e in entries.into_iter().filter(|e| e.link.is_none()) {
        let parts: Vec<&str> = e.rel.split('/').collect();
        let cache =
            parts.iter().any(|p| ["__pycache__", ".venv", "venv", "node_modules"].contains(p));
        if cache
            || e.rel.ends_with(".pyc")
            || NOT_APP.contains(&e.rel.as_str())
            || e.rel.starts_with("pylock.")
        {
            continue;
        }
        let path = folder.join(&e.rel);
        let mode =
            if fs::metadata(&path)?.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
        files.push(Placed {
            path: format!("{}/{}", APP.trim_start_matches('/'), e.rel),
            data: fs::read(&path)?,
            mode,
        });
    }
    Ok(files)
}

fn file_name(path: &Utf8Path) -> String {
    path.file_name().unwrap_or_default().to_string()
}

/// Timestamp of every file xtask installs into a layer (1980-01-01, as in wheels), so an
/// unchanged package gives a byte-identical layer.
const FIXED_MTIME: u64 = 315_532_800;

/// Writes installed files under `root` with their modes, then gives everything below `root`
/// the fixed timestamp.
/// Every file is new (`root` was just emptied): created, never opened through an existing path.
fn write_tree(root: &Utf8Path, files: &[Placed]) -> Result<()> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    fs::create_dir_all(root)?;
    for f in files {
        if !crate::wheel::install::safe_path(&f.path) {
            anyhow::bail!("{:?} would leave {root}; refusing to write it", f.path);
        }
        let dest = root.join(&f.path);
        fs::create_dir_all(dest.parent().unwrap_or(root))?;
        let mut file =
            fs::OpenOptions::new().write(true).create_new(true).mode(f.mode).open(&dest)?;
        file.write_all(&f.data)?;
        fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(f.mode))?;
    }
    fix_times(root)
}

/// Sets the fixed timestamp on everything below `dir` (files and folders, deepest first).
fn fix_times(dir: &Utf8Path) -> Result<()> {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(FIXED_MTIME);
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fix_times(entry.path())?;
        } else {
            fs::File::options().write(true).open(entry.path())?.file().set_modified(time)?;
        }
    }
    fs::File::open(dir)?.file().set_modified(time).with_context(|| format!("set the time of {dir}"))
}
