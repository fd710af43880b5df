//! `cargo xtask fetch <project>`: the locked third-party wheels, hash-verified, in a shared wheelhouse.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;
use xshell::{cmd, Shell};

use super::print_json;
use crate::cli::FetchArgs;
use crate::engine::{Engine, LazyEngine};
use crate::model::lock::{parse_lock, third_party, LockError, Pinned, Root};
use crate::model::manifest::MAIN;
use crate::model::{self, Repo};
use crate::toolchain;
use crate::wheel::cache::sha256_of;
use crate::wheel::{sha256_hex, tags};

#[derive(Serialize, Clone)]
pub struct FetchedRow {
    pub name: String,
    pub version: String,
    pub file: Utf8PathBuf,
    pub sha256: String,
    pub cached: bool,
}

/// What a project installs from the wheelhouse: the files and a requirements file with hashes.
pub struct Wheelhouse {
    pub requirements: Utf8PathBuf,
    pub requirements_text: String,
    pub wheels: Vec<FetchedRow>,
}

#[derive(Serialize)]
struct FetchJson<'a> {
    project: &'a str,
    requirements: &'a Utf8Path,
    wheels: &'a [FetchedRow],
}

pub fn run(root: &Utf8Path, args: &FetchArgs) -> Result<()> {
    let start = Instant::now();
    let repo = model::load(root)?;
    let sh = Shell::new()?;
    let house = ensure(&sh, &repo, &args.project, !args.json)?;
    if args.json {
        let project =
            &repo.graph.packages[repo.graph.find(&args.project).map_err(anyhow::Error::msg)?].dir;
        print_json(&FetchJson {
            project,
            requirements: &house.requirements,
            wheels: &house.wheels,
        })?;
    } else {
        let fetched = house.wheels.iter().filter(|w| !w.cached).count();
        println!(
            "{} third-party wheels ({fetched} fetched, {} cached) in {:.2} s; requirements: {}",
            house.wheels.len(),
            house.wheels.len() - fetched,
            start.elapsed().as_secs_f64(),
            house.requirements
        );
    }
    Ok(())
}

/// A project's third-party set, read from its lock; nothing fetched yet.
pub struct Resolved {
    pub pinned: Vec<Pinned>,
    dir: String,
    name: String,
    lock_text: String,
}

/// Reads the project's poetry.lock and walks it from the main group (no engine, no network).
pub fn resolve(repo: &Repo, idx: usize) -> Result<Resolved> {
    resolve_for(repo, idx, false)
}

/// As [`resolve`]; with `dev`, the project's other groups (dev, test, …) are walked too.
/// Callers have already checked the package's closure for problems.
pub fn resolve_for(repo: &Repo, idx: usize, dev: bool) -> Result<Resolved> {
    let g = &repo.graph;
    let pkg = &g.packages[idx];
    let lock_path = repo.root.join(&pkg.dir).join("poetry.lock");
    let lock_rel = format!("{}/poetry.lock", pkg.dir);
    let lock_text = match std::fs::read_to_string(&lock_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{lock_rel} is missing; run `cargo xtask lock {}` to create it", pkg.dir)
        }
        Err(e) => return Err(e).with_context(|| format!("read {lock_rel}")),
    };
    let lock = parse_lock(&lock_text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("read {lock_rel}"))?;
    let roots: Vec<Root> = pkg
        .manifest
        .deps
        .iter()
        .filter(|d| (d.group == MAIN || dev) && !d.optional)
        .map(|d| Root {
            name: d.name.clone(),
            extras: d.extras.clone(),
            markers: d.markers.clone(),
        })
        .collect();
    let pinned = match third_party(&lock, &roots, &repo.config.runtime) {
        Ok(pinned) => pinned,
        Err(e @ LockError::Missing(_)) => {
            bail!(
                "{lock_rel} is stale ({e}, which a manifest asks for); run `cargo xtask lock {}`",
                pkg.dir
            )
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("resolve the third-party set of {} from {lock_rel}", pkg.dir)
            })
        }
    };
    let name = if dev { format!("{}-dev", pkg.name) } else { pkg.name.clone() };
    Ok(Resolved { pinned, dir: pkg.dir.clone(), name, lock_text })
}

