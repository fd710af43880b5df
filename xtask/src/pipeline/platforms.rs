//! `build-image --platform`: one image per platform, each assembled on its platform's base
//! from the runtime image's index in its registry, with that platform's wheels from the lock,
//! and an image index over them. No emulation: whatever would need to run on a foreign
//! platform (a RUN step, an sdist to compile, a local package with compiled code) is refused.

use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use super::build::{self, Image, Options, Status};
use super::plan::Target;
use super::stage::ImageInputs;
use super::{assemble, fetch, wheels};
use crate::engine::ImageInfo;
use crate::image::rfc3339;
use crate::oci::base::{Base, Blobs};
use crate::oci::output::Assembled;
use crate::oci::platform::{self, Platform};
use crate::oci::registry::{self, Repository};
use crate::session::Session;

/// Builds every target for every platform and delivers each index to the OCI layout and/or
/// the registry; the image of this machine's platform is also loaded into the engine.
pub fn images(
    session: &Session,
    targets: &[Target],
    platforms: &[Platform],
    options: &Options,
) -> Result<Vec<Image>> {
    if options.oci.is_none() && !options.push {
        bail!(
            "an image for several platforms goes to an OCI layout or a registry (an engine loads \
             one platform): add --oci <dir> or --push --registry <host>"
        );
    }
    if options.builder == crate::cli::Builder::Engine {
        bail!("--platform works with the default builder (xtask), not --builder engine");
    }
    for target in targets {
        registry_of(&target.runtime_image)?;
    }
    let locals = build::local_wheels(session, targets)?;
    targets
        .iter()
        .zip(&locals)
        .map(|(t, local)| one(session, t, local, platforms, options))
        .collect()
}

/// One project for every platform.
fn one(
    session: &Session,
    target: &Target,
    local: &[wheels::LocalWheel],
    platforms: &[Platform],
    options: &Options,
) -> Result<Image> {
    let repo = session.repo()?;
    let t = Instant::now();
    session.ui.begin(&format!("build {} for {}", target.reference, names(platforms)));
    let bases = bases(session, &target.runtime_image, platforms)?;
    let assembled: Vec<(Platform, Assembled)> = platforms
        .iter()
        .zip(&bases)
        .map(|(p, base)| Ok((p.clone(), for_platform(session, target, local, p, base)?)))
        .collect::<Result<_>>()?;
    let pairs: Vec<(Platform, &Assembled)> =
        assembled.iter().map(|(p, a)| (p.clone(), a)).collect();
    let blobs = Blobs::new(&repo.cache);
    let mut digest = None;
    if let Some(dir) = &options.oci {
        let tag = target.reference.rsplit_once(':').map_or("latest", |(_, t)| t);
        let name = format!("{}:{tag}", target.name);
        crate::oci::output::oci_layout_index(&pairs, &blobs, &name, dir)?;
    }
    if options.push {
        digest = Some(assemble::push_index(session, &pairs, &target.reference)?);
    }
    session.ui.step(&format!("build {} for {}", target.reference, names(platforms)), t);
    // The row shows this machine's image (the first platform's when it is not among them).
    let host = platforms.iter().position(|p| Some(p) == Platform::host().as_ref());
    let image = &assembled[host.unwrap_or(0)].1;
    let (info, base) = figures(image, &blobs);
    let project = repo.graph.packages[target.idx].dir.clone();
    let reference = target.reference.clone();
    let (context_bytes, status, assembled, sbom) = (0, Status::Built, None, None);
    Ok(Image { project, reference, info, base, context_bytes, status, digest, assembled, sbom })
}

/// The image of `target` for `platform`, on `base`: that platform's wheels from the lock, the
/// local wheels (which must be pure Python on another machine's platform), and the project's
/// Dockerfile when xtask can apply it. This machine's platform is loaded into the engine too.
fn for_platform(
    session: &Session,
    target: &Target,
    local: &[wheels::LocalWheel],
    platform: &Platform,
    base: &Base,
) -> Result<Assembled> {
    let repo = session.repo()?;
    let pkg = &repo.graph.packages[target.idx];
    let foreign = Some(platform) != Platform::host().as_ref();
    let runtime = crate::runtime::Runtime {
        platform_machine: platform.machine().into(),
        ..target.runtime.clone()
    };
    let third_party = super::plan::resolve(repo, target.idx, super::plan::Groups::Main, &runtime)?;
    let house = fetch::provide(session, &third_party)?;
    if foreign {
        let files = house.wheels.iter().map(|w| (w.name.to_string(), &w.file));
        let files = files.chain(local.iter().map(|w| (w.name.to_string(), &w.file)));
        for (name, file) in files {
            refuse_other_machine(&name, file.file_name().unwrap_or_default(), platform)?;
        }
    }
    let target = Target { runtime, third_party, ..target.clone() };
    let inputs = ImageInputs::collect(repo, &target, &house, local)?;
    build::requirements_met(&inputs, &pkg.dir)?;
    let fingerprint = inputs.fingerprint(&format!("{}\nplatform {}", base.id, platform.name()))?;
    let labels = build::labels(session, &repo.root, pkg, &fingerprint);
    let created = rfc3339(build::created(session, &repo.root));
    let project = (pkg.name.as_str(), pkg.version.as_deref().unwrap_or_default());
    let image = assemble::assemble(session, &inputs, base, &labels, &created, project)?;
    if let Some(why) = image.engine_extension {
        bail!(
            "{}: the engine must build it ({why}), and it cannot for {} without emulation; \
             build without --platform, or keep to instructions xtask applies (COPY, ENV, \
             WORKDIR, USER, EXPOSE, ENTRYPOINT, CMD, LABEL)",
            pkg.dir,
            platform.name()
        );
    }
    if !foreign {
        assemble::load(session, &image.assembled, &target.reference, &[])?;
    }
    Ok(image.assembled)
}

