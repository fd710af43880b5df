//! Which Python a project runs on: the Pythons its manifest and those of every package in its
//! closure allow, checked against its runtime image, or, without a configured image, the
//! newest supported `python:<X.Y>-slim` they allow.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::config::CONFIG_PATH;
use crate::model::graph::Closure;
use crate::model::manifest::PythonConstraint;
use crate::model::versions::Constraint;
use crate::model::Repo;
use crate::pipeline::probe;
use crate::runtime::Runtime;
use crate::session::Session;
use crate::wheel::WheelName;

/// A project's runtime image and what its Python is.
#[derive(Debug, Clone)]
pub struct ProjectPython {
    pub image: String,
    pub runtime: Runtime,
}

/// How a runtime is learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// From the image (once per image id): what builds use.
    Image,
    /// The runtime last read from an image of that name, else from the image: enough for
    /// the wheels alone, which depend on the Python minor only; a warm run needs no engine.
    Known,
    /// No engine: the runtime last read, or the one a `python:<X.Y>` tag implies (dry runs).
    Assumed,
}

/// The runtime of the project `idx`, checked against the Python constraints of its closure
/// before anything slow.
pub fn of_project(session: &Session, idx: usize, how: Read) -> Result<ProjectPython> {
    let repo = session.repo()?;
    let pkg = &repo.graph.packages[idx];
    let closure = super::closure(repo, idx)?;
    let constraints = constraints(repo, &closure)?;
    let read = |image: &str| -> Result<Runtime> {
        match how {
            Read::Assumed => Ok(probe::remembered(repo, image)),
            Read::Known => probe::known(repo, image).map_or_else(|| session.runtime(image), Ok),
            Read::Image => session.runtime(image),
        }
    };
    // How many locked packages would be built from sdists on Python 3.`minor`: those that
    // publish wheels, none for it.
    let compiles = |minor: u32| {
        let runtime = Runtime::assumed_for(&format!("python:3.{minor}-slim"));
        super::resolve(repo, idx, super::Groups::Main, &runtime).map_or(usize::MAX, |r| {
            let lacking = r.pinned.iter().filter(|p| {
                let wheels: Vec<WheelName> =
                    p.files.iter().filter_map(|f| WheelName::parse(&f.name)).collect();
                !wheels.is_empty() && !wheels.iter().any(|w| w.fits(&runtime))
            });
            lacking.count()
        })
    };
    // A dry run asks no engine: the images this cache has read are the ones it counts on.
    let available = |image: &str| match how {
        Read::Assumed | Read::Known if probe::known(repo, image).is_some() => true,
        Read::Assumed => false,
        _ => session.engine().is_ok_and(|e| {
            e.image_id(&session.sh, image).is_ok_and(|id| id.is_some())
                || e.pull(&session.sh, image)
        }),
    };
    // An image whose exact Python a patch bound excludes (`<3.11.1`) is passed over for the
    // next candidate.
    let mut excluded = Vec::new();
    let (choice, runtime) = loop {
        let choice = choose(
            repo,
            &pkg.dir,
            &constraints,
            |image| read(image).ok().map(|r| r.python_full_version),
            compiles,
            available,
            &excluded,
        )?;
        let runtime = read(&choice.image)?;
        match choice.auto {
            Some(minor) if allowed(&constraints, &runtime.python_full_version).is_err() => {
                excluded.push(minor);
            }
            _ => break (choice, runtime),
        }
    };
    if let Some(note) = &choice.note {
        session.ui.line(note);
    }
    if let Err(why) = allowed(&constraints, &runtime.python_full_version) {
        let key = if repo.config.projects.get(&pkg.dir).is_some_and(|p| p.runtime_image.is_some()) {
            format!("[projects.\"{}\"] runtime_image", pkg.dir)
        } else {
            "[toolchain] python_image".to_string()
        };
        bail!(
            "{}: its runtime image {} has {why}; set {key} in {CONFIG_PATH} to an image with an \
             allowed Python, or widen the constraint",
            pkg.dir,
            choice.image
        );
    }
    Ok(ProjectPython { image: choice.image, runtime })
}

/// The Python minors xtask chooses among when no runtime image is configured, newest first.
pub const SUPPORTED: [u32; 5] = [13, 12, 11, 10, 9];

/// The image a project runs on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub image: String,
    /// The minor when xtask chose `python:<X.Y>-slim` itself.
    pub auto: Option<u32>,
    /// Set when the image was chosen for the project's Python constraint, not configured:
    /// the line that says so.
    pub note: Option<String>,
}

/// What the packages of a closure declare of Python: `(where, constraint)` pairs.
pub fn constraints(repo: &Repo, closure: &Closure) -> Result<Vec<(String, Constraint)>> {
    let mut out = Vec::new();
    for (i, _) in &closure.order {
        let pkg = &repo.graph.packages[*i];
        if let Some(c) = &pkg.manifest.requires_python {
            let text = match c {
                PythonConstraint::Pep440(t) | PythonConstraint::Poetry(t) => t,
            };
            let parsed = c
                .parse()
                .map_err(|e| anyhow::anyhow!("{} {}: {e}", pkg.manifest_path(), c.key()))?;
            out.push((format!("{} {} = {text:?}", pkg.manifest_path(), c.key()), parsed));
        }
    }
    Ok(out)
}