/// For a dry run: each pinned package with its wheelhouse file, if one is there (nothing is
/// discarded or downloaded).
pub fn cached_status(
    repo: &Repo,
    resolved: &Resolved,
) -> Result<Vec<(String, Option<Utf8PathBuf>)>> {
    let house = repo.cache.join("wheelhouse");
    let (minor, machine) =
        (repo.config.runtime.python_minor(), repo.config.runtime.platform_machine.as_str());
    resolved
        .pinned
        .iter()
        .map(|p| {
            Ok((
                format!("{}=={}", p.name, p.version),
                cached_file(&house, p, minor, machine, false, false)?.map(|f| f.0),
            ))
        })
        .collect()
}

/// The project's locked third-party set, from the wheelhouse or downloaded into it.
pub fn ensure(sh: &Shell, repo: &Repo, project: &str, verbose: bool) -> Result<Wheelhouse> {
    let idx = repo.graph.find(project).map_err(anyhow::Error::msg)?;
    super::report(&repo.graph.closure(idx, &[]).problems)?;
    let resolved = resolve(repo, idx)?;
    provide(sh, repo, &resolved, verbose)
}

/// Checks the lock is fresh, then fills the wheelhouse and writes the requirements file.
pub fn provide(sh: &Shell, repo: &Repo, resolved: &Resolved, verbose: bool) -> Result<Wheelhouse> {
    let engine = LazyEngine::default();
    check_lock_fresh(sh, &engine, repo, &resolved.dir, &resolved.lock_text)?;
    let pinned = &resolved.pinned;
    let house = repo.cache.join("wheelhouse");
    std::fs::create_dir_all(&house).with_context(|| format!("create {house}"))?;
    let minor = repo.config.runtime.python_minor();
    let machine = repo.config.runtime.platform_machine.as_str();
    let mut have: BTreeMap<String, (Utf8PathBuf, String)> = BTreeMap::new();
    for p in pinned {
        if let Some(found) = cached_file(&house, p, minor, machine, verbose, true)? {
            have.insert(p.name.clone(), found);
        }
    }
    let missing: Vec<&Pinned> = pinned.iter().filter(|p| !have.contains_key(&p.name)).collect();
    if !missing.is_empty() {
        let t0 = Instant::now();
        download(sh, engine.get(sh)?, repo, &house, &missing)?;
        for p in &missing {
            let found = cached_file(&house, p, minor, machine, verbose, true)?.with_context(|| {
                format!("no installable file of {}=={} for CPython 3.{minor} on {machine} came down", p.name, p.version)
            })?;
            have.insert(p.name.clone(), found);
        }
        if verbose {
            println!("  fetched {} wheel(s) in {:.2} s", missing.len(), t0.elapsed().as_secs_f64());
        }
    }
    let mut rows = Vec::new();
    let mut requirements = String::new();
    for p in pinned {
        let (file, sha256) = have[&p.name].clone();
        requirements += &format!("{}=={} --hash=sha256:{sha256}\n", p.name, p.version);
        let cached = !missing.iter().any(|m| m.name == p.name);
        rows.push(FetchedRow {
            name: p.name.clone(),
            version: p.version.clone(),
            file,
            sha256,
            cached,
        });
    }
    let req_dir = repo.work.join("requirements");
    std::fs::create_dir_all(&req_dir)?;
    let req_path = req_dir.join(format!("{}.txt", resolved.name));
    std::fs::write(&req_path, &requirements).with_context(|| format!("write {req_path}"))?;
    Ok(Wheelhouse { requirements: req_path, requirements_text: requirements, wheels: rows })
}

