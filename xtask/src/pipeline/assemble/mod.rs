//! Assemble: the image written by xtask itself, no Dockerfile build. Its layers (venv and user,
//! third-party, libraries, project, SBOM, and a project Dockerfile's COPY steps when xtask can
//! apply it) are deterministic tars; its config is the base's plus the settings; it goes to
//! the engine (`docker load` of the layers it lacks), to an OCI layout folder, or straight to a
//! registry. A project Dockerfile with RUN steps is built by the engine on the assembled image.

pub mod bytecode;
pub mod extension;
pub mod layers;
pub mod sbom;

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use self::extension::Applied;
use self::layers::{Content, UID};
use super::stage::{layout, ImageInputs, APP};
use crate::oci::base::{Base, Blobs};
use crate::oci::image::{self, Settings};
use crate::oci::layer::Tree;
use crate::oci::output::Assembled;
use crate::oci::platform::Platform;
use crate::session::Session;

/// An assembled image and what remains to do with it.
pub struct Image {
    pub assembled: Assembled,
    /// Why the engine must build the project's Dockerfile on top, if it must.
    pub engine_extension: Option<String>,
    pub sbom: Vec<u8>,
}

/// The base image, read once per image id: from the engine (`docker save`) into the blob store.
pub fn base(session: &Session, reference: &str) -> Result<Base> {
    let repo = session.repo()?;
    let engine = session.engine()?;
    let id = engine.require_image(&session.sh, reference)?;
    if let Some(base) = Base::cached(&repo.cache, &id)? {
        return Ok(base);
    }
    let tmp = repo.scratch("base")?;
    let archive = tmp.join("base.tar");
    let result = engine
        .save(&session.sh, &id, &archive)
        .and_then(|()| Base::from_archive(&repo.cache, &id, &archive));
    let _ = fs::remove_dir_all(&tmp);
    result.with_context(|| format!("read the base image {reference}"))
}

/// Assembles the image of `inputs` on `base`, labelled `labels`, made at `created` (RFC 3339).
pub fn assemble(
    session: &Session,
    inputs: &ImageInputs,
    base: &Base,
    labels: &[(String, String)],
    created: &str,
    project: (&str, &str),
) -> Result<Image> {
    let repo = session.repo()?;
    let layout = inputs.context.layout.clone();
    let runtime = &inputs.runtime;
    let minor = runtime.python_minor();
    let facts = layers::facts(&repo.cache, base)?;
    let mut contents: Vec<(String, Content)> = vec![(
        "venv and user".into(),
        Content::tree(layers::venv_and_user(&facts, &layout, &runtime.python_full_version)?),
    )];
    // An app's files go with the project's layer; the project Dockerfile's COPY steps and the
    // SBOM (which changes with any package) make the last layer, so a library edit leaves the
    // project's layer as it was.
    let mut app = Tree::new();
    for layer in &inputs.context.layers {
        for f in &layer.placed {
            app.file(&f.path, f.mode, f.data.clone())?;
        }
    }
    let sbom = sbom_of(inputs, project, created)?;
    let mut last = Tree::new();
    last.file(sbom::PATH, 0o644, sbom.clone())?;
    let mut settings = settings(base, &layout.venv, inputs, labels);
    let mut engine_extension = None;
    if let Some(ext) = inputs.extension {
        match extension::apply(ext, settings.clone(), &dirs_of())? {
            Applied::Done { tree, settings: applied } => {
                settings = *applied;
                last.extend(tree);
            }
            Applied::Engine(why) => engine_extension = Some(format!("{}: {why}", ext.path)),
        }
    }
    let count = inputs.context.layers.len();
    for (n, layer) in inputs.context.layers.iter().enumerate() {
        let tree = if n + 1 == count { std::mem::take(&mut app) } else { Tree::new() };
        if !layer.wheels.is_empty() || !tree.is_empty() {
            contents.push((layer.name.to_string(), Content { wheels: &layer.wheels, tree }));
        }
    }
    contents.push(("settings files and SBOM".into(), Content::tree(last)));
    let own = layers::write(session, &layout, minor, &runtime.python_full_version, contents)?;
    let config = image::config(base, &own, &settings, created)?;
    let mut diff_ids = base.diff_ids.clone();
    diff_ids.extend(own.iter().map(|l| l.diff_id.clone()));
    let assembled = Assembled { config, diff_ids, base_layers: base.diff_ids.len() };
    Ok(Image { assembled, engine_extension, sbom })
}

/// Folders the image will have, for deciding where a COPY without a trailing slash goes.
fn dirs_of() -> std::collections::BTreeSet<String> {
    [
        "",
        "etc",
        "opt",
        "opt/venv",
        "usr",
        "usr/local",
        "usr/local/bin",
        "srv",
        "tmp",
        "var",
        "home",
        APP.trim_start_matches('/'),
    ]
    .iter()
    .map(|d| (*d).to_string())
    .collect()
}

/// The base's settings with the venv first on PATH, the user `app`, the working folder and
/// the labels.
fn settings(
    base: &Base,
    venv: &str,
    inputs: &ImageInputs,
    labels: &[(String, String)],
) -> Settings {
    let env = base.config["config"]["Env"].as_array().cloned().unwrap_or_default();
    let path = env
        .iter()
        .filter_map(|e| e.as_str())
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let workdir = inputs.build_args.iter().find(|(k, _)| k == "WORKDIR").map(|(_, v)| v.clone());
    Settings {
        env: vec![
            ("PATH".into(), format!("{venv}/bin:{path}")),
            ("VIRTUAL_ENV".into(), venv.to_string()),
            ("PYTHONUNBUFFERED".into(), "1".into()),
        ],
        user: Some(format!("{UID}:{UID}")),
        workdir,
        labels: labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        ..Settings::default()
    }
}

