//! Source distributions: their build system read from the archive, and the archive unpacked
//! safely (regular files and folders only, never a path that leaves the destination).

use std::io::Read;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use crate::model::manifest::{BuildSystem, LEGACY_BACKEND};

/// What pip builds a source tree without `[build-system]` with.
const LEGACY_REQUIRES: [&str; 2] = ["setuptools>=40.8.0", "wheel"];

/// Every regular file of an sdist (`.tar.gz` or `.zip`): `(path, bytes)`.
fn members(path: &Utf8Path) -> Result<Vec<(String, Vec<u8>, u32)>> {
    let name = path.file_name().unwrap_or_default();
    let mut out = Vec::new();
    if name.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(fs::File::open(path)?)?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i)?;
            if entry.is_file() {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                let mode = entry.unix_mode().unwrap_or(0o644);
                out.push((entry.name().to_string(), bytes, mode));
            }
        }
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let gz = flate2::read::GzDecoder::new(fs::File::open(path)?);
        let mut archive = tar::Archive::new(gz);
        for entry in archive.entries()? {
            let mut entry = entry?;
            if entry.header().entry_type().is_file() {
                let rel = entry.path()?.to_string_lossy().into_owned();
                let mode = entry.header().mode().unwrap_or(0o644);
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                out.push((rel, bytes, mode));
            }
        }
    } else {
        bail!("{name}: not an sdist xtask can read (.tar.gz or .zip)");
    }
    Ok(out)
}

/// A member path made safe: relative, no `..`, no empty or `.` parts.
fn safe(rel: &str) -> Option<String> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let ok = !rel.starts_with('/') && !parts.is_empty() && parts.iter().all(|p| *p != "..");
    ok.then(|| parts.join("/"))
}

/// The build system of an sdist: its top-level `pyproject.toml` with PEP 517's defaults, or
/// setuptools' legacy backend (with `wheel`, as pip does) when it has none.
pub fn build_system(path: &Utf8Path) -> Result<BuildSystem> {
    let shown = path.file_name().unwrap_or_default();
    let members = members(path).with_context(|| format!("read the sdist {shown}"))?;
    let pyproject = members.iter().find(|(rel, _, _)| {
        safe(rel).is_some_and(|r| r.split('/').count() == 2 && r.ends_with("/pyproject.toml"))
    });
    let legacy = || BuildSystem {
        requires: LEGACY_REQUIRES.map(String::from).to_vec(),
        backend: LEGACY_BACKEND.to_string(),
        backend_path: Vec::new(),
    };
    let Some((_, bytes, _)) = pyproject else { return Ok(legacy()) };
    let text = String::from_utf8_lossy(bytes);
    let doc: toml::Table =
        text.parse().map_err(|e| anyhow::anyhow!("{shown}: pyproject.toml is not TOML: {e}"))?;
    let Some(system) = doc.get("build-system").and_then(toml::Value::as_table) else {
        return Ok(legacy());
    };
    let strings = |key: &str| -> Vec<String> {
        let items = system.get(key).and_then(toml::Value::as_array);
        items.into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
    };
    let backend = system.get("build-backend").and_then(toml::Value::as_str);
    let backend_path = strings("backend-path");
    if let Some(bad) = backend_path.iter().find(|p| safe(p).is_none()) {
        bail!("{shown}: [build-system] backend-path {bad:?} leaves the source tree");
    }
    Ok(BuildSystem {
        requires: strings("requires"),
        backend: backend.unwrap_or(LEGACY_BACKEND).to_string(),
        backend_path,
    })
}

/// Unpacks an sdist into the empty folder `dest`; returns its top folder (the source tree).
pub fn unpack(path: &Utf8Path, dest: &Utf8Path) -> Result<Utf8PathBuf> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    let shown = path.file_name().unwrap_or_default();
    let mut top: Option<String> = None;
    for (rel, bytes, mode) in members(path).with_context(|| format!("read the sdist {shown}"))? {
        let Some(rel) = safe(&rel) else {
            bail!("{shown}: the member {rel:?} would leave the folder")
        };
        let first = rel.split('/').next().unwrap_or_default().to_string();
        top.get_or_insert(first);
        let to = dest.join(&rel);
        fs::create_dir_all(to.parent().unwrap_or(dest))?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o755 | 0o600)
            .open(&to)?;
        file.write_all(&bytes)?;
    }
    let top = top.with_context(|| format!("{shown} is empty"))?;
    Ok(dest.join(top))
}

#[cfg(test)]
mod tests {
    #[test]
    fn member_paths_never_leave() {
        assert_eq!(super::safe("pkg-1.0/setup.py").as_deref(), Some("pkg-1.0/setup.py"));
        assert_eq!(super::safe("./pkg-1.0//a"), Some("pkg-1.0/a".into()));
        assert!(super::safe("../etc/passwd").is_none());
        assert!(super::safe("/etc/passwd").is_none());
        assert!(super::safe("pkg/../../x").is_none());
    }
}