/// A wheelhouse file of `p` that the runtime can install and whose hash the lock pins, or a
/// wheel built from a pinned sdist. A file with the right name but the wrong hash is
/// deleted, never used.
fn cached_file(
    house: &Utf8Path,
    p: &Pinned,
    minor: u32,
    machine: &str,
    verbose: bool,
    discard: bool,
) -> Result<Option<(Utf8PathBuf, String)>> {
    for (file, hash) in &p.files {
        let path = house.join(file);
        if !tags::compatible(file, minor, machine) || !path.is_file() {
            continue;
        }
        let actual = sha256_of(&path)?;
        if hash.strip_prefix("sha256:") == Some(actual.as_str()) {
            return Ok(Some((path, actual)));
        }
        if !discard {
            continue;
        }
        if verbose {
            println!("  discarded {file}: its sha256 is not the one poetry.lock pins");
        }
        std::fs::remove_file(&path).with_context(|| format!("remove corrupt {path}"))?;
    }
    for (file, hash) in p.files.iter().filter(|(f, _)| !f.ends_with(".whl")) {
        let built = house.join(FROM_SDIST).join(hash.trim_start_matches("sha256:"));
        let Ok(entries) = built.read_dir_utf8() else { continue };
        let wheels: Vec<Utf8PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.into_path())
            .filter(|p| p.extension() == Some("whl"))
            .collect();
        if let [wheel] = wheels.as_slice() {
            let sha = sha256_of(wheel)?;
            if verbose {
                println!("  using {} (built from {file})", wheel.file_name().unwrap_or_default());
            }
            return Ok(Some((wheel.clone(), sha)));
        }
    }
    Ok(None)
}

/// Wheels built from sdists live in `<wheelhouse>/from-sdist/<sdist sha256>/`.
const FROM_SDIST: &str = "from-sdist";

/// Downloads `missing` with pip in the runtime image (so pip picks files for its platform),
/// grouped by package index, with the host's pip settings mounted. Each file is checked
/// against the lock's hashes before it enters the wheelhouse.
fn download(
    sh: &Shell,
    engine: &Engine,
    repo: &Repo,
    house: &Utf8Path,
    missing: &[&Pinned],
) -> Result<()> {
    let tmp = repo.scratch("fetch")?;
    let result = (|| {
        let mut by_index: BTreeMap<Option<&str>, Vec<&Pinned>> = BTreeMap::new();
        for p in missing {
            by_index.entry(p.index.as_deref()).or_default().push(p);
        }
        let user = toolchain::owner_of(&tmp)?;
        let (bin, image, pip) =
            (&engine.bin, &repo.config.toolchain.python_image, crate::pipenv::docker_args());
        for (n, (index, group)) in by_index.iter().enumerate() {
            let req: String = group
                .iter()
                .map(|p| {
                    let hashes: String =
                        p.files.iter().map(|(_, h)| format!(" --hash={h}")).collect();
                    format!("{}=={}{hashes}\n", p.name, p.version)
                })
                .collect();
            std::fs::write(tmp.join(format!("req-{n}.txt")), req)?;
            let index_args: Vec<String> =
                index.map(|u| vec!["--index-url".to_string(), u.to_string()]).unwrap_or_default();
            let mount = format!("{tmp}:/work");
            let req_file = format!("/work/req-{n}.txt");
            let pip_args = pip.clone();
            cmd!(sh, "{bin} run --rm --user {user} {pip_args...} -v {mount} {image} python3 -m pip download --no-cache-dir --disable-pip-version-check --no-deps --require-hashes --prefer-binary {index_args...} --dest /work/files -r {req_file}")
                .quiet()
                .ignore_stdout()
                .run()
                .with_context(|| {
                    let names: Vec<&str> = group.iter().map(|p| p.name.as_str()).collect();
                    format!("download {} from {}", names.join(", "), index.unwrap_or("the default index"))
                })?;
        }
        let files = tmp.join("files");
        let mut sdists: Vec<(String, String)> = Vec::new();
        for entry in files.read_dir_utf8().with_context(|| format!("read {files}"))? {
            let path = entry?.into_path();
            let name = path.file_name().unwrap_or_default().to_string();
            let actual = format!("sha256:{}", sha256_hex(&std::fs::read(&path)?));
            let allowed =
                missing.iter().any(|p| p.files.iter().any(|(f, h)| *f == name && *h == actual));
            if !allowed {
                bail!("{name}: its sha256 does not match poetry.lock; the file was discarded (a tampered or changed index?)");
            }
            if name.ends_with(".whl") {
                std::fs::rename(&path, house.join(&name))
                    .with_context(|| format!("move {name} into the wheelhouse"))?;
            } else {
                sdists.push((name, actual));
            }
        }
        if !sdists.is_empty() {
            build_sdists(sh, engine, repo, house, &tmp, &sdists)?;
        }
        Ok(())
    })();
    let _ = sh.remove_path(&tmp);
    result
}

