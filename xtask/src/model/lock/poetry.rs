//! poetry.lock (lock versions 1.1, 2.0 and 2.1): one name may appear several times, each entry
//! for other Pythons or platforms; the entry is chosen by its own markers (2.1) and by the
//! version constraint of whoever requires it.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use super::{holds, plain_file_name, python_allows, LockError, LockedFile, Pinned, Request};
use crate::hash::Sha256;
use crate::model::names::{normalize, parse_requirement, PackageName};
use crate::model::versions::{Constraint, Version};
use crate::runtime::Runtime;

pub struct Lock {
    pub packages: Vec<LockedPackage>,
    /// The Poetry that wrote it (`1.8.5`), from the lock's first line.
    pub written_by: Option<String>,
    pub content_hash: Option<String>,
}

pub struct LockedPackage {
    pub name: PackageName,
    pub version: String,
    /// `legacy`, `directory`, `file`, `git`, `url`, … or empty for the default index.
    pub source_type: String,
    pub source_url: Option<String>,
    pub files: Vec<LockedFile>,
    pub deps: Vec<LockDep>,
    /// Extra name to the requirement strings it adds.
    pub extras: BTreeMap<String, Vec<String>>,
    /// Lock 2.1: where this entry applies (one marker, or one per dependency group).
    pub markers: Vec<String>,
}

pub struct LockDep {
    pub name: PackageName,
    pub constraint: Option<String>,
    pub optional: bool,
    pub markers: Option<String>,
    pub python: Option<String>,
    pub extras: Vec<String>,
}

