//! Parses one pyproject.toml (Poetry 1.x, Poetry 2 / PEP 621, uv) into a [`Manifest`], without I/O.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::names::{normalize, parse_requirement, PackageName};
use super::versions::Constraint;
use layout::read_layout;
use sections::{read_groups, read_scripts, shadow_main_by_local_groups};

/// The dependency group every runtime dependency belongs to.
pub const MAIN: &str = "main";

/// What one package's manifest declares, as far as building images needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// The distribution name as written (`hermes.quiver`); `None` for config-only manifests
    /// (and for an unnamed Poetry app in non-package mode).
    pub name: Option<String>,
    pub version: Option<String>,
    /// False for a Poetry app with `package-mode = false`: its dependencies install, its own
    /// files are copied, no wheel is built of it.
    pub package_mode: bool,
    /// Which Pythons it supports: `requires-python` (PEP 440) or Poetry's `python`.
    pub requires_python: Option<PythonConstraint>,
    pub deps: Vec<Dependency>,
    /// Console scripts: command name to `module:function`.
    pub scripts: BTreeMap<String, String>,
    pub build_backend: Option<String>,
    pub build_requires: Vec<String>,
    /// `[build-system] backend-path`: folders of the package holding an in-tree backend.
    pub build_backend_path: Vec<String>,
    /// `[tool.uv.workspace]` member globs, when this manifest is a uv workspace root.
    pub uv_members: Vec<String>,
    pub uv_exclude: Vec<String>,
    /// Folders (relative to the manifest) that hold the importable packages: the `from` of
    /// `[tool.poetry] packages`, or empty when they sit next to the manifest.
    pub source_roots: Vec<String>,
    /// `[tool.poetry] packages`: what goes into the wheel, `from` folders that may lie outside
    /// the package (Polylith bricks).
    pub includes: Vec<Include>,
    /// `[tool.uv.sources]` as declared here: a workspace root's apply to its members too.
    pub uv_sources: BTreeMap<PackageName, Source>,
    /// Its version comes from git through a build plugin (setuptools-scm, hatch-vcs, pdm's
    /// scm source, poetry-dynamic-versioning, versioningit).
    pub vcs_version: bool,
    /// `[project] dynamic` lists `dependencies` and nothing here declares them: the backend
    /// computes them at build time, out of the graph's sight.
    pub dynamic_deps: bool,
}

/// How a package's wheel is built (PEP 517), defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    pub requires: Vec<String>,
    /// `module:object`.
    pub backend: String,
    pub backend_path: Vec<String>,
}

/// PEP 517's backend for a package that names none: setuptools' legacy one.
pub const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

impl Manifest {
    /// The build system, with PEP 517's and PEP 518's defaults: no `[build-system]` means
    /// setuptools (`setuptools>=40.8.0`) with its legacy backend; requirements without a
    /// backend mean the legacy backend. `None` for an app in non-package mode.
    pub fn build_system(&self) -> Option<BuildSystem> {
        if !self.package_mode {
            return None;
        }
        let requires = if self.build_requires.is_empty() && self.build_backend.is_none() {
            vec!["setuptools>=40.8.0".to_string()]
        } else {
            self.build_requires.clone()
        };
        Some(BuildSystem {
            requires,
            backend: self.build_backend.clone().unwrap_or_else(|| LEGACY_BACKEND.to_string()),
            backend_path: self.build_backend_path.clone(),
        })
    }
}

/// A Python constraint and the syntax it is written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PythonConstraint {
    Pep440(String),
    Poetry(String),
}

impl PythonConstraint {
    pub fn parse(&self) -> Result<Constraint, String> {
        match self {
            PythonConstraint::Pep440(c) => Constraint::pep440(c),
            PythonConstraint::Poetry(c) => Constraint::poetry(c),
        }
    }

    /// Where it is declared.
    pub fn key(&self) -> &'static str {
        match self {
            PythonConstraint::Pep440(_) => "[project] requires-python",
            PythonConstraint::Poetry(_) => "[tool.poetry.dependencies] python",
        }
    }
}

/// One `[tool.poetry] packages` entry: the folder or module to include, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub include: String,
    pub from: Option<String>,
}