/// Builds wheels from verified sdists in the build image, offline, with the backends the build
/// image carries (poetry-core, setuptools), and files each under its sdist's hash.
fn build_sdists(
    sh: &Shell,
    engine: &Engine,
    repo: &Repo,
    house: &Utf8Path,
    tmp: &Utf8Path,
    sdists: &[(String, String)],
) -> Result<()> {
    let image = toolchain::ensure_build_image(sh, engine, repo)?;
    let user = toolchain::owner_of(tmp)?;
    let (bin, mount) = (&engine.bin, format!("{tmp}:/work"));
    for (name, hash) in sdists {
        let sdist = format!("/work/files/{name}");
        let out_dir = format!("/work/built/{}", hash.trim_start_matches("sha256:"));
        cmd!(sh, "{bin} run --rm --network none --user {user} -e HOME=/tmp -v {mount} {image} python3 -m pip wheel --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation --no-index --wheel-dir {out_dir} {sdist}")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("build a wheel from the sdist {name} (offline, in the build image; its build backend must be poetry-core or setuptools)"))?;
    }
    let built = tmp.join("built");
    std::fs::create_dir_all(house.join(FROM_SDIST))?;
    for entry in built.read_dir_utf8().with_context(|| format!("read {built}"))? {
        let entry = entry?;
        let dest = house.join(FROM_SDIST).join(entry.file_name());
        if !dest.exists() {
            std::fs::rename(entry.path(), &dest)
                .with_context(|| format!("move the wheel built from an sdist to {dest}"))?;
        }
    }
    Ok(())
}

/// Refuses a lock that no longer matches its manifest, using the pinned Poetry itself
/// (`poetry check --lock`, offline). A passing check is remembered by content hash.
fn check_lock_fresh(
    sh: &Shell,
    engine: &LazyEngine,
    repo: &Repo,
    dir: &str,
    lock_text: &str,
) -> Result<()> {
    let manifest = std::fs::read(repo.root.join(dir).join("pyproject.toml"))?;
    let toolchain_id = toolchain::identity(repo)?;
    let mut input = manifest;
    input.extend_from_slice(lock_text.as_bytes());
    input.extend_from_slice(toolchain_id.as_bytes());
    let marker = repo.cache.join("lock-checks").join(sha256_hex(&input));
    if marker.exists() {
        return Ok(());
    }
    let engine = engine.get(sh)?;
    let image = toolchain::ensure_build_image(sh, engine, repo)?;
    let bin = &engine.bin;
    let src = format!("{}:/repo:ro", repo.root);
    let workdir = if dir == "." { "/repo".to_string() } else { format!("/repo/{dir}") };
    let out = cmd!(sh, "{bin} run --rm --network none -e HOME=/tmp -v {src} -w {workdir} {image} poetry check --lock")
        .quiet()
        .ignore_status()
        .output()?;
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains("changed significantly") || text.contains("not consistent") {
            bail!("{dir}/poetry.lock is stale: {dir}/pyproject.toml changed since it was locked; run `cargo xtask lock {dir}`");
        }
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("Error")).collect();
        let detail = if errors.is_empty() { text.trim().to_string() } else { errors.join("\n") };
        bail!("{dir}: `poetry check --lock` failed:\n{detail}");
    }
    std::fs::create_dir_all(marker.parent().unwrap())?;
    std::fs::write(&marker, dir)?;
    Ok(())
}
