//! The image's software bill of materials: a CycloneDX 1.5 document listing every installed
//! package with its version, the sha256 of its wheel, where it came from (the index, or the
//! repo folder) and its licence where its metadata says one. Deterministic: no random serial,
//! no clock.

use anyhow::Result;
use camino::Utf8PathBuf;
use serde_json::{json, Value};

use crate::hash::Sha256;

/// Where the document is in the image.
pub const PATH: &str = "opt/venv/sbom.cdx.json";

/// One installed package.
pub struct Component {
    pub name: String,
    pub version: String,
    pub wheel: Utf8PathBuf,
    pub sha256: Sha256,
    /// The index it was fetched from, or `None` for a package of the repo.
    pub index: Option<String>,
    /// The repo folder of a local package.
    pub folder: Option<String>,
}

/// The licence a wheel's METADATA declares: `License-Expression`, else `License`, else the
/// licence classifiers.
fn licence(wheel: &Utf8PathBuf) -> Option<Value> {
    let headers = crate::wheel::requires::metadata_headers(wheel).ok()?;
    let field = |key: &str| {
        headers
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
            .filter(|v| !v.is_empty() && v != "UNKNOWN")
    };
    if let Some(expr) = field("License-Expression:") {
        return Some(json!([{"expression": expr}]));
    }
    let classifiers: Vec<String> = headers
        .lines()
        .filter_map(|l| l.strip_prefix("Classifier: License :: "))
        .map(|c| c.rsplit(" :: ").next().unwrap_or(c).to_string())
        .collect();
    if !classifiers.is_empty() {
        return Some(json!(classifiers
            .iter()
            .map(|c| json!({"license": {"name": c}}))
            .collect::<Vec<_>>()));
    }
    // A `License:` field may hold the whole licence text: keep its first line.
    field("License:").map(|l| json!([{"license": {"name": l.lines().next().unwrap_or_default()}}]))
}

/// The document for `project` (`name`, `version`), its components sorted by name.
pub fn document(project: (&str, &str), created: &str, components: &[Component]) -> Result<Vec<u8>> {
    let mut list: Vec<Value> = components
        .iter()
        .map(|c| {
            let purl = format!("pkg:pypi/{}@{}", c.name, c.version);
            let mut v = json!({
                "type": "library",
                "bom-ref": purl,
                "name": c.name,
                "version": c.version,
                "purl": purl,
                "hashes": [{"alg": "SHA-256", "content": c.sha256.hex()}],
                "properties": [{"name": "xtask:wheel", "value": c.wheel.file_name().unwrap_or_default()}],
            });
            if let Some(index) = &c.index {
                v["externalReferences"] = json!([{"type": "distribution", "url": crate::net::public_url(index)}]);
            }
            if let Some(folder) = &c.folder {
                if let Some(p) = v["properties"].as_array_mut() {
                    p.push(json!({"name": "xtask:repo-folder", "value": folder}));
                }
            }
            if let Some(l) = licence(&c.wheel) {
                v["licenses"] = l;
            }
            v
        })
        .collect();
    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let (name, version) = project;
    let serial = Sha256::of(serde_json::to_vec(&list)?.as_slice());
    let hex = serial.hex();
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "serialNumber": format!("urn:uuid:{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]),
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": "xtask"}]},
            "component": {"type": "application", "name": name, "version": version, "bom-ref": format!("project:{name}")},
        },
        "components": list,
    });
    Ok(serde_json::to_vec_pretty(&doc)?)
}
