//! Resolving a local dependency to a package folder, and the messages when that fails.

use std::collections::BTreeMap;

use super::{DirState, Kind, Package};
use crate::model::manifest::Dependency;
use crate::model::paths::{is_within, join, manifest_of};

pub(super) fn resolve_path(
    repo_abs: &str,
    pkg: &Package,
    dep: &Dependency,
    path: &str,
) -> Result<String, (String, bool)> {
    join(repo_abs, &pkg.dir, path).ok_or_else(|| {
        (
            format!(
                "{}: path {path:?} leads outside the repo; move that package into the repo \
                 or depend on a released version instead",
                dep.key
            ),
            true,
        )
    })
}

/// `{ workspace = true }`: the member of an enclosing uv workspace with the dependency's name.
pub(super) fn resolve_workspace(
    packages: &[Package],
    pkg: &Package,
    dep: &Dependency,
) -> Result<String, (String, bool)> {
    for root in
        packages.iter().filter(|r| !r.manifest.uv_members.is_empty() && is_within(&pkg.dir, &r.dir))
    {
        let rel = |p: &Package| -> Option<String> {
            if root.dir == crate::model::paths::ROOT {
                Some(p.dir.clone())
            } else {
                p.dir.strip_prefix(&format!("{}/", root.dir)).map(str::to_string)
            }
        };
        let matches = |globs: &[String], rel: &str| {
            globs.iter().any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(rel)))
        };
        let member = packages.iter().find(|p| {
            p.name == dep.name
                && rel(p).is_some_and(|r| {
                    matches(&root.manifest.uv_members, &r)
                        && !matches(&root.manifest.uv_exclude, &r)
                })
        });
        if let Some(m) =
            member.or_else(|| packages.iter().find(|p| p.dir == root.dir && p.name == dep.name))
        {
            return Ok(m.dir.clone());
        }
    }
    Err((
        format!(
            "{}: `workspace = true`, but no uv workspace enclosing this package has a member named {:?}; \
             add its folder to [tool.uv.workspace] members",
            dep.key, dep.name
        ),
        true,
    ))
}

pub(super) fn check_target(
    target: &Package,
    dep: &Dependency,
    dir: &str,
) -> Result<(), (String, bool)> {
    if target.kind == Kind::Config {
        return Err((
            format!(
                "{}: points to {dir}, whose pyproject.toml declares no package; give it a [project] name \
                 or fix the path",
                dep.key
            ),
            true,
        ));
    }
    if target.name != dep.name {
        return Err((
            format!(
                "{}: points to {dir}, which is the package {:?}, not {:?}; fix the name or the path",
                dep.key, target.name, dep.name
            ),
            true,
        ));
    }
    Ok(())
}

pub(super) fn missing_target(
    dep: &Dependency,
    dir: &str,
    broken: &BTreeMap<String, String>,
    probe: &dyn Fn(&str) -> DirState,
) -> (String, bool) {
    if let Some(e) = broken.get(dir) {
        return (
            format!("{}: needs {}, which does not parse: {e}", dep.key, manifest_of(dir)),
            false,
        );
    }
    let message = match probe(dir) {
        DirState::Missing => format!(
            "{}: points to {dir}, which does not exist; fix the path, or if it is a git submodule run \
             `git submodule update --init`",
            dep.key
        ),
        DirState::NoManifest => format!(
            "{}: points to {dir}, which has no pyproject.toml; add a manifest there or fix the path",
            dep.key
        ),
        DirState::Skipped => format!(
            "{}: points to {dir}, which discovery skips (a hidden or build-output folder, or `exclude` in \
             docker/images.toml); move the package or change the exclude list",
            dep.key
        ),
    };
    (message, true)
}
