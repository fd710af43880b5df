//! Manifest sections about the package's shape: what its wheel includes (and from where), its
//! build system, and the uv workspace it may be the root of.

use toml::{Table, Value};

use super::{str_array, str_at, sub, uv_source, Include, Manifest};
use crate::model::names::PackageName;

/// What Poetry builds with when a manifest has `[tool.poetry]` and no `[build-system]`.
const POETRY_BACKEND: &str = "poetry.core.masonry.api";

pub(super) fn read_layout(
    doc: &Table,
    poetry: Option<&Table>,
    m: &mut Manifest,
) -> Result<(), String> {
    read_includes(poetry, m)?;
    match sub(doc, &["build-system"]) {
        Some(build) => {
            m.build_backend = str_at(build, "build-backend", "[build-system]")?;
            if let Some(req) = build.get("requires") {
                m.build_requires = str_array(req, "[build-system] requires")?;
            }
            if let Some(paths) = build.get("backend-path") {
                let paths = str_array(paths, "[build-system] backend-path")?;
                // PEP 517: relative folders inside the package; anything else would make the
                // build import code from elsewhere.
                if let Some(bad) =
                    paths.iter().find(|p| p.starts_with('/') || p.split('/').any(|s| s == ".."))
                {
                    return Err(format!(
                        "[build-system] backend-path {bad:?} leaves the package; PEP 517 allows \
                         only folders inside it"
                    ));
                }
                m.build_backend_path = paths;
            }
        }
        // Poetry builds a package without [build-system] with poetry-core, not setuptools.
        None if poetry.is_some() && m.package_mode => {
            m.build_backend = Some(POETRY_BACKEND.to_string());
            m.build_requires = vec!["poetry-core".to_string()];
        }
        None => {}
    }
    let plugin = |r: &String| {
        let name = crate::model::names::parse_requirement(r)
            .map(|r| crate::model::names::normalize(&r.name));
        name.is_ok_and(|n| {
            [
                "setuptools-scm",
                "hatch-vcs",
                "poetry-dynamic-versioning",
                "versioningit",
                "uv-dynamic-versioning",
            ]
            .contains(&n.as_str())
        })
    };
    let source_is = |path: &[&str], want: &str| {
        sub(doc, path).and_then(|t| t.get("source")).and_then(Value::as_str) == Some(want)
    };
    m.vcs_version = m.build_requires.iter().any(plugin)
        || sub(doc, &["tool", "setuptools_scm"]).is_some()
        || source_is(&["tool", "hatch", "version"], "vcs")
        || source_is(&["tool", "pdm", "version"], "scm");
    if let Some(ws) = sub(doc, &["tool", "uv", "workspace"]) {
        if let Some(v) = ws.get("members") {
            m.uv_members = str_array(v, "[tool.uv.workspace] members")?;
        }
        if let Some(v) = ws.get("exclude") {
            m.uv_exclude = str_array(v, "[tool.uv.workspace] exclude")?;
        }
    }
    if let Some(sources) = sub(doc, &["tool", "uv", "sources"]) {
        for (raw, value) in sources {
            let key = format!("[tool.uv.sources] {raw:?}");
            let name = PackageName::parse(raw).map_err(|e| format!("{key}: {e}"))?;
            if let Some(source) = uv_source(value, &key)? {
                m.uv_sources.insert(name, source);
            }
        }
    }
    Ok(())
}

/// `[tool.poetry] packages = [{ include = "pkg", from = "src" }]`.
fn read_includes(poetry: Option<&Table>, m: &mut Manifest) -> Result<(), String> {
    let Some(packages) = poetry.and_then(|p| p.get("packages")) else { return Ok(()) };
    let packages = packages.as_array().ok_or("[tool.poetry] packages must be a list of tables")?;
    for entry in packages {
        let include = entry
            .get("include")
            .and_then(Value::as_str)
            .ok_or("[tool.poetry] packages: each entry needs `include = \"…\"`")?;
        let from = entry.get("from").and_then(Value::as_str).map(str::to_string);
        if let Some(from) = &from {
            if !m.source_roots.contains(from) {
                m.source_roots.push(from.clone());
            }
        }
        m.includes.push(Include { include: include.to_string(), from });
    }
    Ok(())
}
