//! Build: the images of planned targets (fetch, wheels, stage, engine build), a true no-op when
//! the tagged image carries the same fingerprint, and pushing them.

use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use camino::Utf8Path;
use fs_err as fs;

use super::fetch::{self, Wheelhouse};
use super::plan::dockerfile::{write_context, Extension};
use super::plan::Target;
use super::stage::{ImageInputs, TEMPLATE};
use super::{assemble, wheels};
use crate::engine::{self, Build, ImageInfo};
use crate::git::Git;
use crate::image::dockerfile::rebase;
use crate::image::rfc3339;
use crate::model::graph::Package;
use crate::session::Session;

/// Whether an image was built by this run or already up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Built,
    UpToDate,
}

/// One project's image after the build.
#[derive(Debug, Clone)]
pub struct Image {
    /// The project's folder.
    pub project: String,
    pub reference: String,
    pub info: ImageInfo,
    pub base: ImageInfo,
    pub context_bytes: u64,
    pub status: Status,
    /// The registry's digest, once pushed.
    pub digest: Option<String>,
    /// The image as xtask assembled it (pushed over the registry API, without the engine).
    pub assembled: Option<crate::oci::output::Assembled>,
    /// Where the image's SBOM was written, when xtask assembled it.
    pub sbom: Option<camino::Utf8PathBuf>,
}

/// Options of a build that do not change what goes into the image.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Build even when up to date, without the engine's layer cache.
    pub no_cache: bool,
    pub builder: crate::cli::Builder,
    /// An OCI image layout folder to write every image into as well.
    pub oci: Option<camino::Utf8PathBuf>,
    /// The images go to their registry: one it already holds with the same fingerprint (under
    /// the tag, or `latest`) is only tagged there, with no build and no pull.
    pub push: bool,
}

/// Provides every target's third-party and local wheels, then builds each image.
pub fn images(session: &Session, targets: &[Target], options: &Options) -> Result<Vec<Image>> {
    let repo = session.repo()?;
    let t = Instant::now();
    session.ui.begin("fetch third-party wheels");
    let houses = targets
        .iter()
        .map(|t| fetch::provide(session, &t.third_party))
        .collect::<Result<Vec<_>>>()?;
    let shared: usize = houses.iter().map(|h| h.from_shared).sum();
    let shared = match shared {
        0 => String::new(),
        n => format!(" ({n} from the shared cache)"),
    };
    session.ui.step(&format!("fetch third-party wheels{shared}"), t);
    let locals = local_wheels(session, targets)?;
    let mut images = Vec::new();
    for ((target, house), local) in targets.iter().zip(&houses).zip(&locals) {
        let inputs = ImageInputs::collect(repo, target, house, local)?;
        let image = match one(session, target, &inputs, house, options)? {
            Outcome::Done(image) => *image,
            // A wheel was fetched (or built from its sdist) again with other bytes: the
            // inputs are read again from the new wheelhouse, whose files are now checked.
            Outcome::Refetched(house) => {
                let inputs = ImageInputs::collect(repo, target, &house, local)?;
                match one(session, target, &inputs, &house, options)? {
                    Outcome::Done(image) => *image,
                    Outcome::Refetched(_) => {
                        anyhow::bail!("the wheelhouse keeps changing; run again")
                    }
                }
            }
        };
        images.push(image);
    }
    Ok(images)
}

/// Every target's local wheels, built once for all (each wheel is shared by the targets
/// that need it), in the targets' order.
pub(super) fn local_wheels(
    session: &Session,
    targets: &[Target],
) -> Result<Vec<Vec<wheels::LocalWheel>>> {
    let repo = session.repo()?;
    let t = Instant::now();
    let all_jobs: Vec<&super::plan::Job> = targets.iter().flat_map(|t| t.jobs.iter()).collect();
    session.ui.begin("local wheels");
    let built = wheels::provide(session, &all_jobs)?;
    let shared = if built.shared > 0 {
        format!(", {} from the shared cache", built.shared)
    } else {
        String::new()
    };
    session.ui.step(&format!("local wheels ({} built{shared})", built.keys.len()), t);
    targets.iter().map(|t| wheels::wheels(repo, &t.jobs, &built.keys)).collect()
}