/// One declared dependency, local or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: PackageName,
    /// `main`, a Poetry or PEP 735 group name, or `dev` for legacy dev-dependencies.
    pub group: String,
    pub source: Source,
    /// Extras requested of the dependency, normalised.
    pub extras: Vec<String>,
    /// Only installed when one of `enabled_by` (extras of the declaring package) is requested.
    pub optional: bool,
    pub enabled_by: Vec<String>,
    pub markers: Option<String>,
    /// Poetry's `python = "…"` on one dependency: which Pythons it applies to.
    pub python: Option<String>,
    /// Where it is declared, for error messages: `[tool.poetry.dependencies] "hermes.quiver"`.
    pub key: String,
}

/// Where a dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A package index, with the constraint as written.
    Registry(String),
    /// A folder, relative to the declaring manifest's folder (or absolute).
    Path { path: String, develop: bool },
    /// `{ workspace = true }` in `[tool.uv.sources]`: a member of the enclosing uv workspace.
    Workspace,
    /// git or URL sources: not local packages.
    Remote(String),
}

impl Dependency {
    pub fn is_local(&self) -> bool {
        matches!(self.source, Source::Path { .. } | Source::Workspace)
    }
}

/// The files of a folder that can declare a package.
#[derive(Debug, Clone, Default)]
pub struct PackageFiles {
    pub pyproject: Option<String>,
    pub setup_cfg: Option<String>,
    pub setup_py: Option<String>,
}

impl PackageFiles {
    pub fn is_empty(&self) -> bool {
        self.pyproject.is_none() && self.setup_cfg.is_none() && self.setup_py.is_none()
    }
}

/// Parses a package folder's manifest: its pyproject.toml, and for a setuptools package
/// whose name is not there, `setup.cfg` or the literal arguments of `setup.py` (built with
/// setuptools' legacy backend when no [build-system] says otherwise, as pip does).
pub fn parse_package(files: &PackageFiles) -> Result<Manifest, String> {
    let mut m = match &files.pyproject {
        Some(text) => parse_manifest(text)?,
        None => Manifest { package_mode: true, ..Manifest::default() },
    };
    if m.name.is_some() || !m.package_mode {
        return Ok(m);
    }
    let setup_py = files.setup_py.as_deref().and_then(setuptools::parse_py);
    let setups = [files.setup_cfg.as_deref().map(setuptools::parse_cfg), setup_py.clone()];
    let Some(setup) = setups.into_iter().flatten().find(|s| s.name.is_some()) else {
        if files.pyproject.is_none() && setup_py.is_some() {
            return Err("setup.py computes its name, which xtask cannot read without running it; \
                        declare it in setup.cfg [metadata] name or a pyproject.toml [project] table"
                .into());
        }
        return Ok(m);
    };
    let name = setup.name.clone().unwrap_or_default();
    m.name = valid_name(Some(name), setup.key)?;
    m.version = m.version.or(setup.version.clone());
    let enrich = Enrichment { poetry: None, uv: None };
    let key = setup.key.replace(" name", "").replace("(name=…)", "(install_requires=…)");
    for req in &setup.install_requires {
        m.deps.push(pep508_dep(req, MAIN, &key, &enrich)?);
    }
    if m.build_backend.is_none() {
        m.build_backend = Some("setuptools.build_meta:__legacy__".into());
        m.build_requires = vec!["setuptools>=40.8.0".into()];
    }
    Ok(m)
}

/// Parses the text of a pyproject.toml. The error is a sentence without the file name.
pub fn parse_manifest(text: &str) -> Result<Manifest, String> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.to_string().trim_end()))?;
    let poetry = sub(&doc, &["tool", "poetry"]);
    let project = sub(&doc, &["project"]);
    let mut m = Manifest::default();
    read_identity(project, poetry, &mut m)?;
    let poetry_deps = poetry.and_then(|p| p.get("dependencies")).map(|v| {
        v.as_table().ok_or_else(|| "[tool.poetry.dependencies] must be a table".to_string())
    });
    let poetry_deps = poetry_deps.transpose()?;
    let enrich = Enrichment { poetry: poetry_deps, uv: sub(&doc, &["tool", "uv", "sources"]) };
    read_main(project, poetry, &enrich, &mut m)?;
    read_optional(project, &enrich, &mut m)?;
    read_groups(&doc, poetry, &enrich, &mut m)?;
    shadow_main_by_local_groups(&mut m.deps);
    read_scripts(project, poetry, &mut m)?;
    read_layout(&doc, poetry, &mut m)?;
    Ok(m)
}

