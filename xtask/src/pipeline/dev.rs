//! Dev: a project's environment (runtime base, third-party packages of every group, local
//! packages' metadata pointing at mounted sources) and the container that runs in it.

use std::io::{Cursor, Write};

use anyhow::{Context as _, Result};
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

use super::fetch;
use super::plan::{self, Groups};
use super::stage::{self, Context, Layer};
use crate::engine::{Build, Container};
use crate::files::owner_of;
use crate::hash::Sha256;
use crate::model::graph::Package;
use crate::runtime::Runtime;
use crate::session::Session;
use crate::wheel::install::{install, Placed};

const TEMPLATE: &str = "docker/dev.Dockerfile";
/// Where the repo's packages are mounted in the container (the same path locks are made at).
pub const MOUNT: &str = "/repo";

/// A project's dev image, ready to run.
pub struct DevImage {
    pub tag: String,
    /// The project's closure, dependencies first, the project last.
    pub packages: Vec<usize>,
    pub project: usize,
}

/// Builds the dev image of package `idx` unless one with the same inputs exists. Its inputs
/// are manifests and locks, never library code.
pub fn image(session: &Session, idx: usize) -> Result<DevImage> {
    let repo = session.repo()?;
    let closure = plan::closure(repo, idx)?;
    let packages: Vec<usize> = closure.order.iter().map(|(i, _)| *i).collect();
    let pkg = &repo.graph.packages[idx];
    let python = plan::python::of_project(session, idx, plan::python::Read::Image)?;
    let (runtime_image, runtime) = (python.image, python.runtime);
    let resolved = plan::resolve(repo, idx, Groups::All, &runtime)?;
    let dockerfile = repo.read_or_default(TEMPLATE)?;
    let members: Vec<&Package> = packages.iter().map(|&i| &repo.graph.packages[i]).collect();
    let layer = metadata_layer(&runtime, &members)?;
    let base_id = session.engine()?.require_image(&session.sh, &runtime_image)?;
    // The third-party set and the metadata layer are what the image holds; hash them before
    // fetching, so that a warm run needs no lock check or wheelhouse scan.
    let mut input = format!("{dockerfile}\n{base_id}\nxtask-installs-third-party\n");
    for p in &resolved.pinned {
        input += &format!("{}=={} {:?}\n", p.name, p.version, p.files);
    }
    for f in &layer {
        input += &format!("{} {:o} {}\n", f.path, f.mode, Sha256::of(&f.data));
    }
    let tag = format!("xtask-dev/{}:{}", pkg.name, Sha256::of(input.as_bytes()).short(16));
    if session.engine()?.image_id(&session.sh, &tag)?.is_none() {
        let house = fetch::provide(session, &resolved)?;
        let context = Context {
            dockerfile,
            layout: stage::layout(&runtime),
            layers: vec![Layer::third_party(&house), Layer::placed("dev", layer)],
        };
        let (dir, _lock) = repo.context_dir(&format!("{}-dev", pkg.name))?;
        context.write(&dir)?;
        let build = Build {
            context: dir,
            tag: Some(tag.clone()),
            build_args: vec![("RUNTIME_IMAGE".into(), runtime_image)],
            ..Build::default()
        };
        session
            .engine()?
            .build(&build, &mut |_| {})
            .with_context(|| format!("build the dev image of {} from {TEMPLATE}", pkg.dir))?;
    }
    Ok(DevImage { tag, packages, project: idx })
}

/// The container that runs `command` (an interactive shell when empty) in the dev image, as
/// the owner of the project folder, with every package of the closure mounted live.
pub fn container(session: &Session, dev: &DevImage, command: &[String]) -> Result<Container> {
    let repo = session.repo()?;
    let project = &repo.graph.packages[dev.project];
    let mut c = Container::online(&dev.tag).user(&owner_of(&repo.root.join(&project.dir))?);
    let members = dev.packages.iter().map(|&i| &repo.graph.packages[i]);
    for pkg in members.clone() {
        c = c.mount(&repo.root.join(&pkg.dir), &format!("{MOUNT}/{}", pkg.dir));
    }
    // `pytest` alone runs the tests of the project and of every local package it uses.
    let tests: Vec<String> = members
        .filter(|p| repo.root.join(&p.dir).join("tests").is_dir())
        .map(|p| format!("{MOUNT}/{}/tests", p.dir))
        .collect();
    // pytest splits PYTEST_ADDOPTS, then the testpaths value, as a POSIX shell would: each
    // path is quoted for the second split and the whole option for the first, so a folder
    // named `hello world` stays one path.
    let paths: Vec<String> = tests.iter().map(|t| shell_quote(t)).collect();
    let testpaths = shell_quote(&format!("testpaths={}", paths.join(" ")));
    let addopts =
        format!("PYTEST_ADDOPTS=-p no:cacheprovider --import-mode=importlib -o {testpaths}");
    c = c.env(&addopts).workdir(&format!("{MOUNT}/{}", project.dir));
    Ok(if command.is_empty() {
        c.tty().command(["bash"])
    } else {
        c.command(command.iter().cloned())
    })
}

/// `s` as one word of a POSIX shell (and of Python's `shlex.split`).
fn shell_quote(s: &str) -> String {
    let plain =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-=:".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// Metadata, console scripts and a .pth file per local package, installed from a tiny
/// generated wheel so the layout is the same as a real install.
fn metadata_layer(runtime: &Runtime, packages: &[&Package]) -> Result<Vec<Placed>> {
    let layout = stage::layout(runtime);
    let mut out = Vec::new();
    for pkg in packages {
        let raw = pkg.manifest.name.clone().unwrap_or_else(|| pkg.name.to_string());
        let version = pkg.version.clone().unwrap_or_else(|| "0".into());
        let dist = format!("{}-{version}", pkg.name.as_dist());
        let roots: Vec<String> = if pkg.manifest.source_roots.is_empty() {
            vec![format!("{MOUNT}/{}", pkg.dir)]
        } else {
            pkg.manifest.source_roots.iter().map(|r| format!("{MOUNT}/{}/{r}", pkg.dir)).collect()
        };
        let mut entry_points = String::from("[console_scripts]\n");
        for (name, target) in &pkg.manifest.scripts {
            entry_points += &format!("{name} = {target}\n");
        }
        let wheel_info =
            "Wheel-Version: 1.0\nGenerator: xtask dev\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
        let files = [
            (format!("xtask_dev_{}.pth", pkg.name.as_dist()), roots.join("\n") + "\n"),
            (
                format!("{dist}.dist-info/METADATA"),
                format!("Metadata-Version: 2.1\nName: {raw}\nVersion: {version}\n"),
            ),
            (format!("{dist}.dist-info/WHEEL"), wheel_info.to_string()),
            (format!("{dist}.dist-info/entry_points.txt"), entry_points),
        ];
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in &files {
            zip.start_file(name.as_str(), SimpleFileOptions::default())?;
            zip.write_all(text.as_bytes())?;
        }
        let wheel = zip.finish()?.into_inner();
        let placed = install(&wheel, &layout).map_err(anyhow::Error::msg);
        out.extend(placed.with_context(|| format!("dev metadata of {}", pkg.dir))?);
    }
    Ok(out)
}