/// The SBOM of every wheel the image installs.
fn sbom_of(inputs: &ImageInputs, project: (&str, &str), created: &str) -> Result<Vec<u8>> {
    let mut components = Vec::new();
    for layer in &inputs.context.layers {
        for (file, sha) in &layer.wheels {
            let parsed = crate::wheel::WheelName::parse(file.file_name().unwrap_or_default())
                .with_context(|| format!("{file} is not a wheel"))?;
            let local = inputs.local_dirs.get(&parsed.name.to_string()).cloned();
            components.push(sbom::Component {
                name: parsed.name.to_string(),
                version: parsed.version.clone(),
                wheel: file.clone(),
                sha256: sha.clone(),
                index: if local.is_some() {
                    None
                } else {
                    inputs.indexes.get(&parsed.name.to_string()).cloned()
                },
                folder: local,
            });
        }
    }
    sbom::document(project, created, &components)
}

/// Loads the assembled image into the engine under `tag`. The engine has the base (it was read
/// from there) and every layer of `known` (the diff ids of an image it holds, such as the
/// previous build under this tag) that starts the same chain: only the layers after those
/// travel.
pub fn load(session: &Session, image: &Assembled, tag: &str, known: &[String]) -> Result<()> {
    let repo = session.repo()?;
    let blobs = Blobs::new(&repo.cache);
    let tmp = repo.scratch("load")?;
    let archive = tmp.join("image.tar");
    let shared = image.diff_ids.iter().zip(known).take_while(|(a, b)| a.prefixed() == **b).count();
    let engine = session.engine()?;
    // Podman refuses an archive without every layer.
    let from = if engine.loads_partial_archives() { shared.max(image.base_layers) } else { 0 };
    let result =
        crate::oci::output::docker_archive(image, &blobs, &[tag.to_string()], from, &archive)
            .and_then(|()| engine.load(&session.sh, &archive));
    let _ = fs::remove_dir_all(&tmp);
    result
}

/// Pushes the assembled image to its registry over the distribution API (no engine): every
/// blob it lacks, then the manifest under `tag`. Returns the manifest digest.
pub fn push(session: &Session, image: &Assembled, reference: &str) -> Result<String> {
    let repo = session.repo()?;
    let blobs = Blobs::new(&repo.cache);
    let (host, name, tag) = crate::oci::registry::split(reference)
        .with_context(|| format!("{reference} names no registry to push to"))?;
    let registry = crate::oci::registry::Repository::new(&host, &name);
    push_image(&registry, &blobs, image, Some(&tag)).map(|(digest, _)| digest)
}

/// Pushes one image per platform (each manifest by its digest), then the index over them
/// under the reference's tag. Returns the index's digest.
pub fn push_index(
    session: &Session,
    images: &[(Platform, &Assembled)],
    reference: &str,
) -> Result<String> {
    let blobs = Blobs::new(&session.repo()?.cache);
    let (host, name, tag) = crate::oci::registry::split(reference)
        .with_context(|| format!("{reference} names no registry to push to"))?;
    let registry = crate::oci::registry::Repository::new(&host, &name);
    let mut manifests = Vec::new();
    for (platform, image) in images {
        let (digest, size) = push_image(&registry, &blobs, image, None)?;
        let digest = crate::hash::Sha256::from_prefixed(&digest).context("a manifest digest")?;
        manifests.push((platform.clone(), digest, size));
    }
    let index = crate::oci::platform::index(&manifests)?;
    registry.push_manifest(&tag, crate::oci::platform::INDEX_TYPE, &index)
}

/// Every blob of `image` the registry lacks, then its manifest under `tag` (or its digest).
/// Returns the manifest's digest and size.
fn push_image(
    registry: &crate::oci::registry::Repository,
    blobs: &Blobs,
    image: &Assembled,
    tag: Option<&str>,
) -> Result<(String, u64)> {
    let (manifest, layers) = image.manifest(blobs)?;
    for layer in &layers {
        registry.push_blob(&layer.digest, &blobs.get(&layer.digest)?)?;
    }
    registry.push_blob(&image.id(), &image.config)?;
    let by_digest = crate::hash::Sha256::of(&manifest).prefixed();
    let digest =
        registry.push_manifest(tag.unwrap_or(&by_digest), image::MANIFEST_TYPE, &manifest)?;
    Ok((digest, manifest.len() as u64))
}

/// Writes the image into the OCI layout folder `dir` under `tag`, with its SBOM beside it.
pub fn to_layout(
    session: &Session,
    image: &Image,
    tag: &str,
    dir: &Utf8Path,
) -> Result<Utf8PathBuf> {
    let blobs = Blobs::new(&session.repo()?.cache);
    crate::oci::output::oci_layout(&image.assembled, &blobs, tag, dir)?;
    let sbom = dir.join(format!("{}.sbom.cdx.json", tag.replace(['/', ':'], "_")));
    crate::files::write_atomic(&sbom, &image.sbom)?;
    Ok(sbom)
}

/// The layout of the runtime's venv.
pub fn venv_layout(runtime: &crate::runtime::Runtime) -> crate::wheel::install::Layout {
    layout(runtime)
}
