//! poetry.lock (lock versions 1.1, 2.0, 2.1) and the third-party set a project installs from it.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use super::markers::{compare_versions, evaluate, Env};
use super::names::{normalize, parse_requirement, PackageName};
use crate::hash::Sha256;
use crate::runtime::Runtime;

pub struct Lock {
    pub packages: Vec<LockedPackage>,
}

pub struct LockedPackage {
    pub name: PackageName,
    pub version: String,
    /// `legacy`, `directory`, `file`, `git`, … or empty for the default index.
    pub source_type: String,
    pub source_url: Option<String>,
    pub files: Vec<LockedFile>,
    pub deps: Vec<LockDep>,
    /// Extra name to the requirement strings it adds.
    pub extras: BTreeMap<String, Vec<String>>,
}

/// One distribution file a lock allows, with its pinned digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedFile {
    pub name: String,
    pub sha256: Sha256,
}

pub struct LockDep {
    pub name: PackageName,
    pub optional: bool,
    pub markers: Option<String>,
    pub python: Option<String>,
    pub extras: Vec<String>,
}

/// A third-party distribution to install, pinned, with the files the lock allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    pub name: PackageName,
    pub version: String,
    pub files: Vec<LockedFile>,
    pub index: Option<String>,
}

pub fn parse_lock(text: &str) -> Result<Lock, String> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.to_string().trim_end()))?;
    let legacy_files = doc.get("metadata").and_then(|m| m.get("files")).and_then(Value::as_table);
    let entries = doc.get("package").and_then(Value::as_array).map(Vec::as_slice);
    let packages = entries.unwrap_or_default().iter().map(|p| package(p, legacy_files)).collect();
    Ok(Lock { packages })
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
    LockedPackage {
        name,
        version: s("version"),
        source_type: source_str("type").unwrap_or_default().to_string(),
        source_url: source_str("url").map(str::to_string),
        files: files_value.and_then(Value::as_array).map(|fs| files(fs)).unwrap_or_default(),
        deps: p.get("dependencies").and_then(Value::as_table).map(deps).unwrap_or_default(),
        extras: p.get("extras").and_then(Value::as_table).map(extras).unwrap_or_default(),
    }
}

/// `files = [{file, hash}]`; entries without a sha256, or whose name is not a plain file
/// name, are not files xtask can verify or store.
fn files(entries: &[Value]) -> Vec<LockedFile> {
    let file = |f: &Value| {
        let sha256 = Sha256::from_prefixed(f.get("hash")?.as_str()?)?;
        let name = f.get("file")?.as_str()?;
        plain_file_name(name).then(|| LockedFile { name: name.to_string(), sha256 })
    };
    entries.iter().filter_map(file).collect()
}

/// A lock names files that xtask stores in its wheelhouse: never a path.
pub fn plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
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

/// Why the third-party set cannot be read from a lock.
#[derive(Debug, PartialEq)]
pub enum LockError {
    /// A dependency the lock does not list: the lock is older than a manifest.
    Missing(PackageName),
    /// A marker or requirement in the lock that does not parse.
    Invalid(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Missing(name) => write!(f, "it has no package {name:?}"),
            LockError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LockError {}

/// A root requirement: a main dependency of the project (name, extras, markers).
pub struct Root {
    pub name: PackageName,
    pub extras: Vec<String>,
    pub markers: Option<String>,
}

/// Walks the lock from the project's main dependencies, applying extras and markers for
/// `runtime`, and returns the third-party packages (local directories are walked, not listed).
pub fn third_party(
    lock: &Lock,
    roots: &[Root],
    runtime: &Runtime,
) -> Result<Vec<Pinned>, LockError> {
    let mut walk = Walk { lock, runtime, want: BTreeMap::new(), queue: Vec::new() };
    let no_extras = BTreeSet::new();
    for r in roots {
        if marker_holds(r.markers.as_deref(), &env_for(runtime, &no_extras))? {
            walk.request(&r.name, &r.extras);
        }
    }
    while let Some(name) = walk.queue.pop() {
        walk.visit(&name)?;
    }
    let mut out = Vec::new();
    for name in walk.want.keys() {
        let p = find(lock, name)?;
        if matches!(p.source_type.as_str(), "directory" | "file") {
            continue;
        }
        let index = (p.source_type == "legacy").then(|| p.source_url.clone()).flatten();
        let (name, version, files) = (p.name.clone(), p.version.clone(), p.files.clone());
        out.push(Pinned { name, version, files, index });
    }
    Ok(out)
}

/// The packages reached so far, with the extras requested of each, and those left to visit.
struct Walk<'a> {
    lock: &'a Lock,
    runtime: &'a Runtime,
    want: BTreeMap<PackageName, BTreeSet<String>>,
    queue: Vec<PackageName>,
}

impl Walk<'_> {
    /// Asks for `name` with `extras`; (re)visits it when it is new or asked for more extras.
    fn request(&mut self, name: &PackageName, extras: &[String]) {
        let fresh = !self.want.contains_key(name);
        let entry = self.want.entry(name.clone()).or_default();
        let before = entry.len();
        entry.extend(extras.iter().cloned());
        if fresh || entry.len() > before {
            self.queue.push(name.clone());
        }
    }

