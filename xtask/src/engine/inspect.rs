//! What the engine holds: listing, inspecting (remembered within a run) and removing images.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use super::Engine;

impl Engine {
    /// Every image the engine holds, intermediate ones included, as `repository:tag id`
    /// (`<none>:<none> id` for untagged ones).
    pub fn images(&self, sh: &Shell) -> Result<std::collections::BTreeSet<String>> {
        let bin = &self.bin;
        let format = "{{.Repository}}:{{.Tag}} {{.ID}}";
        let out = cmd!(sh, "{bin} images -a --no-trunc --format {format}").quiet().read()?;
        Ok(out.lines().map(str::to_string).collect())
    }

    /// Removes images by reference or id; ones that are gone or still used are left as they are.
    pub fn remove(&self, sh: &Shell, images: &[String]) {
        self.changed();
        let bin = &self.bin;
        for chunk in images.chunks(100) {
            let _ =
                cmd!(sh, "{bin} rmi {chunk...}").quiet().ignore_status().ignore_stderr().output();
        }
    }

    /// The image id of `reference`, or `None` when the engine has no such image.
    pub fn image_id(&self, sh: &Shell, reference: &str) -> Result<Option<String>> {
        Ok(self.inspect(sh, &[reference])?.pop().flatten().map(|i| i.id))
    }

    /// The image id of a base image the build needs, or an error that says how to get it.
    pub fn require_image(&self, sh: &Shell, reference: &str) -> Result<String> {
        self.image_id(sh, reference)?.ok_or_else(|| missing_image(reference))
    }

    /// Inspects several references in one engine call; `None` for each that does not exist.
    /// What this run found is remembered; references announced with [`Engine::expect`] are
    /// asked in the same call.
    pub fn inspect(&self, sh: &Shell, references: &[&str]) -> Result<Vec<Option<ImageInfo>>> {
        let unknown: Vec<&str> = {
            let known = self.known.borrow();
            references.iter().copied().filter(|r| !known.contains_key(*r)).collect()
        };
        if !unknown.is_empty() {
            let expected = self.expected.take();
            let mut asked = unknown.clone();
            for e in &expected {
                if !asked.contains(&e.as_str()) && !self.known.borrow().contains_key(e) {
                    asked.push(e);
                }
            }
            let found = self.inspect_all(sh, &asked)?;
            if asked.len() == 1 || found.len() == asked.len() {
                // One reference, or every one exists and the engine answers in order: no name
                // matching needed (docker.io/library/python:3.11 is tagged python:3.11).
                let mut known = self.known.borrow_mut();
                for (n, r) in asked.iter().enumerate() {
                    known.insert(r.to_string(), found.get(n).map(ImageInfo::of));
                }
            } else {
                // Some are missing: ask for each alone (the expected ones are left for later).
                for r in unknown {
                    let one = self.inspect_all(sh, &[r])?.first().map(ImageInfo::of);
                    self.known.borrow_mut().insert(r.to_string(), one);
                }
            }
        }
        let known = self.known.borrow();
        Ok(references.iter().map(|r| known.get(*r).cloned().flatten()).collect())
    }

    /// Announces a reference a later `inspect` will ask for, so that it rides along with the
    /// next call (a no-op build then asks the engine once).
    pub fn expect(&self, reference: &str) {
        self.expected.borrow_mut().push(reference.to_string());
    }

    /// `docker image inspect` of `references`: the images found (missing ones left out).
    fn inspect_all(&self, sh: &Shell, references: &[&str]) -> Result<Vec<serde_json::Value>> {
        let bin = &self.bin;
        let out =
            cmd!(sh, "{bin} image inspect {references...}").quiet().ignore_status().output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Docker says "No such image", Podman "image not known".
        let missing = ["no such image", "image not known"];
        if !out.status.success() && !missing.iter().any(|m| stderr.to_lowercase().contains(m)) {
            bail!("inspect images {}: {}", references.join(", "), stderr.trim());
        }
        Ok(serde_json::from_slice(&out.stdout).unwrap_or_default())
    }
}

/// The error for a base image the engine does not have.
pub fn missing_image(reference: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the base image {reference} is missing; `docker pull {reference}` (or, for \
         python:3.9/3.11/3.13-slim, run `cargo xtask up --python <X.Y>`, which builds a stand-in)"
    )
}

/// What the summary and the no-op check need of an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    pub size: u64,
    pub layers: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

impl ImageInfo {
    fn of(img: &serde_json::Value) -> ImageInfo {
        let strings = |v: &serde_json::Value| -> Vec<String> {
            let items =
                v.as_array().map(|l| l.iter().filter_map(|d| d.as_str().map(str::to_string)));
            items.map(Iterator::collect).unwrap_or_default()
        };
        let labels = img["Config"]["Labels"].as_object().map(|m| {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
        });
        // Docker's ids carry their algorithm, Podman's do not.
        let id = img["Id"].as_str().unwrap_or_default();
        let id = if id.is_empty() || id.contains(':') { id.into() } else { format!("sha256:{id}") };
        ImageInfo {
            id,
            size: img["Size"].as_u64().unwrap_or(0),
            layers: strings(&img["RootFS"]["Layers"]),
            labels: labels.unwrap_or_default(),
        }
    }
}