pub fn parse(text: &str) -> Result<Lock, String> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.to_string().trim_end()))?;
    let legacy_files = doc.get("metadata").and_then(|m| m.get("files")).and_then(Value::as_table);
    let entries = doc.get("package").and_then(Value::as_array).map(Vec::as_slice);
    let packages = entries.unwrap_or_default().iter().map(|p| package(p, legacy_files)).collect();
    let written_by = text
        .lines()
        .next()
        .and_then(|l| l.split("by Poetry ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    let content_hash = doc
        .get("metadata")
        .and_then(|m| m.get("content-hash"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Lock { packages, written_by, content_hash })
}

fn package(p: &Value, legacy_files: Option<&Table>) -> LockedPackage {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let name = PackageName::new(&s("name"));
    // Lock 1.1 keeps file hashes in [metadata.files], keyed by the package name.
    let files_value = p.get("files").or_else(|| {
        let legacy = legacy_files?.iter().find(|(k, _)| PackageName::new(k) == name);
        legacy.map(|(_, v)| v)
    });
    let source = p.get("source");
    let source_str = |k: &str| source.and_then(|x| x.get(k)).and_then(Value::as_str);
    let markers = match p.get("markers") {
        Some(Value::String(m)) => vec![m.clone()],
        Some(Value::Table(by_group)) => {
            by_group.values().filter_map(Value::as_str).map(str::to_string).collect()
        }
        _ => Vec::new(),
    };
    LockedPackage {
        name,
        version: s("version"),
        source_type: source_str("type").unwrap_or_default().to_string(),
        source_url: source_str("url").map(str::to_string),
        files: files_value.and_then(Value::as_array).map(|fs| files(fs)).unwrap_or_default(),
        deps: p.get("dependencies").and_then(Value::as_table).map(deps).unwrap_or_default(),
        extras: p.get("extras").and_then(Value::as_table).map(extras).unwrap_or_default(),
        markers,
    }
}

/// `files = [{file, hash}]`; entries without a sha256, or whose name is not a plain file
/// name, are not files xtask can verify or store.
fn files(entries: &[Value]) -> Vec<LockedFile> {
    let file = |f: &Value| {
        let sha256 = Sha256::from_prefixed(f.get("hash")?.as_str()?)?;
        let name = f.get("file")?.as_str()?;
        plain_file_name(name).then(|| LockedFile { name: name.to_string(), sha256, url: None })
    };
    entries.iter().filter_map(file).collect()
}

/// `[package.dependencies]`: a constraint, a table, or a list of them split by markers.
fn deps(table: &Table) -> Vec<LockDep> {
    let mut deps = Vec::new();
    for (dep, spec) in table {
        let entries: Vec<&Value> = match spec {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for e in entries {
            let get = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            let extras = e.get("extras").and_then(Value::as_array);
            deps.push(LockDep {
                name: PackageName::new(dep),
                constraint: e.as_str().map(str::to_string).or_else(|| get("version")),
                optional: e.get("optional").and_then(Value::as_bool).unwrap_or(false),
                markers: get("markers"),
                python: get("python"),
                extras: extras
                    .map(|x| x.iter().filter_map(Value::as_str).map(normalize).collect())
                    .unwrap_or_default(),
            });
        }
    }
    deps
}

/// `[package.extras]`: extra name (normalised) to the requirement strings it adds.
fn extras(table: &Table) -> BTreeMap<String, Vec<String>> {
    let reqs = |v: &Value| -> Vec<String> {
        let items = v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string));
        items.map(Iterator::collect).unwrap_or_default()
    };
    table.iter().map(|(k, v)| (normalize(k), reqs(v))).collect()
}

/// Walks the lock from the project's dependencies, applying extras, markers and constraints
/// for the runtime; local directories are walked, not listed.
pub fn third_party(lock: &Lock, request: &Request) -> Result<Vec<Pinned>, LockError> {
    let mut walk =
        Walk { lock, runtime: request.runtime, want: BTreeMap::new(), queue: Vec::new() };
    let no_extras = BTreeSet::new();
    for r in request.roots {
        if holds(r.markers.as_deref(), request.runtime, &no_extras)?
            && python_allows(r.python.as_deref(), request.runtime)
        {
            let idx = walk.choose(&r.name, r.constraint.as_deref())?;
            walk.request(idx, &r.extras);
        }
    }
    while let Some(idx) = walk.queue.pop() {
        walk.visit(idx)?;
    }
    let mut out = Vec::new();
    for &idx in walk.want.keys() {
        let p = &lock.packages[idx];
        match p.source_type.as_str() {
            "directory" => continue,
            "" | "legacy" => {}
            other => {
                let source = format!("{other} {}", p.source_url.as_deref().unwrap_or_default());
                return Err(LockError::Unsupported { name: p.name.clone(), source });
            }
        }
        let index = (p.source_type == "legacy").then(|| p.source_url.clone()).flatten();
        out.push(Pinned {
            name: p.name.clone(),
            version: p.version.clone(),
            files: p.files.clone(),
            index,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The entries reached so far, with the extras requested of each, and those left to visit.
struct Walk<'a> {
    lock: &'a Lock,
    runtime: &'a Runtime,
    want: BTreeMap<usize, BTreeSet<String>>,
    queue: Vec<usize>,
}

impl Walk<'_> {
    /// The entry of `name` that applies: its own markers hold for the runtime, and its
    /// version satisfies `constraint` (the requirer's); the newest when several do.
    fn choose(&self, name: &PackageName, constraint: Option<&str>) -> Result<usize, LockError> {
        let candidates: Vec<usize> = (0..self.lock.packages.len())
            .filter(|&i| self.lock.packages[i].name == *name)
            .collect();
        if candidates.is_empty() {
            return Err(LockError::Missing(name.clone()));
        }
        let constraint =
            constraint.and_then(|c| Constraint::poetry(c).or_else(|_| Constraint::pep440(c)).ok());
        let mut fitting = Vec::new();
        for &i in &candidates {
            let p = &self.lock.packages[i];
            let version_ok = constraint.as_ref().is_none_or(|c| c.allows(&p.version));
            if version_ok && any_holds(&p.markers, self.runtime)? {
                fitting.push(i);
            }
        }
        let version = |i: &usize| self.lock.packages[*i].version.parse::<Version>().ok();
        fitting.into_iter().max_by_key(version).ok_or_else(|| LockError::NoVersion {
            name: name.clone(),
            why: format!(
                "Python {}{}",
                self.runtime.python_full_version,
                constraint.map(|c| format!(" within {c}")).unwrap_or_default()
            ),
        })
    }

    /// Asks for entry `idx` with `extras`; (re)visits it when new or asked for more extras.
    fn request(&mut self, idx: usize, extras: &[String]) {
        let fresh = !self.want.contains_key(&idx);
        let entry = self.want.entry(idx).or_default();
        let before = entry.len();
        entry.extend(extras.iter().cloned());
        if fresh || entry.len() > before {
            self.queue.push(idx);
        }
    }

    fn visit(&mut self, idx: usize) -> Result<(), LockError> {
        let pkg = &self.lock.packages[idx];
        let extras = self.want[&idx].clone();
        // Requirements that the requested extras add, with the extras they ask of their targets.
        let mut enabled: BTreeMap<PackageName, Vec<String>> = BTreeMap::new();
        for e in &extras {
            for req in pkg.extras.get(e).into_iter().flatten() {
                let r = parse_requirement(req.split(" (").next().unwrap_or(req))
                    .map_err(|e| LockError::Invalid(format!("{}: {e}", pkg.name)))?;
                enabled.entry(PackageName::new(&r.name)).or_default().extend(r.extras);
            }
        }
        for dep in &pkg.deps {
            let wanted = !dep.optional || enabled.contains_key(&dep.name);
            if !wanted
                || !holds(dep.markers.as_deref(), self.runtime, &extras)?
                || !python_allows(dep.python.as_deref(), self.runtime)
            {
                continue;
            }
            let mut dep_extras = dep.extras.clone();
            dep_extras.extend(enabled.get(&dep.name).cloned().unwrap_or_default());
            let target = self.choose(&dep.name, dep.constraint.as_deref())?;
            self.request(target, &dep_extras);
        }
        Ok(())
    }
}

/// Whether an entry applies: no markers, or one of them holds.
fn any_holds(markers: &[String], runtime: &Runtime) -> Result<bool, LockError> {
    let none = BTreeSet::new();
    for m in markers {
        if holds(Some(m), runtime, &none)? {
            return Ok(true);
        }
    }
    Ok(markers.is_empty())
}

#[cfg(test)]
#[path = "poetry_tests.rs"]
mod tests;
