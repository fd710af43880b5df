//! Downloads missing locked files with pip in the runtime image, and builds pinned sdists offline.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use fs_err as fs;

use super::FROM_SDIST;
use crate::engine::Container;
use crate::files::owner_of;
use crate::hash::Sha256;
use crate::model::lock::Pinned;
use crate::session::Session;
use crate::wheel::cache::WheelCache;
use crate::wheel::WheelName;

/// Downloads `missing` with pip in the runtime image (so pip picks files for its platform),
/// grouped by package index, with the host's pip settings mounted. Each file is checked
/// against the lock's hashes before it enters the wheelhouse.
pub(super) fn missing(session: &Session, house: &Utf8Path, missing: &[&Pinned]) -> Result<()> {
    let tmp = session.repo()?.scratch("fetch")?;
    let result = download_into(session, &tmp, missing).and_then(|sdists| {
        if !sdists.is_empty() {
            build_sdists(session, house, &tmp, &sdists)?;
        }
        Ok(())
    });
    let _ = fs::remove_dir_all(&tmp);
    result
}

/// Downloads into `tmp/files`, moves verified wheels into the wheelhouse and returns the
/// verified sdists left to build: (file name, digest).
fn download_into(
    session: &Session,
    tmp: &Utf8Path,
    missing: &[&Pinned],
) -> Result<Vec<(String, Sha256)>> {
    let repo = session.repo()?;
    let house = repo.cache.join("wheelhouse");
    let mut by_index: BTreeMap<Option<&str>, Vec<&Pinned>> = BTreeMap::new();
    for p in missing {
        by_index.entry(p.index.as_deref()).or_default().push(p);
    }
    let base = Container::online(&repo.config.toolchain.python_image)
        .user(&owner_of(tmp)?)
        .with(&crate::hostenv::pip())
        .mount(tmp, "/work");
    for (n, (index, group)) in by_index.iter().enumerate() {
        let req: String = group
            .iter()
            .map(|p| {
                let hashes: String =
                    p.files.iter().map(|f| format!(" --hash={}", f.sha256.prefixed())).collect();
                format!("{}=={}{hashes}\n", p.name, p.version)
            })
            .collect();
        fs::write(tmp.join(format!("req-{n}.txt")), req)?;
        let mut pip: Vec<String> = [
            "python3",
            "-m",
            "pip",
            "download",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--prefer-binary",
        ]
        .map(String::from)
        .to_vec();
        if let Some(url) = index {
            pip.extend(["--index-url".to_string(), url.to_string()]);
        }
        pip.extend([
            "--dest".into(),
            "/work/files".into(),
            "-r".into(),
            format!("/work/req-{n}.txt"),
        ]);
        session.engine()?.run(&session.sh, &base.clone().command(pip)).with_context(|| {
            let names: Vec<&str> = group.iter().map(|p| p.name.as_str()).collect();
            format!("download {} from {}", names.join(", "), index.unwrap_or("the default index"))
        })?;
    }
    let files = tmp.join("files");
    let mut sdists = Vec::new();
    for entry in files.read_dir_utf8().with_context(|| format!("read folder {files}"))? {
        let entry = entry?;
        // What a container wrote is read only if it is a plain file, never through a symlink.
        if !entry.file_type()?.is_file() {
            bail!("the download left {}, which is not a regular file", entry.file_name());
        }
        let path = entry.into_path();
        let name = path.file_name().unwrap_or_default().to_string();
        let actual = Sha256::of(&fs::read(&path)?);
        let allowed =
            missing.iter().any(|p| p.files.iter().any(|f| f.name == name && f.sha256 == actual));
        if !allowed {
            bail!(
                "{name}: its sha256 does not match poetry.lock; the file was discarded (a \
                 tampered or changed index?)"
            );
        }
        if WheelName::parse(&name).is_some() {
            fs::rename(&path, house.join(&name))?;
        } else {
            sdists.push((name, actual));
        }
    }
    Ok(sdists)
}

/// Builds wheels from verified sdists in the build image, offline, with the backends the build
/// image carries (poetry-core, setuptools), and files each under its sdist's hash.
fn build_sdists(
    session: &Session,
    house: &Utf8Path,
    tmp: &Utf8Path,
    sdists: &[(String, Sha256)],
) -> Result<()> {
    let image = session.build_image()?;
    let base = Container::offline(image).user(&owner_of(tmp)?).env("HOME=/tmp").mount(tmp, "/work");
    for (name, hash) in sdists {
        let pip = [
            "python3",
            "-m",
            "pip",
            "wheel",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
        ];
        let out_dir = format!("/work/built/{hash}");
        let sdist = format!("/work/files/{name}");
        let container =
            base.clone().command(pip.iter().map(ToString::to_string).chain([out_dir, sdist]));
        session.engine()?.run(&session.sh, &container).with_context(|| {
            format!(
                "build a wheel from the sdist {name} (offline, in the build image; its build \
                 backend must be poetry-core or setuptools)"
            )
        })?;
    }
    let built = tmp.join("built");
    let cache = WheelCache::new(house.join(FROM_SDIST));
    for (_, hash) in sdists {
        let dir = built.join(hash.hex());
        let wheel = dir
            .read_dir_utf8()
            .with_context(|| format!("read folder {dir}"))?
            .filter_map(Result::ok)
            .find(|e| e.file_name().ends_with(".whl") && e.file_type().is_ok_and(|t| t.is_file()));
        let wheel = wheel.with_context(|| format!("no wheel came out of the sdist {hash}"))?;
        cache.put(hash.hex(), wheel.file_name(), &fs::read(wheel.path())?)?;
    }
    Ok(())
}