    fn visit(&mut self, name: &PackageName) -> Result<(), LockError> {
        let pkg = find(self.lock, name)?;
        let extras = self.want[name].clone();
        // Requirements that the requested extras add, with the extras they ask of their targets.
        let mut enabled: BTreeMap<PackageName, Vec<String>> = BTreeMap::new();
        for e in &extras {
            for req in pkg.extras.get(e).into_iter().flatten() {
                let r = parse_requirement(req.split(" (").next().unwrap_or(req))
                    .map_err(|e| LockError::Invalid(format!("{}: {e}", pkg.name)))?;
                enabled.entry(PackageName::new(&r.name)).or_default().extend(r.extras);
            }
        }
        let env = env_for(self.runtime, &extras);
        let python = &self.runtime.python_full_version;
        for dep in &pkg.deps {
            let wanted = !dep.optional || enabled.contains_key(&dep.name);
            if !wanted
                || !marker_holds(dep.markers.as_deref(), &env)?
                || !dep.python.as_deref().is_none_or(|c| python_matches(c, python))
            {
                continue;
            }
            let mut dep_extras = dep.extras.clone();
            dep_extras.extend(enabled.get(&dep.name).cloned().unwrap_or_default());
            self.request(&dep.name, &dep_extras);
        }
        Ok(())
    }
}

fn marker_holds(marker: Option<&str>, env: &Env) -> Result<bool, LockError> {
    marker.map_or(Ok(true), |m| evaluate(m, env)).map_err(LockError::Invalid)
}

fn env_for<'a>(runtime: &'a Runtime, extras: &'a BTreeSet<String>) -> Env<'a> {
    Env { runtime, extras }
}

fn find<'a>(lock: &'a Lock, name: &PackageName) -> Result<&'a LockedPackage, LockError> {
    lock.packages.iter().find(|p| p.name == *name).ok_or_else(|| LockError::Missing(name.clone()))
}

/// Whether a Poetry Python constraint (`^3.8`, `>=3.8,<3.11`, `~3.9`, `3.8.*`, `a || b`) admits `python`.
pub fn python_matches(constraint: &str, python: &str) -> bool {
    constraint.split("||").any(|alt| {
        alt.split(',')
            .flat_map(|c| {
                c.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .split(' ')
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .all(|clause| clause_matches(&clause, python))
    })
}

fn clause_matches(clause: &str, v: &str) -> bool {
    use std::cmp::Ordering::*;
    let bump = |base: &str, depth: usize| -> String {
        let mut parts: Vec<u64> = base.split('.').filter_map(|p| p.parse().ok()).collect();
        parts.truncate(depth.max(1));
        if let Some(last) = parts.last_mut() {
            *last += 1;
        }
        parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
    };
    if clause == "*" {
        return true;
    }
    if let Some(b) = clause.strip_prefix('^') {
        let significant = b.split('.').position(|p| p != "0").unwrap_or(0);
        return compare_versions(v, b) != Less
            && compare_versions(v, &bump(b, significant + 1)) == Less;
    }
    if let Some(b) = clause.strip_prefix("~=") {
        let n = b.split('.').count();
        return compare_versions(v, b) != Less
            && compare_versions(v, &bump(b, n.saturating_sub(1))) == Less;
    }
    if let Some(b) = clause.strip_prefix('~') {
        let n = b.split('.').count();
        return compare_versions(v, b) != Less
            && compare_versions(v, &bump(b, if n > 1 { 2 } else { 1 })) == Less;
    }
    for (op, ok) in [
        (">=", &[Greater, Equal][..]),
        ("<=", &[Less, Equal]),
        ("!=", &[Less, Greater]),
        ("==", &[Equal]),
        (">", &[Greater]),
        ("<", &[Less]),
    ] {
        if let Some(b) = clause.strip_prefix(op) {
            let b = b.trim();
            if let Some(prefix) = b.strip_suffix(".*") {
                let inside = v.split('.').zip(prefix.split('.')).all(|(a, b)| a == b);
                return if op == "!=" { !inside } else { inside };
            }
            return ok.contains(&compare_versions(v, b));
        }
    }
    if let Some(prefix) = clause.strip_suffix(".*") {
        return v.split('.').zip(prefix.split('.')).all(|(a, b)| a == b);
    }
    compare_versions(v, clause) == Equal
}

#[cfg(test)]
mod tests;
