//! poetry.lock (lock versions 1.1, 2.0, 2.1) and the third-party set a project installs from it.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use super::markers::{compare_versions, evaluate, Env};
use super::names::{normalize, parse_requirement};

pub struct Lock {
    pub packages: Vec<LockedPackage>,
}

pub struct LockedPackage {
    pub name: String,
    pub version: String,
    /// `legacy`, `directory`, `file`, `git`, … or empty for the default index.
    pub source_type: String,
    pub source_url: Option<String>,
    /// `(file name, "sha256:…")`.
    pub files: Vec<(String, String)>,
    pub deps: Vec<LockDep>,
    /// Extra name to the requirement strings it adds.
    pub extras: BTreeMap<String, Vec<String>>,
}

pub struct LockDep {
    pub name: String,
    pub optional: bool,
    pub markers: Option<String>,
    pub python: Option<String>,
    pub extras: Vec<String>,
}

/// A third-party distribution to install, pinned, with the hashes the lock allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    pub name: String,
    pub version: String,
    pub files: Vec<(String, String)>,
    pub index: Option<String>,
}

pub fn parse_lock(text: &str) -> Result<Lock, String> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.to_string().trim_end()))?;
    let legacy_files = doc.get("metadata").and_then(|m| m.get("files")).and_then(Value::as_table);
    let mut packages = Vec::new();
    for p in doc.get("package").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let raw_name = s("name");
        let name = normalize(&raw_name);
        // Lock 1.1 keeps file hashes in [metadata.files], keyed by the package name.
        let files_value = p.get("files").or_else(|| {
            legacy_files.and_then(|f| f.iter().find(|(k, _)| normalize(k) == name).map(|(_, v)| v))
        });
        let files = files_value
            .and_then(Value::as_array)
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| {
                        Some((
                            f.get("file")?.as_str()?.to_string(),
                            f.get("hash")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut deps = Vec::new();
        if let Some(table) = p.get("dependencies").and_then(Value::as_table) {
            for (dep, spec) in table {
                let entries: Vec<&Value> = match spec {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for e in entries {
                    let get = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
                    deps.push(LockDep {
                        name: normalize(dep),
                        optional: e.get("optional").and_then(Value::as_bool).unwrap_or(false),
                        markers: get("markers"),
                        python: get("python"),
                        extras: e
                            .get("extras")
                            .and_then(Value::as_array)
                            .map(|x| x.iter().filter_map(Value::as_str).map(normalize).collect())
                            .unwrap_or_default(),
                    });
                }
            }
        }
        let extras = p
            .get("extras")
            .and_then(Value::as_table)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| {
                        let reqs = v.as_array().map(|a| {
                            a.iter().filter_map(Value::as_str).map(str::to_string).collect()
                        });
                        (normalize(k), reqs.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let source = p.get("source");
        packages.push(LockedPackage {
            name,
            version: s("version"),
            source_type: source
                .and_then(|x| x.get("type"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            source_url: source
                .and_then(|x| x.get("url"))
                .and_then(Value::as_str)
                .map(str::to_string),
            files,
            deps,
            extras,
        });
    }
    Ok(Lock { packages })
}

/// Why the third-party set cannot be read from a lock.
#[derive(Debug, PartialEq)]
pub enum LockError {
    /// A dependency the lock does not list: the lock is older than a manifest.
    Missing(String),
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
    pub name: String,
    pub extras: Vec<String>,
    pub markers: Option<String>,
}

/// Walks the lock from the project's main dependencies, applying extras and markers for
/// `runtime`, and returns the third-party packages (local directories are walked, not listed).
pub fn third_party(
    lock: &Lock,
    roots: &[Root],
    runtime: &crate::config::Runtime,
) -> Result<Vec<Pinned>, LockError> {
    let no_extras = BTreeSet::new();
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut queue: Vec<String> = Vec::new();
    let request = |want: &mut BTreeMap<String, BTreeSet<String>>,
                   queue: &mut Vec<String>,
                   name: &str,
                   extras: &[String]| {
        let fresh = !want.contains_key(name);
        let entry = want.entry(name.to_string()).or_default();
        let before = entry.len();
        entry.extend(extras.iter().cloned());
        if fresh || entry.len() > before {
            queue.push(name.to_string());
        }
    };
    for r in roots {
        if r.markers
            .as_deref()
            .map_or(Ok(true), |m| evaluate(m, &env_for(runtime, &no_extras)))
            .map_err(LockError::Invalid)?
        {
            request(&mut want, &mut queue, &r.name, &r.extras);
        }
    }
    while let Some(name) = queue.pop() {
        let pkg = find(lock, &name)?;
        let extras = want[&name].clone();
        // Requirements that the requested extras add, with the extras they ask of their targets.
        let mut enabled: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &extras {
            for req in pkg.extras.get(e).into_iter().flatten() {
                let r = parse_requirement(req.split(" (").next().unwrap_or(req))
                    .map_err(|e| LockError::Invalid(format!("{}: {e}", pkg.name)))?;
                enabled.entry(normalize(&r.name)).or_default().extend(r.extras);
            }
        }
        let env = env_for(runtime, &extras);
        for dep in &pkg.deps {
            if dep.optional && !enabled.contains_key(&dep.name) {
                continue;
            }
            if !dep
                .markers
                .as_deref()
                .map_or(Ok(true), |m| evaluate(m, &env))
                .map_err(LockError::Invalid)?
            {
                continue;
            }
            if !dep
                .python
                .as_deref()
                .is_none_or(|c| python_matches(c, &runtime.python_full_version))
            {
                continue;
            }
            let mut dep_extras = dep.extras.clone();
            dep_extras.extend(enabled.get(&dep.name).cloned().unwrap_or_default());
            request(&mut want, &mut queue, &dep.name, &dep_extras);
        }
    }
    let mut out = Vec::new();
    for name in want.keys() {
        let p = find(lock, name)?;
        if matches!(p.source_type.as_str(), "directory" | "file") {
            continue;
        }
        let index = (p.source_type == "legacy").then(|| p.source_url.clone()).flatten();
        out.push(Pinned {
            name: p.name.clone(),
            version: p.version.clone(),
            files: p.files.clone(),
            index,
        });
    }
    Ok(out)
}

fn env_for<'a>(runtime: &'a crate::config::Runtime, extras: &'a BTreeSet<String>) -> Env<'a> {
    Env {
        python_full_version: &runtime.python_full_version,
        sys_platform: &runtime.sys_platform,
        platform_machine: &runtime.platform_machine,
        extras,
    }
}

fn find<'a>(lock: &'a Lock, name: &str) -> Result<&'a LockedPackage, LockError> {
    lock.packages
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| LockError::Missing(name.to_string()))
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
