//! uv.lock: the project and every workspace member are entries themselves (editable, directory
//! or virtual sources); several versions of one name are told apart by the `version` a
//! dependency names and by their resolution markers. Files come with URLs and hashes.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use super::{file_of_url, holds, LockError, LockedFile, Pinned, Request};
use crate::hash::Sha256;
use crate::model::names::{normalize, PackageName};
use crate::runtime::Runtime;

pub struct Lock {
    pub packages: Vec<Package>,
}

pub struct Package {
    pub name: PackageName,
    pub version: String,
    pub source: Source,
    pub deps: Vec<Dep>,
    /// Extra (normalised) to what it adds.
    pub optional: BTreeMap<String, Vec<Dep>>,
    /// Dependency group (normalised) to its requirements.
    pub groups: BTreeMap<String, Vec<Dep>>,
    pub files: Vec<LockedFile>,
    pub resolution_markers: Vec<String>,
}

/// Where an entry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Registry(String),
    /// A local package of the repo (`editable`, `directory`, `virtual`), by relative path.
    Local(String),
    /// Something xtask cannot pin by hash (`git`, `url`, `path` to an archive).
    Other(String),
}

pub struct Dep {
    pub name: PackageName,
    pub version: Option<String>,
    pub extras: Vec<String>,
    pub marker: Option<String>,
}

pub fn parse(text: &str) -> Result<Lock, String> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.to_string().trim_end()))?;
    let entries =
        doc.get("package").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    Ok(Lock { packages: entries.iter().map(package).collect::<Result<_, _>>()? })
}