/// Name and version: `[project]` first, then `[tool.poetry]`; none in Poetry's non-package mode.
fn read_identity(
    project: Option<&Table>,
    poetry: Option<&Table>,
    m: &mut Manifest,
) -> Result<(), String> {
    m.package_mode = true;
    if let Some(project) = project {
        m.name = valid_name(str_at(project, "name", "[project]")?, "[project]")?;
        m.version = str_at(project, "version", "[project]")?;
        if let Some(c) = str_at(project, "requires-python", "[project]")? {
            Constraint::pep440(&c).map_err(|e| format!("[project] requires-python: {e}"))?;
            m.requires_python = Some(PythonConstraint::Pep440(c));
        }
    }
    if let Some(poetry) = poetry {
        m.package_mode = poetry.get("package-mode").and_then(Value::as_bool).unwrap_or(true);
        if m.name.is_none() {
            m.name = valid_name(str_at(poetry, "name", "[tool.poetry]")?, "[tool.poetry]")?;
        }
        if m.version.is_none() {
            m.version = str_at(poetry, "version", "[tool.poetry]")?;
        }
        let python =
            poetry.get("dependencies").and_then(|d| d.get("python")).and_then(Value::as_str);
        if let (None, Some(c)) = (&m.requires_python, python) {
            Constraint::poetry(c).map_err(|e| format!("[tool.poetry.dependencies] python: {e}"))?;
            m.requires_python = Some(PythonConstraint::Poetry(c.to_string()));
        }
    }
    Ok(())
}

/// A declared name, refused with its key when it is not a PEP 508 name.
fn valid_name(name: Option<String>, table: &str) -> Result<Option<String>, String> {
    if let Some(n) = &name {
        PackageName::parse(n).map_err(|e| format!("{table} name: {e}"))?;
    }
    Ok(name)
}

/// The main dependencies: PEP 621's list, or Poetry's table when `[project]` has none.
fn read_main(
    project: Option<&Table>,
    poetry: Option<&Table>,
    enrich: &Enrichment,
    m: &mut Manifest,
) -> Result<(), String> {
    if let Some(value) = project.and_then(|p| p.get("dependencies")) {
        for req in str_array(value, "[project] dependencies")? {
            m.deps.push(pep508_dep(&req, MAIN, "[project] dependencies", enrich)?);
        }
    } else if enrich.poetry.is_none() {
        let dynamic = project.and_then(|p| p.get("dynamic")).and_then(Value::as_array);
        m.dynamic_deps =
            dynamic.is_some_and(|d| d.iter().any(|v| v.as_str() == Some("dependencies")));
    }
    if let (None, Some(table)) = (project.and_then(|p| p.get("dependencies")), enrich.poetry) {
        // Poetry 1.x, or Poetry 2 with `dependencies` left dynamic.
        let enabled = poetry_extras(poetry)?;
        for (raw, value) in table.iter().filter(|(raw, _)| *raw != "python") {
            for mut dep in poetry_dep(raw, value, MAIN, "[tool.poetry.dependencies]")? {
                dep.enabled_by = enabled.get(dep.name.as_str()).cloned().unwrap_or_default();
                m.deps.push(dep);
            }
        }
    }
    Ok(())
}

/// `[project.optional-dependencies]`: each extra's requirements, optional and enabled by it.
fn read_optional(
    project: Option<&Table>,
    enrich: &Enrichment,
    m: &mut Manifest,
) -> Result<(), String> {
    let Some(optional) = project.and_then(|p| p.get("optional-dependencies")) else {
        return Ok(());
    };
    let optional =
        optional.as_table().ok_or("[project.optional-dependencies] must be a table of lists")?;
    for (extra, reqs) in optional {
        let key = format!("[project.optional-dependencies] {extra}");
        for req in str_array(reqs, &key)? {
            let mut dep = pep508_dep(&req, MAIN, &key, enrich)?;
            dep.optional = true;
            dep.enabled_by = vec![normalize(extra)];
            m.deps.push(dep);
        }
    }
    Ok(())
}

