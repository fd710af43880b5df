//! PEP 751 pylock.toml: a flat list of packages, each kept when its marker and
//! `requires-python` hold for the runtime (with the dependency groups asked for); local folders
//! (`directory`) are the repo's own packages.

use std::collections::BTreeSet;

use toml::{Table, Value};

use super::{file_of_url, LockError, LockedFile, Pinned, Request};
use crate::hash::Sha256;
use crate::model::markers::{evaluate, Env};
use crate::model::names::{normalize, PackageName};
use crate::model::versions::Constraint;

pub struct Lock {
    pub packages: Vec<Package>,
    /// `default-groups`: installed unless others are asked for.
    pub default_groups: Vec<String>,
    /// `dependency-groups`: every group the lock can install.
    pub groups: Vec<String>,
}

pub struct Package {
    pub name: PackageName,
    pub version: Option<String>,
    pub marker: Option<String>,
    pub requires_python: Option<String>,
    pub index: Option<String>,
    pub files: Vec<LockedFile>,
    /// `directory`, `vcs` or `archive`: the kind, when not files from an index.
    pub other: Option<String>,
}

pub fn parse(text: &str) -> Result<Lock, String> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.to_string().trim_end()))?;
    let version = doc.get("lock-version").and_then(Value::as_str).unwrap_or_default();
    if !version.starts_with("1.") {
        return Err(format!("lock-version {version:?}: xtask reads pylock.toml version 1.x"));
    }
    let strings = |k: &str| -> Vec<String> {
        doc.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(normalize)
            .collect()
    };
    let entries =
        doc.get("packages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    Ok(Lock {
        packages: entries.iter().map(package).collect::<Result<_, _>>()?,
        default_groups: strings("default-groups"),
        groups: strings("dependency-groups"),
    })
}

fn package(p: &Value) -> Result<Package, String> {
    let name =
        p.get("name").and_then(Value::as_str).ok_or("a [[packages]] entry without a name")?;
    let get = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let mut files: Vec<LockedFile> =
        p.get("wheels").and_then(Value::as_array).into_iter().flatten().filter_map(file).collect();
    files.extend(p.get("sdist").and_then(file));
    let other = ["directory", "vcs", "archive"]
        .into_iter()
        .find(|k| p.get(*k).is_some())
        .map(str::to_string);
    Ok(Package {
        name: PackageName::new(name),
        version: get("version"),
        marker: get("marker"),
        requires_python: get("requires-python"),
        index: get("index"),
        files,
        other,
    })
}

/// A wheel or sdist: its name (or its URL's last segment) and its sha256.
fn file(f: &Value) -> Option<LockedFile> {
    let url = f.get("url").and_then(Value::as_str).map(str::to_string);
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| file_of_url(url.as_deref()?))?;
    let sha256 = Sha256::from_hex(f.get("hashes")?.get("sha256")?.as_str()?)?;
    super::plain_file_name(&name).then_some(LockedFile { name, sha256, url })
}

/// Every package whose marker and `requires-python` hold, but the local folders.
pub fn third_party(lock: &Lock, request: &Request) -> Result<Vec<Pinned>, LockError> {
    let groups: BTreeSet<String> = if request.all_groups {
        lock.groups.iter().cloned().collect()
    } else {
        lock.default_groups.iter().cloned().collect()
    };
    let extras: BTreeSet<String> = request.extras.iter().cloned().collect();
    let env = Env { runtime: request.runtime, extras: &extras, groups: &groups };
    let mut out: Vec<Pinned> = Vec::new();
    for p in &lock.packages {
        let marker_ok = p
            .marker
            .as_deref()
            .map_or(Ok(true), |m| evaluate(m, &env))
            .map_err(LockError::Invalid)?;
        let python_ok = p.requires_python.as_deref().is_none_or(|r| {
            Constraint::pep440(r).is_ok_and(|c| c.allows(&request.runtime.python_full_version))
        });
        if !marker_ok || !python_ok {
            continue;
        }
        match p.other.as_deref() {
            Some("directory") => continue,
            Some(kind) => {
                return Err(LockError::Unsupported {
                    name: p.name.clone(),
                    source: format!("a {kind} entry of pylock.toml"),
                })
            }
            None => {}
        }
        if out.iter().any(|o| o.name == p.name) {
            let why = "this runtime: the lock lists it twice without markers that tell them apart"
                .to_string();
            return Err(LockError::NoVersion { name: p.name.clone(), why });
        }
        let version = p
            .version
            .clone()
            .ok_or_else(|| LockError::Invalid(format!("{}: no version", p.name)))?;
        out.push(Pinned {
            name: p.name.clone(),
            version,
            files: p.files.clone(),
            index: p.index.clone(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