/// What building one image came to.
enum Outcome {
    Done(Box<Image>),
    /// The wheelhouse was repaired with files of other digests: plan the image again.
    Refetched(Wheelhouse),
}

/// Pushes each image and records its digest.
/// An image xtask assembled goes over the registry API (blobs the registry has are skipped);
/// one the engine built, or an up-to-date one, is pushed by the engine.
pub fn push(session: &Session, images: &mut [Image]) -> Result<()> {
    for image in images.iter_mut().filter(|i| i.digest.is_none()) {
        // (An image found up to date in its registry has its digest already: nothing to send.)
        let t = Instant::now();
        session.ui.begin(&format!("push {}", image.reference));
        let digest = match &image.assembled {
            Some(assembled) => assemble::push(session, assembled, &image.reference)?,
            None => session.engine()?.push(&session.sh, &image.reference)?,
        };
        image.digest = Some(digest);
        session.ui.step(&format!("push {}", image.reference), t);
    }
    Ok(())
}

/// One image: nothing when the tagged image has the same fingerprint, else assemble (or
/// stage and build) it.
fn one(
    session: &Session,
    target: &Target,
    inputs: &ImageInputs,
    house: &Wheelhouse,
    options: &Options,
) -> Result<Outcome> {
    let (repo, engine) = (session.repo()?, session.engine()?);
    let pkg = &repo.graph.packages[target.idx];
    let t = Instant::now();
    let found = engine.inspect(&session.sh, &[&target.runtime_image, &target.reference])?;
    let [base, current] = <[Option<ImageInfo>; 2]>::try_from(found)
        .map_err(|_| anyhow::anyhow!("inspect returned the wrong number of images"))?;
    let base = base.ok_or_else(|| engine::missing_image(&target.runtime_image))?;
    let builder = format!("{:?}", options.builder);
    session.ui.trace("inspect base and tag", t);
    let fingerprint = inputs.fingerprint(&format!("{}\n{builder}", base.id))?;
    let context_bytes = inputs.bytes()?;
    let image = |info: ImageInfo, status| Image {
        project: pkg.dir.clone(),
        reference: target.reference.clone(),
        info,
        base: base.clone(),
        context_bytes,
        status,
        digest: None,
        assembled: None,
        sbom: None,
    };
    if options.push && !options.no_cache {
        if let Some(remote) = registry_noop(target, &fingerprint) {
            session.ui.step(&format!("{} up to date in its registry", target.reference), t);
            let digest = Some(remote.digest().prefixed());
            let (info, base) = remote_figures(&remote, &base);
            let done = Image { digest, base, ..image(info, Status::UpToDate) };
            return Ok(Outcome::Done(Box::new(done)));
        }
    }
    let current_layers = current.as_ref().map(|c| c.layers.clone());
    let up_to_date = current
        .filter(|c| !options.no_cache && c.labels.get("xtask.fingerprint") == Some(&fingerprint));
    if let Some(info) = up_to_date {
        if options.oci.is_none() {
            session.ui.step(&format!("{} up to date", target.reference), t);
            let sbom = repo.work.join("sbom").join(format!("{}.cdx.json", target.context_name()));
            let sbom = sbom.is_file().then_some(sbom);
            return Ok(Outcome::Done(Box::new(Image { sbom, ..image(info, Status::UpToDate) })));
        }
    }
    let t0 = Instant::now();
    if let Some(repaired) = fetch::intact(session, &target.third_party, house)? {
        if repaired.requirements_text != house.requirements_text {
            return Ok(Outcome::Refetched(repaired));
        }
    }
    session.ui.trace("check the wheelhouse byte for byte", t0);
    requirements_met(inputs, &pkg.dir)?;
    let t0 = Instant::now();
    let labels = labels(session, &repo.root, pkg, &fingerprint);
    session.ui.trace("labels (git)", t0);
    session.ui.begin(&format!("build {}", target.reference));
    let (id, assembled, sbom) = match options.builder {
        crate::cli::Builder::Engine => {
            (engine_build(session, target, inputs, labels, options, context_bytes)?, None, None)
        }
        crate::cli::Builder::Xtask => {
            let known = current_layers.as_deref().unwrap_or_default();
            let (id, assembled, sbom) =
                xtask_build(session, target, inputs, &labels, options, known)?;
            (id, Some(assembled), Some(sbom))
        }
    };
    // The image this build made (its id from the build itself), and the tag still on it.
    let found = engine.inspect(&session.sh, &[&id, &target.reference])?;
    let info = found[0].clone().with_context(|| format!("{id} vanished after its build"))?;
    if found[1].as_ref().map(|tagged| &tagged.id) != Some(&info.id) {
        bail!("{} was tagged onto another image while this build ran; run again", target.reference);
    }
    session.ui.step(&format!("build {}", target.reference), t);
    Ok(Outcome::Done(Box::new(Image { assembled, sbom, ..image(info, Status::Built) })))
}