/// Tables that say where a PEP 621 dependency comes from.
struct Enrichment<'a> {
    poetry: Option<&'a Table>,
    uv: Option<&'a Table>,
}

impl Enrichment<'_> {
    /// The source declared for `name` (normalised) and the key that declared it.
    fn source(&self, name: &str) -> Result<Option<(Source, String)>, String> {
        if let Some((raw, value)) = find_normalized(self.poetry, name) {
            let key = format!("[tool.poetry.dependencies] {raw:?}");
            if let Some(dep) = poetry_dep(raw, value, MAIN, "[tool.poetry.dependencies]")?.first() {
                if !matches!(dep.source, Source::Registry(_)) {
                    return Ok(Some((dep.source.clone(), key)));
                }
            }
        }
        if let Some((raw, value)) = find_normalized(self.uv, name) {
            let key = format!("[tool.uv.sources] {raw:?}");
            return Ok(uv_source(value, &key)?.map(|s| (s, key)));
        }
        Ok(None)
    }
}

fn find_normalized<'a>(table: Option<&'a Table>, name: &str) -> Option<(&'a String, &'a Value)> {
    table?.iter().find(|(k, _)| normalize(k) == name)
}

pub(super) fn uv_source(value: &Value, key: &str) -> Result<Option<Source>, String> {
    let table = match value {
        Value::Table(t) => t,
        // A list of sources chosen by markers: the first local one speaks for the package.
        Value::Array(items) => {
            for item in items {
                if let Some(s) = uv_source(item, key)? {
                    return Ok(Some(s));
                }
            }
            return Ok(None);
        }
        _ => return Err(format!("{key} must be a table such as {{ path = \"../lib\" }}")),
    };
    if let Some(path) = table.get("path") {
        let path = path.as_str().ok_or_else(|| format!("{key}: `path` must be a string"))?;
        let develop = table.get("editable").and_then(Value::as_bool).unwrap_or(false);
        return Ok(Some(Source::Path { path: path.to_string(), develop }));
    }
    if table.get("workspace").and_then(Value::as_bool) == Some(true) {
        return Ok(Some(Source::Workspace));
    }
    if let Some(url) = table.get("git").or_else(|| table.get("url")).and_then(Value::as_str) {
        return Ok(Some(Source::Remote(url.to_string())));
    }
    Ok(None)
}

fn pep508_dep(
    req: &str,
    group: &str,
    key: &str,
    enrich: &Enrichment,
) -> Result<Dependency, String> {
    let r = parse_requirement(req).map_err(|e| format!("{key}: {e}"))?;
    let name = PackageName::parse(&r.name).map_err(|e| format!("{key}: {e}"))?;
    let (source, key) = match enrich.source(&name)? {
        Some((source, source_key)) => (source, source_key),
        None if r.spec.starts_with('@') => {
            let url = r.spec.trim_start_matches('@').trim();
            (url_source(url), format!("{key} {:?}", r.name))
        }
        None => {
            let spec = r.spec.trim().trim_start_matches('(').trim_end_matches(')');
            let key = format!("{key} {:?}", r.name);
            Constraint::pep440(spec).map_err(|e| format!("{key}: {e}"))?;
            (Source::Registry(spec.to_string()), key)
        }
    };
    Ok(Dependency {
        name,
        group: group.to_string(),
        source,
        extras: r.extras,
        optional: false,
        enabled_by: Vec::new(),
        markers: r.markers,
        python: None,
        key,
    })
}

/// A PEP 508 URL requirement: a `file:` URL is a local folder (Poetry 2 writes
/// `lib @ file:///${PROJECT_ROOT}/../lib`), anything else is remote.
fn url_source(url: &str) -> Source {
    let Some(rest) = url.strip_prefix("file:") else { return Source::Remote(url.to_string()) };
    let path = rest.trim_start_matches("//");
    let path = match path
        .strip_prefix("/${PROJECT_ROOT}")
        .or_else(|| path.strip_prefix("${PROJECT_ROOT}"))
    {
        Some(below) => format!(".{below}"),
        None => path.to_string(),
    };
    Source::Path { path, develop: false }
}

