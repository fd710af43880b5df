//! What a wheel requires (`Requires-Dist` of its METADATA), and the check that the wheels of
//! one image satisfy each other: a dependency a manifest computes at build time (`dynamic =
//! ["dependencies"]`) is invisible to the graph, and would otherwise leave an image that fails
//! on import.

use std::collections::BTreeSet;
use std::io::Read;

use zip::ZipArchive;

use crate::model::markers::{self, Env};
use crate::model::names::{normalize, parse_requirement};
use crate::runtime::Runtime;

/// The header part of the METADATA of the wheel at `path` (the description after the first
/// empty line left out); only the zip's directory and that file are read.
pub fn metadata_headers(path: &camino::Utf8Path) -> Result<String, String> {
    let file = fs_err::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = ZipArchive::new(file).map_err(|e| format!("{path}: not a zip file: {e}"))?;
    let name = (0..zip.len())
        .filter_map(|i| zip.name_for_index(i).map(str::to_string))
        .find(|n| {
            n.strip_suffix("/METADATA")
                .is_some_and(|d| d.ends_with(".dist-info") && !d.contains('/'))
        })
        .ok_or(format!("{path}: no *.dist-info/METADATA in the wheel"))?;
    let mut text = String::new();
    zip.by_name(&name)
        .map_err(|e| format!("{path}: read {name}: {e}"))?
        .read_to_string(&mut text)
        .map_err(|e| format!("{path}: read {name}: {e}"))?;
    Ok(text.split("\n\n").next().unwrap_or_default().to_string())
}

/// The distribution's name and its `Requires-Dist` lines, from the wheel's METADATA.
pub fn of_wheel(path: &camino::Utf8Path) -> Result<(String, Vec<String>), String> {
    let headers = metadata_headers(path)?;
    let field = |key: &str| -> Vec<String> {
        headers.lines().filter_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string()).collect()
    };
    let dist = field("Name:").into_iter().next().ok_or(format!("{path}: METADATA has no Name"))?;
    Ok((normalize(&dist), field("Requires-Dist:")))
}

/// Each requirement of `dists` (name, `Requires-Dist` lines) that no distribution of the set
/// meets by name, markers evaluated for `runtime` with no extra requested: `(who, requirement)`.
pub fn unmet(dists: &[(String, Vec<String>)], runtime: &Runtime) -> Vec<(String, String)> {
    let present: BTreeSet<&str> = dists.iter().map(|(n, _)| n.as_str()).collect();
    let (extras, groups) = (BTreeSet::new(), BTreeSet::new());
    let env = Env { runtime, extras: &extras, groups: &groups };
    let mut out = Vec::new();
    for (who, requires) in dists {
        for requirement in requires {
            // An unreadable requirement or marker is pip's concern, not a reason to refuse
            // the image.
            let Ok(r) = parse_requirement(requirement) else { continue };
            if r.markers.is_some_and(|m| !markers::evaluate(&m, &env).unwrap_or(false)) {
                continue;
            }
            let name = normalize(&r.name);
            if !present.contains(name.as_str()) {
                out.push((who.clone(), requirement.trim().to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_count_when_their_markers_hold_and_no_extra_is_asked() {
        let runtime = Runtime::assumed();
        let dists = vec![
            (
                "mcp".to_string(),
                vec![
                    "anyio>=4".to_string(),
                    "mcp-types==2.0.1.dev21".to_string(),
                    "typer>=0.12; extra == 'cli'".to_string(),
                    "pywin32>=310; sys_platform == 'win32'".to_string(),
                ],
            ),
            ("anyio".to_string(), vec!["Idna >= 2.8".to_string()]),
            ("idna".to_string(), vec![]),
        ];
        assert_eq!(unmet(&dists, &runtime), vec![("mcp".into(), "mcp-types==2.0.1.dev21".into())]);
    }
}