fn package(p: &Value) -> Result<Package, String> {
    let name = PackageName::new(
        p.get("name").and_then(Value::as_str).ok_or("a [[package]] without a name")?,
    );
    let source = match p.get("source").and_then(Value::as_table) {
        Some(s) if s.contains_key("registry") => Source::Registry(str_of(s, "registry")),
        Some(s) => {
            match ["editable", "directory", "virtual"].iter().find(|k| s.contains_key(**k)) {
                Some(k) => Source::Local(str_of(s, k)),
                None => Source::Other(
                    s.iter()
                        .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            }
        }
        None => Source::Other("no source".into()),
    };
    let dep_lists = |key: &str| -> BTreeMap<String, Vec<Dep>> {
        let table = p.get(key).and_then(Value::as_table);
        table.map(|t| t.iter().map(|(k, v)| (normalize(k), deps(v))).collect()).unwrap_or_default()
    };
    let mut files: Vec<LockedFile> =
        p.get("wheels").and_then(Value::as_array).into_iter().flatten().filter_map(file).collect();
    files.extend(p.get("sdist").and_then(file));
    let markers = p.get("resolution-markers").and_then(Value::as_array);
    Ok(Package {
        name,
        version: p.get("version").and_then(Value::as_str).unwrap_or_default().to_string(),
        source,
        deps: p.get("dependencies").map(deps).unwrap_or_default(),
        optional: dep_lists("optional-dependencies"),
        groups: dep_lists("dev-dependencies"),
        files,
        resolution_markers: markers
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    })
}

fn str_of(t: &Table, k: &str) -> String {
    t.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn deps(v: &Value) -> Vec<Dep> {
    let dep = |d: &Value| -> Option<Dep> {
        let get = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
        let extras = d.get("extra").and_then(Value::as_array).into_iter().flatten();
        Some(Dep {
            name: PackageName::new(d.get("name")?.as_str()?),
            version: get("version"),
            extras: extras.filter_map(Value::as_str).map(normalize).collect(),
            marker: get("marker"),
        })
    };
    v.as_array().into_iter().flatten().filter_map(dep).collect()
}

/// `{ url, hash }` of a wheel or sdist; the file name is the URL's last segment.
fn file(f: &Value) -> Option<LockedFile> {
    let url = f.get("url").and_then(Value::as_str)?;
    let sha256 = Sha256::from_prefixed(f.get("hash")?.as_str()?)?;
    Some(LockedFile { name: file_of_url(url)?, sha256, url: Some(url.to_string()) })
}

/// Walks the lock from the project's own entry: its dependencies (and every dependency group
/// with `all_groups`), extras propagated, markers judged for the runtime.
pub fn third_party(lock: &Lock, request: &Request) -> Result<Vec<Pinned>, LockError> {
    let start = lock
        .packages
        .iter()
        .position(|p| p.name == *request.project && matches!(p.source, Source::Local(_)))
        .ok_or_else(|| LockError::Missing(request.project.clone()))?;
    let asked: BTreeSet<String> = request.extras.iter().cloned().collect();
    let mut want: BTreeMap<usize, BTreeSet<String>> = BTreeMap::from([(start, asked)]);
    let mut queue = vec![start];
    while let Some(idx) = queue.pop() {
        let p = &lock.packages[idx];
        let extras = want[&idx].clone();
        let mut edges: Vec<&Dep> = p.deps.iter().collect();
        edges.extend(extras.iter().filter_map(|e| p.optional.get(e)).flatten());
        if idx == start && request.all_groups {
            edges.extend(p.groups.values().flatten());
        }
        for dep in edges {
            if !holds(dep.marker.as_deref(), request.runtime, &extras)? {
                continue;
            }
            let target = choose(lock, dep, request.runtime)?;
            // (Re)visit a target that is new or asked for more extras than before.
            let fresh = !want.contains_key(&target);
            let entry = want.entry(target).or_default();
            let before = entry.len();
            entry.extend(dep.extras.iter().cloned());
            if fresh || entry.len() > before {
                queue.push(target);
            }
        }
    }
    let mut out = Vec::new();
    for &idx in want.keys() {
        let p = &lock.packages[idx];
        match &p.source {
            Source::Local(_) => {}
            Source::Registry(index) => out.push(Pinned {
                name: p.name.clone(),
                version: p.version.clone(),
                files: p.files.clone(),
                index: Some(index.clone()),
            }),
            Source::Other(what) => {
                return Err(LockError::Unsupported { name: p.name.clone(), source: what.clone() })
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The entry a dependency means: by name and, when it says, version; among several, the one
/// whose resolution markers hold for the runtime.
fn choose(lock: &Lock, dep: &Dep, runtime: &Runtime) -> Result<usize, LockError> {
    let named: Vec<usize> = (0..lock.packages.len())
        .filter(|&i| {
            lock.packages[i].name == dep.name
                && dep.version.as_ref().is_none_or(|v| *v == lock.packages[i].version)
        })
        .collect();
    match named.as_slice() {
        [] => Err(LockError::Missing(dep.name.clone())),
        [one] => Ok(*one),
        many => {
            let none = BTreeSet::new();
            for &i in many {
                let markers = &lock.packages[i].resolution_markers;
                let mut any = markers.is_empty();
                for m in markers {
                    any |= holds(Some(m), runtime, &none)?;
                }
                if any {
                    return Ok(i);
                }
            }
            Err(LockError::NoVersion {
                name: dep.name.clone(),
                why: format!("Python {}", runtime.python_full_version),
            })
        }
    }
}

/// What the lock recorded of a member's own requirements (`[package.metadata] requires-dist`):
/// (name, version specifier) pairs, to tell a stale lock from a fresh one without uv.
pub fn recorded_requirements(
    text: &str,
    project: &PackageName,
) -> Result<Option<Vec<(PackageName, String)>>, String> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.to_string().trim_end()))?;
    let entries =
        doc.get("package").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let own = entries.iter().find(|p| {
        p.get("name").and_then(Value::as_str).is_some_and(|n| PackageName::new(n) == *project)
            && p.get("source")
                .and_then(Value::as_table)
                .is_some_and(|s| !s.contains_key("registry"))
    });
    let Some(own) = own else { return Ok(None) };
    let dist = own.get("metadata").and_then(|m| m.get("requires-dist")).and_then(Value::as_array);
    let reqs = dist.into_iter().flatten().filter_map(|r| {
        let name = PackageName::new(r.get("name")?.as_str()?);
        let spec = r.get("specifier").and_then(Value::as_str).unwrap_or_default();
        Some((name, canonical_specifier(spec)))
    });
    let mut reqs: Vec<(PackageName, String)> = reqs.collect();
    reqs.sort();
    reqs.dedup();
    Ok(Some(reqs))
}

/// A specifier set in one spelling: clauses without spaces, sorted (`>=1.16,<2` and
/// `<2, >=1.16` are one set).
pub fn canonical_specifier(spec: &str) -> String {
    let mut clauses: Vec<String> =
        spec.split(',').map(|c| c.replace(' ', "")).filter(|c| !c.is_empty()).collect();
    clauses.sort();
    clauses.join(",")
}

#[cfg(test)]
#[path = "uv_tests.rs"]
mod tests;
