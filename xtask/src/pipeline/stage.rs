//! Stage: xtask's build context before it is written (Dockerfile, wheel folders, installed
//! layers), its size and fingerprint, and writing it. Images and dev images are staged alike;
//! a project's own Dockerfile is built afterwards, on its own folder (see `build`).

use anyhow::{Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use super::fetch::Wheelhouse;
use super::plan::dockerfile::Extension;
use super::plan::{ProjectDockerfile, Target};
use super::wheels::LocalWheel;
use crate::files::{fresh_dir, link_or_copy};
use crate::hash::Sha256;
use crate::model::Repo;
use crate::runtime::Runtime;
use crate::wheel::install::{install, Layout, Placed};

/// The default per-project Dockerfile.
pub const TEMPLATE: &str = "docker/project.Dockerfile";
/// Bumped when the staging layout changes, so old images are not taken for up to date.
const LAYOUT: &str = "xtask-context-2";
/// Where the templates put the venv.
pub const VENV: &str = "/opt/venv";

/// The venv layout of the runtime's Python.
pub fn layout(runtime: &Runtime) -> Layout {
    Layout { venv: VENV.to_string(), python: runtime.python_version() }
}

/// One folder of `wheels/`: its wheels (file name, source path) and hash-pinned requirements.
pub struct WheelGroup {
    pub name: &'static str,
    pub files: Vec<(String, Utf8PathBuf)>,
    pub requirements: String,
}

impl WheelGroup {
    /// The third-party wheels of a wheelhouse.
    pub fn third_party(house: &Wheelhouse) -> WheelGroup {
        let files = house.wheels.iter().map(|w| (file_name(&w.file), w.file.clone())).collect();
        WheelGroup { name: "third-party", files, requirements: house.requirements_text.clone() }
    }

    /// Local wheels, each pinned by version and hash.
    fn local(name: &'static str, wheels: &[&LocalWheel]) -> WheelGroup {
        let mut group = WheelGroup { name, files: Vec::new(), requirements: String::new() };
        for w in wheels {
            group.files.push((file_name(&w.file), w.file.clone()));
            let version = crate::wheel::WheelName::parse(&file_name(&w.file)).map(|n| n.version);
            let version = version.unwrap_or_default();
            group.requirements += &format!("{}=={version} --hash=sha256:{}\n", w.name, w.sha256);
        }
        group
    }
}

/// xtask's own build context before it is written: nothing of the repo but wheels and the
/// files xtask installed from them.
pub struct Context {
    pub dockerfile: String,
    pub groups: Vec<WheelGroup>,
    /// Local packages installed by xtask (`libs`, `project`, `dev`): files COPYed as layers.
    pub layers: Vec<(&'static str, Vec<Placed>)>,
}

impl Context {
    /// Bytes the context holds, without writing it.
    pub fn bytes(&self) -> Result<u64> {
        let mut total = self.dockerfile.len() as u64;
        for (_, path) in self.groups.iter().flat_map(|g| g.files.iter()) {
            total += fs::metadata(path)?.len();
        }
        let layers =
            self.layers.iter().flat_map(|(_, files)| files.iter().map(|f| f.data.len() as u64));
        Ok(total
            + layers.sum::<u64>()
            + self.groups.iter().map(|g| g.requirements.len() as u64).sum::<u64>())
    }

    /// Writes the context into `dir` (emptied first); wheels are hard links into the caches.
    pub fn write(&self, dir: &Utf8Path) -> Result<()> {
        fresh_dir(dir)?;
        fs::write(dir.join("Dockerfile"), &self.dockerfile)?;
        for g in &self.groups {
            let gdir = dir.join("wheels").join(g.name);
            fs::create_dir_all(&gdir)?;
            fs::write(gdir.join("requirements.txt"), &g.requirements)?;
            for (name, src) in &g.files {
                link_or_copy(src, &gdir.join(name))?;
            }
        }
        for (group, files) in &self.layers {
            write_tree(&dir.join("layers").join(group), files)?;
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
        let layout = layout(&target.runtime);
        let layers = vec![
            ("libs", installed(&libs, &layout, "libs")?),
            ("project", installed(&project, &layout, "project")?),
        ];
        let build_args = vec![
            ("RUNTIME_IMAGE".to_string(), target.runtime_image.clone()),
            ("PROJECT".to_string(), pkg.name.to_string()),
            ("VERSION".to_string(), pkg.version.clone().unwrap_or_default()),
        ];
        let groups = vec![
            WheelGroup::third_party(house),
            WheelGroup::local("libs", &libs),
            WheelGroup::local("project", &project),
        ];
        let context = Context { dockerfile: repo.read_or_default(TEMPLATE)?, groups, layers };
        let extension = match &target.dockerfile {
            ProjectDockerfile::Extension(e) => Some(e),
            _ => None,
        };
        Ok(ImageInputs { context, extension, build_args })
    }

    /// A hash of everything that decides the image's content. Wheels enter through their
    /// sha256 in the requirements texts; the extension's context through every entry Docker
    /// sends (a symlink by its target, never followed).
    pub fn fingerprint(&self, base_image_id: &str) -> Result<String> {
        let mut input = format!("{LAYOUT}\n{base_image_id}\n{}\n", self.context.dockerfile);
        for (k, v) in &self.build_args {
            input += &format!("arg {k}={v}\n");
        }
        for g in &self.context.groups {
            let names: Vec<&str> = g.files.iter().map(|(n, _)| n.as_str()).collect();
            input += &format!("group {}\n{}\n{}\n", g.name, names.join(" "), g.requirements);
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

    /// Bytes the engine is sent: xtask's context, and the extension's.
    pub fn bytes(&self) -> Result<u64> {
        let mut total = self.context.bytes()?;
        for (ext, e) in self.extension.iter().flat_map(|x| x.entries.iter().map(move |e| (x, e))) {
            total += fs::symlink_metadata(ext.folder.join(&e.rel))?.len();
        }
        Ok(total)
    }
}

/// The files a group of local wheels installs into the venv.
fn installed(wheels: &[&LocalWheel], layout: &Layout, group: &str) -> Result<Vec<Placed>> {
    let mut placed = Vec::new();
    for w in wheels {
        let files = install(&fs::read(&w.file)?, layout).map_err(anyhow::Error::msg);
        placed.extend(
            files.with_context(|| {
                format!("install {} into the {group} layer", file_name(&w.file))
            })?,
        );
    }
    Ok(placed)
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