/// Refuses an image whose packages require one that is not in it: a dependency computed at
/// build time (`dynamic = ["dependencies"]`, a setup.py) escapes the graph, and pip would not
/// have caught it either: the image is installed from the lock, with no resolver.
pub(super) fn requirements_met(inputs: &ImageInputs, project: &str) -> Result<()> {
    let mut dists = Vec::new();
    for (wheel, _) in inputs.context.layers.iter().flat_map(|l| &l.wheels) {
        dists.push(crate::wheel::requires::of_wheel(wheel).map_err(anyhow::Error::msg)?);
    }
    let unmet = crate::wheel::requires::unmet(&dists, &inputs.runtime);
    if unmet.is_empty() {
        return Ok(());
    }
    let list: Vec<String> =
        unmet.iter().map(|(who, what)| format!("{who} requires {what}")).collect();
    bail!(
        "the image of {project} would miss packages its own packages require: {}. A dependency \
         a manifest computes at build time (`dynamic = [\"dependencies\"]`, setup.py) is not \
         in the graph: declare it statically in the manifest of the package that needs it \
         (a local package with a path or workspace source)",
        list.join("; ")
    )
}

/// The image and its base as the registry has them: compressed sizes, the base's layers first.
fn remote_figures(
    remote: &crate::oci::registry::Remote,
    base: &ImageInfo,
) -> (ImageInfo, ImageInfo) {
    let sizes: Vec<u64> = remote.layers.iter().map(|(_, size)| *size).collect();
    let info = ImageInfo {
        id: remote.config_digest.clone(),
        size: sizes.iter().sum(),
        layers: remote.diff_ids(),
        labels: remote.labels(),
    };
    let base_size = sizes.iter().take(base.layers.len()).sum();
    (info, ImageInfo { size: base_size, ..base.clone() })
}

/// The image its registry already holds with this fingerprint, under the target's tag or
/// `latest`; tagged with the target's tag there when it is under `latest` only. Any failure to
/// ask (no such registry yet) means "not there".
fn registry_noop(target: &Target, fingerprint: &str) -> Option<crate::oci::registry::Remote> {
    let (host, name, tag) = crate::oci::registry::split(&target.reference)?;
    let registry = crate::oci::registry::Repository::new(&host, &name);
    for candidate in [tag.as_str(), "latest"] {
        let Some(remote) = registry.image(candidate).ok().flatten() else { continue };
        if remote.label("xtask.fingerprint") == Some(fingerprint) {
            if candidate != tag {
                registry.push_manifest(&tag, &remote.media_type, &remote.manifest).ok()?;
            }
            return Some(remote);
        }
    }
    None
}

