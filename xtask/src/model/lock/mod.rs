//! Locks, read without I/O: poetry.lock (1.1 to 2.1), uv.lock and PEP 751 pylock.toml, and the
//! third-party set a project installs from each, chosen by markers and version constraints for
//! the runtime.

use std::collections::BTreeSet;
use std::fmt;

use super::markers::{evaluate, Env};
use super::names::PackageName;
use super::versions::Constraint;
use crate::hash::Sha256;
use crate::runtime::Runtime;

pub mod poetry;
pub mod poetry_hash;
pub mod pylock;
pub mod uv;

/// Which lock a project has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Poetry,
    Uv,
    Pylock,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Poetry => "poetry.lock",
            Format::Uv => "uv.lock",
            Format::Pylock => "pylock.toml",
        })
    }
}

/// One distribution file a lock allows, with its pinned digest and, where the lock says, its
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedFile {
    pub name: String,
    pub sha256: Sha256,
    pub url: Option<String>,
}

/// A third-party distribution to install, pinned, with the files the lock allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    pub name: PackageName,
    pub version: String,
    pub files: Vec<LockedFile>,
    /// The package index it comes from (a simple-API URL), when the lock names one.
    pub index: Option<String>,
}

/// A requirement of the project itself: a dependency from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub name: PackageName,
    pub extras: Vec<String>,
    pub markers: Option<String>,
    /// Poetry's per-dependency Python constraint (`python = ">=3.9"`).
    pub python: Option<String>,
    /// The version constraint as written (Poetry syntax or PEP 440), to pick among several
    /// locked versions of one name.
    pub constraint: Option<String>,
}

/// What to read out of a lock.
pub struct Request<'a> {
    /// The project's own name (uv.lock and pylock list the project itself).
    pub project: &'a PackageName,
    /// Its dependencies, as its manifest declares them (poetry.lock does not list the project).
    pub roots: &'a [Root],
    /// Every dependency group, not only the main dependencies (the dev environment).
    pub all_groups: bool,
    /// Extras of the project itself to install (normalised).
    pub extras: &'a [String],
    pub runtime: &'a Runtime,
}

/// Why the third-party set cannot be read from a lock.
#[derive(Debug, PartialEq)]
pub enum LockError {
    /// A dependency the lock does not list: the lock is older than a manifest.
    Missing(PackageName),
    /// The lock lists the name, but no version of it that the runtime and constraint allow.
    NoVersion { name: PackageName, why: String },
    /// A source xtask cannot pin by hash (git, a URL, a local archive).
    Unsupported { name: PackageName, source: String },
    /// A marker, requirement or table in the lock that does not parse.
    Invalid(String),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Missing(name) => write!(f, "it has no package {name:?}"),
            LockError::NoVersion { name, why } => {
                write!(f, "it has no version of {name:?} for {why}")
            }
            LockError::Unsupported { name, source } => write!(
                f,
                "{name:?} comes from {source}, which xtask cannot pin by hash; publish it to a \
                 package index, or make it a local package of the repo"
            ),
            LockError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LockError {}

/// Whether `marker` (none: always) holds for the runtime with `extras` requested.
pub fn holds(
    marker: Option<&str>,
    runtime: &Runtime,
    extras: &BTreeSet<String>,
) -> Result<bool, LockError> {
    let groups = BTreeSet::new();
    let env = Env { runtime, extras, groups: &groups };
    marker.map_or(Ok(true), |m| evaluate(m, &env)).map_err(LockError::Invalid)
}

/// Whether a Poetry Python constraint (`>=3.8,<3.10`, `^3.9`) allows the runtime's Python.
pub fn python_allows(constraint: Option<&str>, runtime: &Runtime) -> bool {
    constraint
        .is_none_or(|c| Constraint::poetry(c).is_ok_and(|c| c.allows(&runtime.python_full_version)))
}

/// A lock names files that xtask stores in its wheelhouse: never a path.
pub fn plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// The last segment of a URL's path: the file a lock entry without a name points at.
pub fn file_of_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    plain_file_name(name).then(|| name.to_string())
}

/// Reads the third-party set out of a lock's text.
pub fn third_party(
    format: Format,
    text: &str,
    request: &Request,
) -> Result<Vec<Pinned>, LockError> {
    let pinned = match format {
        Format::Poetry => {
            poetry::third_party(&poetry::parse(text).map_err(LockError::Invalid)?, request)
        }
        Format::Uv => uv::third_party(&uv::parse(text).map_err(LockError::Invalid)?, request),
        Format::Pylock => {
            pylock::third_party(&pylock::parse(text).map_err(LockError::Invalid)?, request)
        }
    }?;
    pinned.iter().try_for_each(well_formed)?;
    Ok(pinned)
}

/// What a lock says goes into pip requirement lines, file names and URLs: a name that is a
/// PEP 508 name, a PEP 440 version, file names and index URLs without spaces or control
/// characters. Anything else (a newline smuggling a pip option, say) is refused.
fn well_formed(p: &Pinned) -> Result<(), LockError> {
    let bad = |what: &str, value: &str| {
        LockError::Invalid(format!("package {:?}: {what} {value:?} is not valid", p.name.as_str()))
    };
    PackageName::parse(p.name.as_str()).map_err(|_| bad("the name", p.name.as_str()))?;
    p.version.parse::<pep440_rs::Version>().map_err(|_| bad("the version", &p.version))?;
    let clean = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if let Some(f) = p.files.iter().find(|f| !plain_file_name(&f.name) || !clean(&f.name)) {
        return Err(bad("the file name", &f.name));
    }
    let urls = p.index.iter().chain(p.files.iter().filter_map(|f| f.url.as_ref()));
    if let Some(url) = urls.into_iter().find(|u| !clean(u)) {
        return Err(bad("the URL", url));
    }
    Ok(())
}
