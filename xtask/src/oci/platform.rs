//! Platforms (`linux/amd64`, `linux/arm64`) and image indexes: which manifest of a base's
//! index serves a platform, and the index xtask writes over the images it assembles.

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::image::MANIFEST_TYPE;
use crate::hash::Sha256;

pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST_TYPE: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// An OS and CPU architecture, as OCI names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
}

impl Platform {
    /// Parses `linux/amd64`, `linux/arm64` (or `linux/arm64/v8`): the platforms whose wheels
    /// xtask can choose (x86_64 and aarch64 Linux).
    pub fn parse(text: &str) -> Result<Platform> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let (os, architecture) = match parts.as_slice() {
            [os, arch] | [os, arch, "v8"] => (*os, *arch),
            _ => bail!("--platform {text:?} is not os/architecture, e.g. linux/amd64"),
        };
        if os != "linux" || !["amd64", "arm64"].contains(&architecture) {
            bail!(
                "--platform {text}: xtask builds linux/amd64 and linux/arm64 images (the \
                 platforms manylinux wheels are chosen for)"
            );
        }
        Ok(Platform { os: os.into(), architecture: architecture.into() })
    }

    /// Parses a comma-separated list, without repeats.
    pub fn parse_list(text: &str) -> Result<Vec<Platform>> {
        let mut out: Vec<Platform> = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let p = Platform::parse(part)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The machine Python reports (`platform_machine`) and wheel tags end with.
    pub fn machine(&self) -> &'static str {
        match self.architecture.as_str() {
            "arm64" => "aarch64",
            _ => "x86_64",
        }
    }

    /// The platform of this machine, when it is one xtask builds for.
    pub fn host() -> Option<Platform> {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            _ => return None,
        };
        Some(Platform { os: "linux".into(), architecture: architecture.into() })
    }

    pub fn name(&self) -> String {
        format!("{}/{}", self.os, self.architecture)
    }
}

/// The manifests an index lists, with their platforms; `None` when `manifest` (of media type
/// `media_type`) is a single image, not an index.
pub fn entries(media_type: &str, manifest: &[u8]) -> Result<Option<Vec<(Platform, Sha256)>>> {
    let value: serde_json::Value = serde_json::from_slice(manifest)?;
    let is_index = media_type.starts_with(INDEX_TYPE)
        || media_type.starts_with(DOCKER_LIST_TYPE)
        || (value.get("manifests").is_some() && value.get("config").is_none());
    if !is_index {
        return Ok(None);
    }
    let list = value["manifests"].as_array().context("an index without manifests")?;
    let entries = list
        .iter()
        .filter_map(|m| {
            let platform = Platform {
                os: m["platform"]["os"].as_str()?.to_string(),
                architecture: m["platform"]["architecture"].as_str()?.to_string(),
            };
            Some((platform, m["digest"].as_str().and_then(Sha256::from_prefixed)?))
        })
        .collect();
    Ok(Some(entries))
}

/// An OCI image index over one manifest per platform (`(platform, digest, size)`).
pub fn index(manifests: &[(Platform, Sha256, u64)]) -> Result<Vec<u8>> {
    let list: Vec<serde_json::Value> = manifests
        .iter()
        .map(|(p, digest, size)| {
            json!({
                "mediaType": MANIFEST_TYPE,
                "digest": digest.prefixed(),
                "size": size,
                "platform": {"architecture": p.architecture, "os": p.os},
            })
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": list});
    Ok(serde_json::to_vec(&index)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_name_their_machine() {
        let list = Platform::parse_list("linux/amd64, linux/arm64/v8,linux/amd64").unwrap();
        let names: Vec<String> = list.iter().map(Platform::name).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64"]);
        assert_eq!(list[1].machine(), "aarch64");
        assert!(Platform::parse("linux/s390x").unwrap_err().to_string().contains("amd64"));
        assert!(Platform::parse("amd64").is_err());
    }

    #[test]
    fn an_index_lists_each_platform_and_reads_back() {
        let (a, b) = (Sha256::of(b"a"), Sha256::of(b"b"));
        let platforms = Platform::parse_list("linux/amd64,linux/arm64").unwrap();
        let bytes =
            index(&[(platforms[0].clone(), a.clone(), 10), (platforms[1].clone(), b.clone(), 20)])
                .unwrap();
        let read = entries(INDEX_TYPE, &bytes).unwrap().unwrap();
        assert_eq!(read, vec![(platforms[0].clone(), a), (platforms[1].clone(), b)]);
        assert_eq!(entries(MANIFEST_TYPE, br#"{"config":{},"layers":[]}"#).unwrap(), None);
    }
}
