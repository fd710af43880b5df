//! An image's config and manifest, made from its base's config and the layers xtask wrote:
//! serialized with sorted keys, so the same inputs give the same image id and digest.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::base::Base;
use crate::hash::Sha256;

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What the image adds to its base's config.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Set or replaced, in order.
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Setting the entrypoint resets the base's command, as in a Dockerfile.
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub exposed_ports: Vec<String>,
    pub healthcheck: Option<Value>,
    pub stop_signal: Option<String>,
    pub volumes: Vec<String>,
}

/// One of the image's own layers: its diff id, and what made it (the history's `created_by`).
#[derive(Debug, Clone)]
pub struct OwnLayer {
    pub diff_id: Sha256,
    pub created_by: String,
}

/// The image config: the base's, with `settings`, `layers` and the time `created` applied.
pub fn config(
    base: &Base,
    layers: &[OwnLayer],
    settings: &Settings,
    created: &str,
) -> Result<Vec<u8>> {
    let mut config = base.config.clone();
    let obj = config.as_object_mut().context("the base config is not a JSON object")?;
    obj.insert("created".into(), json!(created));
    for key in ["container", "container_config", "docker_version"] {
        obj.remove(key);
    }
    let inner = obj.entry("config").or_insert_with(|| json!({}));
    let inner = inner.as_object_mut().context("the base's config.config is not an object")?;
    apply(inner, settings);
    let rootfs = obj.entry("rootfs").or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    let diff_ids = rootfs["diff_ids"].as_array_mut().context("rootfs.diff_ids")?;
    diff_ids.extend(layers.iter().map(|l| json!(l.diff_id.prefixed())));
    let history = obj.entry("history").or_insert_with(|| json!([]));
    let history = history.as_array_mut().context("history")?;
    history.extend(layers.iter().map(|l| json!({"created": created, "created_by": l.created_by})));
    Ok(serde_json::to_vec(&config)?)
}

fn apply(inner: &mut serde_json::Map<String, Value>, s: &Settings) {
    let mut env: Vec<String> = inner
        .get("Env")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    for (k, v) in &s.env {
        let entry = format!("{k}={v}");
        match env.iter_mut().find(|e| e.split_once('=').map(|(key, _)| key) == Some(k.as_str())) {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }
    inner.insert("Env".into(), json!(env));
    if let Some(user) = &s.user {
        inner.insert("User".into(), json!(user));
    }
    if let Some(dir) = &s.workdir {
        inner.insert("WorkingDir".into(), json!(dir));
    }
    if !s.labels.is_empty() {
        let labels = inner.entry("Labels").or_insert_with(|| json!({}));
        if !labels.is_object() {
            *labels = json!({});
        }
        if let Some(map) = labels.as_object_mut() {
            for (k, v) in &s.labels {
                map.insert(k.clone(), json!(v));
            }
        }
    }
    if let Some(entrypoint) = &s.entrypoint {
        inner.insert("Entrypoint".into(), json!(entrypoint));
        inner.remove("Cmd");
    }
    if let Some(cmd) = &s.cmd {
        inner.insert("Cmd".into(), json!(cmd));
    }
    add_keys(inner, "ExposedPorts", &s.exposed_ports);
    if let Some(check) = &s.healthcheck {
        inner.insert("Healthcheck".into(), check.clone());
    }
    if let Some(signal) = &s.stop_signal {
        inner.insert("StopSignal".into(), json!(signal));
    }
    add_keys(inner, "Volumes", &s.volumes);
}

/// Adds each of `keys` to the set-like object `field` (`{"8000/tcp": {}}`), made when absent.
fn add_keys(inner: &mut serde_json::Map<String, Value>, field: &str, keys: &[String]) {
    for key in keys {
        let set = inner.entry(field).or_insert_with(|| json!({}));
        if let Some(map) = set.as_object_mut() {
            map.insert(key.clone(), json!({}));
        }
    }
}

/// A blob a manifest points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: &'static str,
    pub digest: Sha256,
    pub size: u64,
}

impl Descriptor {
    fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest.prefixed(), "size": self.size})
    }
}

/// The OCI image manifest of a config and its (gzip) layers, in order.
pub fn manifest(config: &Descriptor, layers: &[Descriptor]) -> Result<Vec<u8>> {
    let value = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": config.json(),
        "layers": layers.iter().map(Descriptor::json).collect::<Vec<_>>(),
    });
    Ok(serde_json::to_vec(&value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_apply_like_a_dockerfile_and_the_config_is_stable() {
        let base_config = json!({
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/usr/bin", "LANG=C.UTF-8"], "Cmd": ["python3"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "a".repeat(64))]},
            "history": [{"created_by": "base"}]
        });
        let bytes = serde_json::to_vec(&base_config).unwrap();
        let base = Base {
            id: Sha256::of(&bytes).prefixed(),
            config: base_config,
            config_bytes: bytes,
            diff_ids: vec![Sha256::from_hex(&"a".repeat(64)).unwrap()],
        };
        let settings = Settings {
            env: vec![
                ("PATH".into(), "/opt/venv/bin:/usr/bin".into()),
                ("VIRTUAL_ENV".into(), "/opt/venv".into()),
            ],
            user: Some("app".into()),
            entrypoint: Some(vec!["serve".into()]),
            ..Settings::default()
        };
        let layer = OwnLayer { diff_id: Sha256::of(b"layer"), created_by: "xtask: libs".into() };
        let a =
            config(&base, std::slice::from_ref(&layer), &settings, "1980-01-01T00:00:00Z").unwrap();
        let b = config(&base, &[layer], &settings, "1980-01-01T00:00:00Z").unwrap();
        assert_eq!(a, b);
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(
            v["config"]["Env"],
            json!(["PATH=/opt/venv/bin:/usr/bin", "LANG=C.UTF-8", "VIRTUAL_ENV=/opt/venv"])
        );
        assert_eq!(v["config"]["Entrypoint"], json!(["serve"]));
        assert!(v["config"].get("Cmd").is_none(), "an entrypoint resets the base's command");
        assert_eq!(v["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(v["history"].as_array().unwrap().len(), 2);
    }
}