/// The image assembled by xtask (see [`super::assemble`]) and loaded into the engine; a
/// project Dockerfile xtask cannot apply is then built by the engine on top. Returns the
/// assembled image (for pushing without the engine) and where its SBOM is.
fn xtask_build(
    session: &Session,
    target: &Target,
    inputs: &ImageInputs,
    labels: &[(String, String)],
    options: &Options,
    known: &[String],
) -> Result<(String, crate::oci::output::Assembled, camino::Utf8PathBuf)> {
    let repo = session.repo()?;
    let pkg = &repo.graph.packages[target.idx];
    let t = Instant::now();
    let base = assemble::base(session, &target.runtime_image)?;
    session.ui.trace("read the base", t);
    let created = rfc3339(created(session, &repo.root));
    let project = (pkg.name.as_str(), pkg.version.as_deref().unwrap_or_default());
    let t = Instant::now();
    let image = assemble::assemble(session, inputs, &base, labels, &created, project)?;
    session.ui.trace("assemble", t);
    let t = Instant::now();
    let sbom = repo.work.join("sbom").join(format!("{}.cdx.json", target.context_name()));
    fs::create_dir_all(sbom.parent().unwrap_or(&repo.work))?;
    crate::files::write_atomic(&sbom, &image.sbom)?;
    let id = match (&image.engine_extension, inputs.extension) {
        (Some(why), Some(ext)) => {
            session.ui.line(&format!("note: the engine builds {} ({why})", ext.path));
            let app =
                format!("xtask-app/{}:{}", target.context_name(), image.assembled.id().short(16));
            assemble::load(session, &image.assembled, &app, known)?;
            let (dir, _lock) = repo.context_dir(&target.context_name())?;
            crate::files::fresh_dir(&dir)?;
            let build = Build {
                tag: Some(target.reference.clone()),
                build_args: inputs.build_args.clone(),
                labels: labels.to_vec(),
                no_cache: options.no_cache,
                ..Build::default()
            };
            // By its name: BuildKit resolves a name in the engine's images, not a bare id.
            let project = extension_build(&dir, ext, &app, build)?;
            session
                .engine()?
                .build(&project, &mut |line| session.ui.detail(line))
                .with_context(|| format!("build the image of {} from {}", pkg.dir, ext.path))?
        }
        _ => {
            assemble::load(session, &image.assembled, &target.reference, known)?;
            image.assembled.id().prefixed()
        }
    };
    session.ui.trace("load into the engine", t);
    if let Some(dir) = &options.oci {
        let tag = target.reference.rsplit_once(':').map_or("latest", |(_, t)| t);
        let name = format!("{}:{tag}", target.name);
        assemble::to_layout(session, &image, &name, dir)?;
    }
    Ok((id, image.assembled, sbom))
}

/// The template's image built by the engine from xtask's staged context, then the project's
/// own Dockerfile on top; returns the id of the image the last build made.
fn engine_build(
    session: &Session,
    target: &Target,
    inputs: &ImageInputs,
    labels: Vec<(String, String)>,
    options: &Options,
    context_bytes: u64,
) -> Result<String> {
    let (repo, engine) = (session.repo()?, session.engine()?);
    let pkg = &repo.graph.packages[target.idx];
    let t = Instant::now();
    let (dir, _lock) = repo.context_dir(&target.context_name())?;
    inputs.context.write(&dir)?;
    let rel = dir.strip_prefix(&repo.root).map_or(dir.to_string(), ToString::to_string);
    session.ui.step(&format!("stage context {rel} ({})", human_bytes(context_bytes)), t);
    let build = |build: &Build, what: &str| {
        // The engine's own output shows with -v.
        let mut progress = |line: &str| session.ui.detail(line);
        engine
            .build(build, &mut progress)
            .with_context(|| format!("build the image of {} from {what}", pkg.dir))
    };
    let app = Build {
        context: dir.clone(),
        build_args: inputs.build_args.clone(),
        no_cache: options.no_cache,
        ..Build::default()
    };
    match inputs.extension {
        None => build(&Build { tag: Some(target.reference.clone()), labels, ..app }, TEMPLATE),
        Some(ext) => {
            // Named: BuildKit resolves a name in the engine's images, not a bare id. (The
            // context's lock keeps two builds of this image from sharing the name.)
            let app_name = format!("xtask-app/{}:engine", target.context_name());
            build(&Build { tag: Some(app_name.clone()), ..app }, TEMPLATE)?;
            let project = extension_build(
                &dir,
                ext,
                &app_name,
                Build {
                    tag: Some(target.reference.clone()),
                    build_args: inputs.build_args.clone(),
                    labels,
                    no_cache: options.no_cache,
                    ..Build::default()
                },
            )?;
            build(&project, &ext.path)
        }
    }
}

/// The build of a project's own Dockerfile on the template's image `app`, with the
/// project folder (as xtask sends it) as its context: its COPY sees that folder and nothing
/// else. Its RUN steps (`apt-get install …`) get the network, as in any Dockerfile; xtask's
/// own stages stay offline.
fn extension_build(dir: &Utf8Path, ext: &Extension, app: &str, build: Build) -> Result<Build> {
    let dockerfile = dir.join("Dockerfile.project");
    fs::write(&dockerfile, rebase(&ext.text, app))?;
    let ext_dir = camino::Utf8PathBuf::from(format!("{dir}.extension"));
    crate::files::fresh_dir(&ext_dir)?;
    write_context(ext, &ext_dir)?;
    let network =
        crate::image::dockerfile::instructions(&ext.text).iter().any(|i| i.keyword == "RUN");
    Ok(Build { context: ext_dir, dockerfile: Some(dockerfile), network, ..build })
}