/// The summary's figures of an assembled image and of its base: ids, sizes of the layer tars.
fn figures(image: &Assembled, blobs: &Blobs) -> (ImageInfo, ImageInfo) {
    let size_of = |ids: &[crate::hash::Sha256]| -> u64 {
        ids.iter().map(|d| fs_err::metadata(blobs.path(d)).map_or(0, |m| m.len())).sum()
    };
    let layers: Vec<String> = image.diff_ids.iter().map(crate::hash::Sha256::prefixed).collect();
    let info = ImageInfo {
        id: image.id().prefixed(),
        size: size_of(&image.diff_ids),
        layers: layers.clone(),
        labels: Default::default(),
    };
    let base = ImageInfo {
        id: String::new(),
        size: size_of(&image.diff_ids[..image.base_layers]),
        layers: layers[..image.base_layers].to_vec(),
        labels: Default::default(),
    };
    (info, base)
}

/// Each platform's base: the manifest for it in the index the runtime image names in its
/// registry.
fn bases(session: &Session, runtime_image: &str, platforms: &[Platform]) -> Result<Vec<Base>> {
    let repo = session.repo()?;
    let (host, name, tag) = registry_of(runtime_image)?;
    let registry = Repository::new(&host, &name);
    let (media_type, manifest) = registry
        .manifest(&tag)?
        .with_context(|| format!("the registry {host} has no {name}:{tag}"))?;
    let entries = platform::entries(&media_type, &manifest)?.with_context(|| {
        format!("{runtime_image} is a single-platform image; --platform needs an image index")
    })?;
    platforms
        .iter()
        .map(|p| {
            let (_, digest) = entries.iter().find(|(e, _)| e == p).with_context(|| {
                let have: Vec<String> = entries.iter().map(|(e, _)| e.name()).collect();
                format!("{runtime_image} has no {} image (it has {})", p.name(), have.join(", "))
            })?;
            let base = Base::from_registry(&repo.cache, &registry, digest)?;
            if base.platform() != p.name() {
                bail!("{runtime_image}: the {} entry's config says {}", p.name(), base.platform());
            }
            Ok(base)
        })
        .collect()
}

/// The registry, repository and tag of a runtime image: `--platform` reads each platform's
/// base from the index there.
fn registry_of(runtime_image: &str) -> Result<(String, String, String)> {
    registry::split(runtime_image).with_context(|| {
        format!(
            "--platform reads each platform's base from the registry that holds the runtime \
             image, but {runtime_image} names no registry; set [toolchain] python_image (or the \
             project's runtime_image) in docker/images.toml to a reference with its registry, \
             e.g. \"registry.example.org/python:3.11-slim\""
        )
    })
}

/// A wheel built on this machine (from an sdist, or a local package with compiled code) is
/// for this machine only.
fn refuse_other_machine(name: &str, file: &str, platform: &Platform) -> Result<()> {
    let tags = file.strip_suffix(".whl").and_then(|f| f.rsplit('-').next()).unwrap_or_default();
    let fits = tags.split('.').any(|t| t == "any" || t.ends_with(platform.machine()));
    if !fits {
        bail!(
            "{name} ({file}) is not for {}: the lock has no wheel of it for that platform, and \
             compiling it would need emulation; build that platform on a machine of its own",
            platform.name()
        );
    }
    Ok(())
}

fn names(platforms: &[Platform]) -> String {
    platforms.iter().map(Platform::name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wheels_for_the_platform_or_for_any_go_into_its_image() {
        let arm = Platform::parse("linux/arm64").unwrap();
        let ok = [
            "six-1.16.0-py2.py3-none-any.whl",
            "numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        ];
        for file in ok {
            refuse_other_machine("x", file, &arm).unwrap();
        }
        // Built here from an sdist, or a local package with compiled code.
        let err = refuse_other_machine("crc", "crc-1.0-cp311-cp311-linux_x86_64.whl", &arm)
            .unwrap_err()
            .to_string();
        assert!(err.contains("crc") && err.contains("linux/arm64") && err.contains("emulation"));
        let amd = Platform::parse("linux/amd64").unwrap();
        refuse_other_machine("crc", "crc-1.0-cp311-cp311-linux_x86_64.whl", &amd).unwrap();
    }
}
