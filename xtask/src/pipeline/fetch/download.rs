//! Downloads missing locked files over HTTPS (no container, no pip), in parallel, each
//! checked against the lock's sha256 while it streams; then builds sdists offline, each with
//! its own pinned build requirements.

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use fs_err as fs;

use super::FROM_SDIST;
use crate::hash::Sha256;
use crate::model::lock::{LockedFile, Pinned};
use crate::net::{self, simple, Client, Download};
use crate::pipeline::plan::Resolved;
use crate::pipeline::shared::Shared;
use crate::pipeline::toolchain;
use crate::pipeline::wheels::{self, BuildSpec};
use crate::runtime::Runtime;
use crate::session::Session;
use crate::wheel::cache::WheelCache;
use crate::wheel::sdist;
use crate::wheel::WheelName;

/// Parallel downloads: enough to hide latency, few enough to be polite to an index.
const WORKERS: usize = 8;

/// Fetches `missing` into the wheelhouse: the best wheel the runtime can install, or the
/// sdist when the lock has no such wheel (built into a wheel here, offline). With a shared
/// cache, files (and wheels built from sdists) come from there when it has them, and what
/// this run fetched or built goes there. Returns how many came from the shared cache.
pub(super) fn missing(
    session: &Session,
    house: &Utf8Path,
    resolved: &Resolved,
    missing: &[&Pinned],
) -> Result<usize> {
    let runtime = &resolved.runtime;
    let tmp = session.repo()?.scratch("fetch")?;
    let minor = runtime.python_minor();
    let shared = session.shared();
    let mut from_shared = 0;
    let result = (|| {
        let mut wanted = Vec::new();
        for p in missing {
            let (file, is_sdist) = choose(p, runtime, &resolved.dir)?;
            let tag = shared_tag(&file.sha256, is_sdist.then_some(minor));
            if shared.is_some_and(|s| take_shared(s, &tag, house, file, is_sdist)) {
                from_shared += 1;
            } else {
                wanted.push((*p, file, is_sdist));
            }
        }
        // Where each file is: the lock's URL, or an index page each (fetched in parallel).
        let t = std::time::Instant::now();
        let urls = if wanted.is_empty() {
            Vec::new()
        } else {
            let client = session.net()?;
            net::parallel(&wanted, WORKERS, |(p, file, _)| url_of(client, p, file))
        };
        session.ui.trace("find the files on the index", t);
        let mut downloads = Vec::new();
        let mut sdists = Vec::new();
        for ((_, file, is_sdist), url) in wanted.iter().zip(urls) {
            let dest = if *is_sdist { tmp.join(&file.name) } else { house.join(&file.name) };
            if *is_sdist {
                sdists.push((file.name.clone(), file.sha256.clone()));
            }
            downloads.push(Download { url: url?, dest, sha256: file.sha256.clone() });
        }
        let t = std::time::Instant::now();
        if !downloads.is_empty() {
            net::download_all(session.net()?, &downloads, WORKERS)?;
        }
        session.ui.trace("download", t);
        if !sdists.is_empty() {
            build_sdists(session, house, runtime, &tmp, &sdists)?;
        }
        if let Some(shared) = shared {
            // Best effort: a runner that cannot publish only leaves more work to others.
            for d in downloads.iter().filter(|d| d.dest.starts_with(house)) {
                let name = d.dest.file_name().unwrap_or_default();
                let _ = fs::read(&d.dest)
                    .map_err(anyhow::Error::from)
                    .and_then(|bytes| shared.put_file(&shared_tag(&d.sha256, None), name, &bytes));
            }
            let cache = WheelCache::new(house.join(FROM_SDIST));
            for (_, hash) in &sdists {
                let Ok(Some(entry)) = cache.get(hash.hex()) else { continue };
                let name = entry.file.file_name().unwrap_or_default();
                let _ = fs::read(&entry.file).map_err(anyhow::Error::from).and_then(|bytes| {
                    shared.put_file(&shared_tag(hash, Some(minor)), name, &bytes)
                });
            }
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&tmp);
    result.map(|()| from_shared)
}

/// The shared cache's tag of a file of the index (its sha256), or of the wheel built from an
/// sdist for a Python minor.
fn shared_tag(sha256: &Sha256, sdist_for: Option<u32>) -> String {
    match sdist_for {
        None => format!("pypi-{}", sha256.hex()),
        Some(minor) => format!("sdist-3.{minor}-{}", sha256.hex()),
    }
}

/// Takes a file from the shared cache into the wheelhouse: a file of the index checked against
/// the lock's digest, or a wheel built from the sdist. False when the cache lacks it or fails.
fn take_shared(
    shared: &Shared,
    tag: &str,
    house: &Utf8Path,
    file: &LockedFile,
    is_sdist: bool,
) -> bool {
    let Ok(Some((name, bytes))) = shared.get_file(tag) else { return false };
    if is_sdist {
        let cache = WheelCache::new(house.join(FROM_SDIST));
        WheelName::parse(&name).is_some() && cache.put(file.sha256.hex(), &name, &bytes).is_ok()
    } else {
        name == file.name
            && Sha256::of(&bytes) == file.sha256
            && crate::files::write_atomic(&house.join(&file.name), &bytes).is_ok()
    }
}

/// Fetches one locked file of `p` to `dest`, checked against its digest.
pub(super) fn file(
    session: &Session,
    p: &Pinned,
    file: &LockedFile,
    dest: &Utf8Path,
) -> Result<()> {
    let client = session.net()?;
    let url = url_of(client, p, file)?;
    let download = Download { url, dest: dest.to_owned(), sha256: file.sha256.clone() };
    net::download_all(client, &[download], 1)
}

/// The file of `p` to fetch for the runtime: its most specific fitting wheel, else its sdist.
fn choose<'p>(p: &'p Pinned, runtime: &Runtime, dir: &str) -> Result<(&'p LockedFile, bool)> {
    if p.files.is_empty() {
        bail!(
            "{}=={}: the lock records no file (and so no digest) for it; lock again with `cargo \
             xtask lock {dir}`",
            p.name,
            p.version
        );
    }
    let wheel = p
        .files
        .iter()
        .filter_map(|f| Some((f, WheelName::parse(&f.name)?)))
        .filter(|(_, w)| w.fits(runtime))
        .max_by_key(|(_, w)| w.specificity(runtime));
    if let Some((f, _)) = wheel {
        return Ok((f, false));
    }
    let sdist = p.files.iter().find(|f| crate::wheel::name::sdist(&f.name).is_some());
    match sdist {
        Some(f) => Ok((f, true)),
        None => bail!(
            "{}=={}: the lock has no wheel for CPython {} on {} ({}) and no sdist; pick a \
             runtime the package supports, or a version with such a wheel",
            p.name,
            p.version,
            runtime.python_version(),
            runtime.platform_machine,
            if runtime.libc.is_empty() { "no glibc" } else { runtime.libc.as_str() },
        ),
    }
}

/// Where `file` is: the lock's URL, or the one its index's simple API gives for that name.
fn url_of(client: &Client, p: &Pinned, file: &LockedFile) -> Result<String> {
    if let Some(url) = &file.url {
        return Ok(url.clone());
    }
    let settings = client.settings();
    let indexes: Vec<&str> = match &p.index {
        Some(index) => vec![index.as_str()],
        None => std::iter::once(settings.index_url.as_str())
            .chain(settings.extra_index_urls.iter().map(String::as_str))
            .collect(),
    };
    let mut tried = Vec::new();
    for index in indexes {
        match simple::files(client, index, &p.name) {
            Ok(files) => {
                if let Some(found) = files.into_iter().find(|f| f.name == file.name) {
                    return Ok(found.url);
                }
                tried.push(format!("{} (no such file)", net::public_url(index)));
            }
            Err(e) => tried.push(format!("{e:#}")),
        }
    }
    bail!("{}: not found on the package index: {}", file.name, tried.join("; "))
}

/// Builds wheels from verified sdists in the build image of the runtime's Python, offline,
/// each with its own build requirements (pinned in the toolchain lock), and files each under
/// its sdist's hash.
fn build_sdists(
    session: &Session,
    house: &Utf8Path,
    runtime: &Runtime,
    tmp: &Utf8Path,
    sdists: &[(String, Sha256)],
) -> Result<()> {
    let minor = runtime.python_minor();
    let mut specs = Vec::new();
    for (n, (file, _)) in sdists.iter().enumerate() {
        let path = tmp.join(file);
        let system = sdist::build_system(&path)?;
        let tree = sdist::unpack(&path, &tmp.join("unpacked").join(n.to_string()))?;
        fs::create_dir_all(tmp.join("src"))?;
        fs::rename(&tree, tmp.join("src").join(n.to_string()))?;
        let (name, _) =
            crate::wheel::name::sdist(file).with_context(|| format!("read the name of {file}"))?;
        let env = toolchain::env(session, minor, &system.requires, &format!("the sdist {file}"))?;
        specs.push(BuildSpec {
            what: format!("the sdist {file}"),
            name,
            env,
            backend: system.backend,
            backend_path: system.backend_path,
            site: None,
            vars: Vec::new(),
        });
    }
    let image = session.build_image(minor)?;
    let wheels = wheels::run(session, &image, tmp, &specs)?;
    let cache = WheelCache::new(house.join(FROM_SDIST));
    for ((_, hash), wheel) in sdists.iter().zip(wheels) {
        cache.put(hash.hex(), wheel.file_name().unwrap_or_default(), &fs::read(&wheel)?)?;
    }
    Ok(())
}