/// A `[tool.poetry…dependencies]` entry: a constraint string, a table, or a list of tables.
fn poetry_dep(
    raw: &str,
    value: &Value,
    group: &str,
    table_key: &str,
) -> Result<Vec<Dependency>, String> {
    let key = format!("{table_key} {raw:?}");
    let base = Dependency {
        name: PackageName::parse(raw).map_err(|e| format!("{key}: {e}"))?,
        group: group.to_string(),
        source: Source::Registry(String::new()),
        extras: Vec::new(),
        optional: false,
        enabled_by: Vec::new(),
        markers: None,
        python: None,
        key: key.clone(),
    };
    let registry = |c: &str| -> Result<Source, String> {
        Constraint::poetry(c).map_err(|e| format!("{key}: {e}"))?;
        Ok(Source::Registry(c.to_string()))
    };
    match value {
        Value::String(constraint) => Ok(vec![Dependency { source: registry(constraint)?, ..base }]),
        Value::Table(t) => Ok(vec![poetry_dep_table(t, base)?]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Table(t) => poetry_dep_table(t, base.clone()),
                Value::String(c) => Ok(Dependency { source: registry(c)?, ..base.clone() }),
                _ => Err(format!("{key}: each entry must be a table or a constraint string")),
            })
            .collect(),
        _ => Err(format!(
            "{key}: expected a version string or a table such as {{ path = \"../lib\" }}"
        )),
    }
}

fn poetry_dep_table(t: &Table, mut dep: Dependency) -> Result<Dependency, String> {
    let key = dep.key.clone();
    let get_str = |k: &str| -> Result<Option<String>, String> {
        match t.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{key}: `{k}` must be a string")),
        }
    };
    dep.source = if let Some(path) = get_str("path")? {
        let develop = t.get("develop").and_then(Value::as_bool).unwrap_or(false);
        Source::Path { path, develop }
    } else if let Some(url) = get_str("git")?.or(get_str("url")?) {
        Source::Remote(url)
    } else {
        let constraint = get_str("version")?.unwrap_or_else(|| "*".into());
        Constraint::poetry(&constraint).map_err(|e| format!("{key} version: {e}"))?;
        Source::Registry(constraint)
    };
    dep.optional = t.get("optional").and_then(Value::as_bool).unwrap_or(false);
    if let Some(extras) = t.get("extras") {
        dep.extras =
            str_array(extras, &format!("{key} extras"))?.iter().map(|e| normalize(e)).collect();
    }
    dep.python = get_str("python")?;
    if let Some(python) = &dep.python {
        Constraint::poetry(python).map_err(|e| format!("{key} python: {e}"))?;
    }
    dep.markers = get_str("markers")?;
    Ok(dep)
}

/// `[tool.poetry.extras]`: which optional dependencies (normalised) each extra switches on.
fn poetry_extras(poetry: Option<&Table>) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut enabled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Some(extras) = poetry.and_then(|p| p.get("extras")) else { return Ok(enabled) };
    let extras = extras.as_table().ok_or("[tool.poetry.extras] must be a table of lists")?;
    for (extra, names) in extras {
        for name in str_array(names, &format!("[tool.poetry.extras] {extra}"))? {
            let dep = parse_requirement(&name)
                .map(|r| normalize(&r.name))
                .unwrap_or_else(|_| normalize(&name));
            enabled.entry(dep).or_default().push(normalize(extra));
        }
    }
    Ok(enabled)
}

fn sub<'a>(doc: &'a Table, path: &[&str]) -> Option<&'a Table> {
    let mut t = doc;
    for k in path {
        t = t.get(*k)?.as_table()?;
    }
    Some(t)
}

fn str_at(t: &Table, key: &str, table: &str) -> Result<Option<String>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{table} {key} must be a string")),
    }
}

fn str_array(value: &Value, key: &str) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or_else(|| format!("{key} must be a list of strings"))?;
    items
        .iter()
        .map(|v| {
            v.as_str().map(str::to_string).ok_or_else(|| format!("{key} must be a list of strings"))
        })
        .collect()
}

mod layout;
mod sections;
pub mod setuptools;

#[cfg(test)]
mod tests;
