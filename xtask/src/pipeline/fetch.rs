//! Fetch (the only network step): a project's locked third-party wheels, hash-checked, in a
//! wheelhouse shared by every project.

mod download;
mod fresh;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use super::plan::Resolved;
use crate::hash::{self, Sha256};
use crate::model::lock::Pinned;
use crate::model::names::PackageName;
use crate::model::Repo;
use crate::runtime::Runtime;
use crate::session::Session;
use crate::wheel::cache::WheelCache;
use crate::wheel::WheelName;

/// Wheels built from sdists live in `<wheelhouse>/from-sdist/<sdist sha256>/`.
const FROM_SDIST: &str = "from-sdist";

/// One third-party wheel in the wheelhouse, verified against the lock.
#[derive(Debug, Clone)]
pub struct ThirdParty {
    pub name: PackageName,
    pub version: String,
    pub file: Utf8PathBuf,
    pub sha256: Sha256,
    /// False when this run downloaded it.
    pub cached: bool,
}

/// What a project installs from the wheelhouse, and what this run did to provide it.
pub struct Wheelhouse {
    pub requirements: Utf8PathBuf,
    pub requirements_text: String,
    pub wheels: Vec<ThirdParty>,
    /// Wheelhouse files whose hash was not the lock's: deleted and downloaded again.
    pub discarded: Vec<String>,
    /// How long the download took, when one was needed.
    pub download: Option<Duration>,
    /// How many files came from the shared cache instead of the index (or a build).
    pub from_shared: usize,
}

/// For a dry run: each pinned package (`name==version`) with its wheelhouse file, if one is
/// there. Nothing is discarded or downloaded.
pub fn cached_status(
    repo: &Repo,
    resolved: &Resolved,
) -> Result<Vec<(String, Option<Utf8PathBuf>)>> {
    let house = Wheelhouse::folder(repo);
    let mut out = Vec::new();
    for p in &resolved.pinned {
        let found = cached_file(&resolved.runtime, &house, p)?.map(|(f, _)| f);
        out.push((format!("{}=={}", p.name, p.version), found));
    }
    Ok(out)
}

/// Checks the lock is fresh, then fills the wheelhouse and writes the requirements file.
pub fn provide(session: &Session, resolved: &Resolved) -> Result<Wheelhouse> {
    let repo = session.repo()?;
    fresh::check(session, resolved)?;
    let house = Wheelhouse::folder(repo);
    fs::create_dir_all(&house)?;
    let mut discarded = Vec::new();
    let mut have: BTreeMap<PackageName, (Utf8PathBuf, Sha256)> = BTreeMap::new();
    for p in &resolved.pinned {
        discarded.extend(discard_corrupt(&resolved.runtime, &house, p)?);
        if let Some(found) = cached_file(&resolved.runtime, &house, p)? {
            have.insert(p.name.clone(), found);
        }
    }
    let missing: Vec<&Pinned> =
        resolved.pinned.iter().filter(|p| !have.contains_key(&p.name)).collect();
    let (mut took, mut from_shared) = (None, 0);
    if !missing.is_empty() {
        let t0 = Instant::now();
        from_shared = download::missing(session, &house, resolved, &missing)?;
        for p in &missing {
            let found = cached_file(&resolved.runtime, &house, p)?.with_context(|| {
                let r = &resolved.runtime;
                format!(
                    "no installable file of {}=={} for CPython {} on {} came down",
                    p.name,
                    p.version,
                    r.python_version(),
                    r.platform_machine
                )
            })?;
            have.insert(p.name.clone(), found);
        }
        took = Some(t0.elapsed());
    }
    let mut wheels = Vec::new();
    let mut requirements = String::new();
    for p in &resolved.pinned {
        let (file, sha256) = have[&p.name].clone();
        requirements += &format!("{}=={} --hash=sha256:{sha256}\n", p.name, p.version);
        let cached = !missing.iter().any(|m| m.name == p.name);
        wheels.push(ThirdParty {
            name: p.name.clone(),
            version: p.version.clone(),
            file,
            sha256,
            cached,
        });
    }
    let req_dir = repo.work.join("requirements");
    fs::create_dir_all(&req_dir)?;
    let req_path = req_dir.join(format!("{}.txt", resolved.label));
    crate::files::write_atomic(&req_path, &requirements)?;
    Ok(Wheelhouse {
        requirements: req_path,
        requirements_text: requirements,
        wheels,
        discarded,
        download: took,
        from_shared,
    })
}

impl Wheelhouse {
    fn folder(repo: &Repo) -> Utf8PathBuf {
        repo.cache.join("wheelhouse")
    }
}

/// The runtime can install `file`.
fn fits(runtime: &Runtime, file: &str) -> bool {
    WheelName::parse(file).is_some_and(|w| w.fits(runtime))
}

/// Deletes wheelhouse files of `p` whose hash is not the one the lock pins; returns their names.
fn discard_corrupt(runtime: &Runtime, house: &Utf8Path, p: &Pinned) -> Result<Vec<String>> {
    let mut discarded = Vec::new();
    for f in p.files.iter().filter(|f| fits(runtime, &f.name)) {
        let path = house.join(&f.name);
        if path.is_file() && hash::of_file(&path)? != f.sha256 {
            fs::remove_file(&path)?;
            discarded.push(f.name.clone());
        }
    }
    Ok(discarded)
}

/// A wheelhouse file of `p` that the runtime can install and whose hash the lock pins, or a
/// wheel built from a pinned sdist.
fn cached_file(
    runtime: &Runtime,
    house: &Utf8Path,
    p: &Pinned,
) -> Result<Option<(Utf8PathBuf, Sha256)>> {
    for f in p.files.iter().filter(|f| fits(runtime, &f.name)) {
        let path = house.join(&f.name);
        if path.is_file() && hash::of_file(&path)? == f.sha256 {
            return Ok(Some((path, f.sha256.clone())));
        }
    }
    for f in p.files.iter().filter(|f| WheelName::parse(&f.name).is_none()) {
        if let Some(entry) = built_from_sdists(house).get(f.sha256.hex())? {
            return Ok(Some((entry.file, entry.sha256)));
        }
    }
    Ok(None)
}

/// Wheels built from sdists, keyed by the sdist's digest, recorded and checked like local
/// wheels.
fn built_from_sdists(house: &Utf8Path) -> WheelCache {
    WheelCache::new(house.join(FROM_SDIST))
}

/// Fetches one locked file of `p` to `dest` (the lock's URL, or its index's), checked.
pub fn fetch_file(
    session: &Session,
    p: &Pinned,
    file: &crate::model::lock::LockedFile,
    dest: &Utf8Path,
) -> Result<()> {
    download::file(session, p, file, dest)
}

/// Checks every wheel of the wheelhouse byte for byte against its digest before it goes into
/// an image (the quick check trusts size and mtime). A changed file is deleted and fetched
/// again, and the repaired wheelhouse returned; one that still differs is an error.
pub fn intact(
    session: &Session,
    resolved: &Resolved,
    house: &Wheelhouse,
) -> Result<Option<Wheelhouse>> {
    let mut changed = false;
    for w in &house.wheels {
        if Sha256::of(&fs::read(&w.file)?) != w.sha256 {
            fs::remove_file(&w.file)?;
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    let repaired = provide(session, resolved)?;
    for w in &repaired.wheels {
        if Sha256::of(&fs::read(&w.file)?) != w.sha256 {
            bail!(
                "{}: its content is not the locked file's, even fetched again; check the index",
                w.file
            );
        }
    }
    Ok(Some(repaired))
}