/// OCI labels; revision and created describe the build, so they are not in the fingerprint.
/// The source is the remote's URL without credentials (see [`public_url`]).
pub(super) fn labels(
    session: &Session,
    root: &Utf8Path,
    pkg: &Package,
    fingerprint: &str,
) -> Vec<(String, String)> {
    let git = Git::open(&session.sh, root).ok();
    let revision = git.as_ref().and_then(|g| g.head(None).ok()).unwrap_or_else(|| "unknown".into());
    let mut labels = vec![
        ("org.opencontainers.image.title", pkg.name.to_string()),
        ("org.opencontainers.image.version", pkg.version.clone().unwrap_or_default()),
        ("org.opencontainers.image.revision", revision),
        ("org.opencontainers.image.created", rfc3339(created(session, root))),
        ("xtask.fingerprint", fingerprint.to_string()),
    ];
    // Only the remote's public URL: a local folder name would differ from machine to machine.
    if let Some(url) = git.as_ref().and_then(|g| g.config("remote.origin.url")) {
        labels.push(("org.opencontainers.image.source", public_url(&url)));
    }
    labels.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// When the image was made, as the same commit gives it on every machine:
/// `SOURCE_DATE_EPOCH` when set, else the time of the commit, else 1980-01-01.
pub fn created(session: &Session, root: &Utf8Path) -> u64 {
    let from_env = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse().ok());
    from_env
        .or_else(|| Git::open(&session.sh, root).ok().and_then(|g| g.head_time().ok()))
        .unwrap_or(assemble::layers::MTIME)
}

/// A remote URL fit for a label: no user, password or token, no query or fragment.
/// `https://gitlab-ci-token:s3cr3t@host/acme/repo.git?x=1` becomes `https://host/acme/repo.git`;
/// scp-like `git@host:acme/repo.git` becomes `host:acme/repo.git`.
pub fn public_url(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // The authority ends at the first `/`; user info is what precedes its last `@`.
    // For scp-like addresses (`user:secret@host:org/repo`) the user info is what precedes the
    // last `@` before the first `/`.
    let (authority, path) = match scheme {
        Some(_) => rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p)),
        None => {
            let head = rest.split('/').next().unwrap_or_default();
            let start = head.rfind('@').map_or(0, |at| at + 1);
            rest[start..].split_once(':').map_or((&rest[start..], ""), |(a, p)| (a, p))
        }
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match scheme {
        Some(scheme) if path.is_empty() => format!("{scheme}://{host}"),
        Some(scheme) => format!("{scheme}://{host}/{path}"),
        None if path.is_empty() => host.to_string(),
        None => format!("{host}:{path}"),
    }
}

/// `1.2 MB`, `3.4 kB` or `56 B`.
pub fn human_bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a size for people, not arithmetic
    let f = n as f64;
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", f / 1e6),
        n if n >= 1 << 10 => format!("{:.1} kB", f / 1e3),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::public_url;

    #[test]
    fn label_urls_carry_no_credentials() {
        let cases = [
            (
                "https://gitlab-ci-token:s3cr3t@example.invalid/acme/repo.git",
                "https://example.invalid/acme/repo.git",
            ),
            ("https://user@host.org/a/b?private_token=x#frag", "https://host.org/a/b"),
            ("https://x:y@host.org", "https://host.org"),
            ("ssh://git:pw@host.org:2222/a.git", "ssh://host.org:2222/a.git"),
            ("git@github.com:acme/repo.git", "github.com:acme/repo.git"),
            ("deploy:s3cr3t@host.org:acme/repo.git", "host.org:acme/repo.git"),
            ("u:p@ss@host.org:repo.git", "host.org:repo.git"),
            ("https://github.com/acme/repo", "https://github.com/acme/repo"),
            ("/srv/git/repo.git", "/srv/git/repo.git"),
        ];
        for (url, want) in cases {
            assert_eq!(public_url(url), want, "{url}");
        }
    }
}
