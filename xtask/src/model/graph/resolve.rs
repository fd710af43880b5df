//! Resolving a local dependency to a package folder, and why that can fail.

use super::{Graph, Package, PackageName};
use crate::model::manifest::{Dependency, Manifest};
use crate::model::paths::{is_within, join, manifest_of, ROOT};

/// Why a local dependency does not resolve to a package of the repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolvable {
    /// The path leads outside the repo.
    OutsideRepo {
        path: String,
    },
    /// `workspace = true`, but no enclosing uv workspace has a member of that name.
    NoWorkspaceMember {
        name: PackageName,
    },
    /// The folder's manifest only holds tool settings.
    NotAPackage {
        dir: String,
    },
    /// The folder holds another package than the one named.
    WrongName {
        dir: String,
        found: PackageName,
        wanted: PackageName,
    },
    /// The folder's manifest does not parse.
    Broken {
        dir: String,
        error: String,
    },
    Missing {
        dir: String,
    },
    NoManifest {
        dir: String,
    },
    /// The folder has a manifest, but discovery skips it (hidden, build output, excluded).
    Skipped {
        dir: String,
    },
    /// The folder, or one above it, is a symlink.
    Symlink {
        dir: String,
    },
    /// An empty folder that `.gitmodules` names.
    Submodule {
        dir: String,
    },
}

impl Unresolvable {
    /// A target that only fails to parse is fatal only for closures that need it.
    pub fn fatal_in_repo(&self) -> bool {
        !matches!(self, Unresolvable::Broken { .. })
    }

    /// The message for the dependency declared at `key`: what is wrong and what to do.
    pub fn message(&self, key: &str) -> String {
        match self {
            Unresolvable::OutsideRepo { path } => format!(
                "{key}: path {path:?} leads outside the repo; move that package into the repo \
                 or depend on a released version instead"
            ),
            Unresolvable::NoWorkspaceMember { name } => format!(
                "{key}: `workspace = true`, but no uv workspace enclosing this package has a \
                 member named {name:?}; add its folder to [tool.uv.workspace] members"
            ),
            Unresolvable::NotAPackage { dir } => format!(
                "{key}: points to {dir}, whose pyproject.toml declares no package; give it a \
                 [project] name or fix the path"
            ),
            Unresolvable::WrongName { dir, found, wanted } => format!(
                "{key}: points to {dir}, which is the package {found:?}, not {wanted:?}; fix the \
                 name or the path"
            ),
            Unresolvable::Broken { dir, error } => {
                format!("{key}: needs {}, which does not parse: {error}", manifest_of(dir))
            }
            Unresolvable::Missing { dir } => format!(
                "{key}: points to {dir}, which does not exist; fix the path, or if it is a git \
                 submodule run `git submodule update --init`"
            ),
            Unresolvable::NoManifest { dir } => format!(
                "{key}: points to {dir}, which has no pyproject.toml; add a manifest there or fix \
                 the path"
            ),
            Unresolvable::Submodule { dir } => format!(
                "{key}: points to {dir}, a git submodule that is not checked out; run `git \
                 submodule update --init {dir}`"
            ),
            Unresolvable::Symlink { dir } => format!(
                "{key}: points to {dir}, which is (or is inside) a symlinked folder; xtask never \
                 follows one (it could leave the repo or loop): point the dependency at the real \
                 folder, or put the package itself there"
            ),
            Unresolvable::Skipped { dir } => format!(
                "{key}: points to {dir}, which discovery skips (a hidden or build-output folder, \
                 or `exclude` in docker/images.toml); move the package or change the exclude list"
            ),
        }
    }
}

/// A path dependency: the folder it names, relative to `base` (the declaring manifest's).
pub(super) fn path(repo_abs: &str, base: &str, path: &str) -> Result<String, Unresolvable> {
    join(repo_abs, base, path).ok_or_else(|| Unresolvable::OutsideRepo { path: path.into() })
}

/// The uv workspaces enclosing `dir`, innermost first: each root's folder and manifest (a root
/// is a package or, as often, a manifest with no package of its own).
pub(super) fn workspace_roots<'g>(g: &'g Graph, dir: &str) -> Vec<(&'g str, &'g Manifest)> {
    let mut roots: Vec<(&str, &Manifest)> = g
        .packages
        .iter()
        .map(|p| (p.dir.as_str(), &p.manifest))
        .chain(g.configs.iter().map(|c| (c.dir.as_str(), &c.manifest)))
        .filter(|(root, m)| !m.uv_members.is_empty() && is_within(dir, root))
        .collect();
    roots.sort_by_key(|(root, _)| std::cmp::Reverse(root.len()));
    roots
}

/// Whether the folder `dir` is a member of the workspace rooted at `root` (or the root).
pub(super) fn is_member(root: &str, m: &Manifest, dir: &str) -> bool {
    let rel = if root == ROOT { Some(dir) } else { dir.strip_prefix(&format!("{root}/")) };
    let matches = |globs: &[String], rel: &str| {
        globs.iter().any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(rel)))
    };
    dir == root || rel.is_some_and(|r| matches(&m.uv_members, r) && !matches(&m.uv_exclude, r))
}

/// `{ workspace = true }`: the member of an enclosing uv workspace with the dependency's name.
pub(super) fn workspace(
    g: &Graph,
    pkg: &Package,
    dep: &Dependency,
) -> Result<String, Unresolvable> {
    for (root, m) in workspace_roots(g, &pkg.dir) {
        let member = g.packages.iter().find(|p| p.name == dep.name && is_member(root, m, &p.dir));
        if let Some(found) = member {
            return Ok(found.dir.clone());
        }
    }
    Err(Unresolvable::NoWorkspaceMember { name: dep.name.clone() })
}

/// The package found at the folder must be the one the dependency names.
pub(super) fn check_target(
    target: &Package,
    dep: &Dependency,
    dir: &str,
) -> Result<(), Unresolvable> {
    if target.name != dep.name {
        return Err(Unresolvable::WrongName {
            dir: dir.to_string(),
            found: target.name.clone(),
            wanted: dep.name.clone(),
        });
    }
    Ok(())
}