/// Whether every constraint allows some release of Python 3.`minor`.
fn allows_minor(constraints: &[(String, Constraint)], minor: u32) -> bool {
    // A minor is allowed when one of its releases is: its first, or a late patch (`>=3.11.4`).
    let probes = [format!("3.{minor}.0"), format!("3.{minor}.4"), format!("3.{minor}.99")];
    probes.iter().any(|v| constraints.iter().all(|(_, c)| c.allows(v)))
}

/// The runtime image of the project at `dir`: its `runtime_image`, else `[toolchain]
/// python_image` when its Python is allowed (`configured_python` says which, when known),
/// else `python:<X.Y>-slim` for the newest supported minor every constraint allows, preferring
/// one for which the lock has a wheel of every pinned package that publishes wheels
/// (`has_wheels`: a minor newer than the lock's wheels would compile sdists) and whose image
/// the engine has or can pull (`available`).
pub fn choose(
    repo: &Repo,
    dir: &str,
    constraints: &[(String, Constraint)],
    configured_python: impl Fn(&str) -> Option<String>,
    compiles: impl Fn(u32) -> usize,
    available: impl Fn(&str) -> bool,
    excluded: &[u32],
) -> Result<Choice> {
    if let Some(image) = repo.config.projects.get(dir).and_then(|p| p.runtime_image.clone()) {
        return Ok(Choice { image, auto: None, note: None });
    }
    if let Some(image) = &repo.config.toolchain.python_image {
        let allowed = configured_python(image).is_none_or(|v| allowed(constraints, &v).is_ok());
        if allowed {
            return Ok(Choice { image: image.clone(), auto: None, note: None });
        }
    }
    let allowed_minors: Vec<u32> = SUPPORTED
        .into_iter()
        .filter(|m| allows_minor(constraints, *m) && !excluded.contains(m))
        .collect();
    // Fewest sdists to compile first, the newest Python among equals; the first whose image is
    // available (asked in that order, so a better image the engine has spares any pull).
    // (Each count resolves the lock once: counted once, for the ranking and the note.)
    let cost: BTreeMap<u32, usize> = allowed_minors.iter().map(|&m| (m, compiles(m))).collect();
    let mut ranked = allowed_minors.clone();
    ranked.sort_by_key(|m| (cost[m], std::cmp::Reverse(*m)));
    let best = ranked.into_iter().find(|m| available(&format!("python:3.{m}-slim")));
    let Some(minor) = best.or(allowed_minors.first().copied()) else {
        let said: Vec<&str> = constraints.iter().map(|(w, _)| w.as_str()).collect();
        bail!(
            "{dir}: no supported Python (3.9 to 3.13) satisfies {}; widen the constraint, or set \
             [projects.\"{dir}\"] runtime_image in {CONFIG_PATH} to an image with a Python it allows",
            said.join(" and ")
        );
    };
    let image = format!("python:3.{minor}-slim");
    let said = constraints.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>().join(", ");
    let newest = allowed_minors.first().copied();
    let note = match (&repo.config.toolchain.python_image, newest) {
        (Some(configured), _) => Some(format!(
            "note: {dir} needs another Python than {configured} ({said}): it runs on {image}"
        )),
        (None, Some(newest)) if newest != minor => {
            let (missing, here) = (cost[&newest], cost.get(&minor).copied().unwrap_or(0));
            let why = if missing > here {
                format!(
                    "the lock has no wheel for it of {} package(s) that have one for 3.{minor} \
                     (they would be compiled)",
                    missing - here
                )
            } else {
                format!("the engine has no python:3.{newest}-slim and none could be pulled")
            };
            Some(format!("note: {dir} runs on {image}: Python 3.{newest} is allowed, but {why}"))
        }
        _ => None,
    };
    Ok(Choice { image, auto: Some(minor), note })
}

/// Checks the exact Python of the runtime image against every constraint: the error names
/// the declaration it breaks and what to change.
pub fn allowed(constraints: &[(String, Constraint)], python: &str) -> Result<(), String> {
    match constraints.iter().find(|(_, c)| !c.allows(python)) {
        Some((where_, _)) => Err(format!("Python {python} is not allowed by {where_}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> Vec<(String, Constraint)> {
        vec![("x".into(), Constraint::pep440(text).unwrap())]
    }

    #[test]
    fn the_newest_allowed_minor_is_chosen() {
        let newest = |text: &str| SUPPORTED.into_iter().find(|m| allows_minor(&c(text), *m));
        assert_eq!(newest(">=3.8,<3.10"), Some(9));
        assert_eq!(newest(">=3.11"), Some(13));
        assert_eq!(newest(">=3.11.4,<3.12"), Some(11));
        assert_eq!(newest("<3.8"), None);
        assert!(allowed(&c(">=3.11.4"), "3.11.2").is_err());
        assert!(allowed(&c(">=3.11"), "3.13.5").is_ok());
    }
}
