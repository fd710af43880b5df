//! Manifest sections beyond the main dependencies: groups, shadowed path deps, console scripts.

use toml::{Table, Value};

use super::{
    pep508_dep, poetry_dep, str_array, sub, Dependency, Enrichment, Manifest, Source, MAIN,
};
use crate::model::names::{normalize, PackageName};

/// Poetry groups, legacy dev-dependencies, PEP 735 dependency groups and uv dev-dependencies.
pub(super) fn read_groups(
    doc: &Table,
    poetry: Option<&Table>,
    enrich: &Enrichment,
    m: &mut Manifest,
) -> Result<(), String> {
    if let Some(dev) = poetry.and_then(|p| p.get("dev-dependencies")) {
        let dev = dev.as_table().ok_or("[tool.poetry.dev-dependencies] must be a table")?;
        for (raw, value) in dev {
            m.deps.extend(poetry_dep(raw, value, "dev", "[tool.poetry.dev-dependencies]")?);
        }
    }
    if let Some(groups) = poetry.and_then(|p| p.get("group")).and_then(Value::as_table) {
        for (group, body) in groups {
            let Some(deps) = body.get("dependencies") else { continue };
            let key = format!("[tool.poetry.group.{group}.dependencies]");
            let deps = deps.as_table().ok_or_else(|| format!("{key} must be a table"))?;
            for (raw, value) in deps {
                m.deps.extend(poetry_dep(raw, value, group, &key)?);
            }
        }
    }
    // PEP 735 groups and uv's legacy dev list take their sources from the same tables.
    if let Some(groups) = sub(doc, &["dependency-groups"]) {
        for (group, reqs) in groups {
            let key = format!("[dependency-groups] {group}");
            let items = reqs.as_array().ok_or_else(|| format!("{key} must be a list"))?;
            for item in items {
                // `{ include-group = "…" }` entries are resolved by the installer, not here.
                if let Some(req) = item.as_str() {
                    m.deps.push(pep508_dep(req, &normalize(group), &key, enrich)?);
                }
            }
        }
    }
    if let Some(dev) = sub(doc, &["tool", "uv"]).and_then(|uv| uv.get("dev-dependencies")) {
        for req in str_array(dev, "[tool.uv] dev-dependencies")? {
            m.deps.push(pep508_dep(&req, "dev", "[tool.uv] dev-dependencies", enrich)?);
        }
    }
    Ok(())
}

/// A main dependency declared by version but given as a path in another group is local:
/// the lock resolves it to that folder.
pub(super) fn shadow_main_by_local_groups(deps: &mut [Dependency]) {
    let local: Vec<(PackageName, Source, String)> = deps
        .iter()
        .filter(|d| d.group != MAIN && d.is_local())
        .map(|d| (d.name.clone(), d.source.clone(), d.key.clone()))
        .collect();
    for dep in
        deps.iter_mut().filter(|d| d.group == MAIN && matches!(d.source, Source::Registry(_)))
    {
        if let Some((_, source, key)) = local.iter().find(|(n, _, _)| *n == dep.name) {
            dep.source = source.clone();
            dep.key = key.clone();
        }
    }
}

pub(super) fn read_scripts(
    project: Option<&Table>,
    poetry: Option<&Table>,
    m: &mut Manifest,
) -> Result<(), String> {
    let tables = [
        (project.and_then(|p| p.get("scripts")), "[project.scripts]"),
        (poetry.and_then(|p| p.get("scripts")), "[tool.poetry.scripts]"),
    ];
    for (value, key) in tables {
        let Some(value) = value else { continue };
        let table = value.as_table().ok_or_else(|| format!("{key} must be a table"))?;
        for (name, target) in table {
            let target = match target {
                Value::String(s) => s.clone(),
                Value::Table(t) => match t.get("reference").and_then(Value::as_str) {
                    Some(r) => r.to_string(),
                    None => continue,
                },
                _ => {
                    return Err(format!(
                        "{key} {name:?} must be a string such as \"pkg.module:main\""
                    ))
                }
            };
            if !crate::wheel::install::script_name_ok(name) {
                return Err(format!(
                    "{key} {name:?} is not a command name: use letters, digits, `.`, `_` and `-` \
                     (it becomes a file in the image's bin folder)"
                ));
            }
            // An entry point may name extras it needs: `mcp.cli:app [cli]` (the spec allows it).
            let target = target.split('[').next().unwrap_or(&target).trim().to_string();
            if !crate::wheel::install::entry_point_ok(&target) {
                return Err(format!(
                    "{key} {name:?} = {target:?} is not a `module:function` reference"
                ));
            }
            m.scripts.insert(name.clone(), target);
        }
    }
    Ok(())
}
