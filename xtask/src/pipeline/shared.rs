//! The registry as a cache every runner shares (opt-in: `[cache] registry = true` in
//! docker/images.toml): local wheels, with their bytecode, as OCI artifacts tagged by their
//! cache key, and build images, under `<registry>/xtask-cache` and `<registry>/xtask-build`.
//! A runner that finds an entry there builds nothing; one that builds publishes. Any failure
//! to reach the cache only means building locally.

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::hash::Sha256;
use crate::oci::registry::{split, Repository};
use crate::session::Session;

const WHEEL_TYPE: &str = "application/vnd.xtask.wheel.v1+zip";
const BYTECODE_TYPE: &str = "application/vnd.xtask.bytecode.v1.tar";
const ARTIFACT_TYPE: &str = "application/vnd.xtask.wheel.v1";
/// The empty config of an OCI artifact.
const EMPTY: &[u8] = b"{}";
const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// Where the shared cache lives: the images' registry.
#[derive(Debug, Clone)]
pub struct Shared {
    /// `host[:port]`.
    host: String,
    /// The registry's namespace (`acme` of `ghcr.io/acme`), empty for none.
    namespace: String,
}

/// A wheel found in the shared cache.
pub struct CachedWheel {
    pub file: String,
    pub wheel: Vec<u8>,
    pub bytecode: Vec<u8>,
}

impl Shared {
    /// The cache of the registry `host[:port][/namespace]`.
    pub fn new(registry: &str) -> Option<Shared> {
        let (host, _, _) = split(&format!("{}/x:y", registry.trim_end_matches('/')))?;
        let namespace = registry.trim_end_matches('/').strip_prefix(&host)?.trim_start_matches('/');
        Some(Shared { host, namespace: namespace.to_string() })
    }

    fn name(&self, what: &str) -> String {
        if self.namespace.is_empty() {
            what.to_string()
        } else {
            format!("{}/{what}", self.namespace)
        }
    }

    fn repository(&self) -> Repository {
        Repository::new(&self.host, &self.name("xtask-cache"))
    }

    /// The wheel stored under `key`, if any; its blobs are checked against their digests.
    pub fn get_wheel(&self, key: &str) -> Result<Option<CachedWheel>> {
        let registry = self.repository();
        let Some((_, manifest)) = registry.manifest(&format!("wheel-{key}"))? else {
            return Ok(None);
        };
        let manifest: serde_json::Value = serde_json::from_slice(&manifest)?;
        let layers = manifest["layers"].as_array().context("an artifact without layers")?;
        let blob = |media: &str| -> Result<(Vec<u8>, String)> {
            let layer = layers
                .iter()
                .find(|l| l["mediaType"] == media)
                .context("an incomplete artifact")?;
            let digest =
                layer["digest"].as_str().and_then(Sha256::from_prefixed).context("a digest")?;
            let title =
                layer["annotations"]["org.opencontainers.image.title"].as_str().unwrap_or_default();
            Ok((registry.blob(&digest)?, title.to_string()))
        };
        let (wheel, file) = blob(WHEEL_TYPE)?;
        let (bytecode, _) = blob(BYTECODE_TYPE)?;
        if crate::wheel::WheelName::parse(&file).is_none() || file.contains('/') {
            bail!("the shared cache names a wheel {file:?}");
        }
        Ok(Some(CachedWheel { file, wheel, bytecode }))
    }

    /// Publishes a wheel and its bytecode (a tar) under `key`.
    pub fn put_wheel(&self, key: &str, file: &str, wheel: &[u8], bytecode: &[u8]) -> Result<()> {
        let registry = self.repository();
        let (w, b, e) = (Sha256::of(wheel), Sha256::of(bytecode), Sha256::of(EMPTY));
        registry.push_blob(&w, wheel)?;
        registry.push_blob(&b, bytecode)?;
        registry.push_blob(&e, EMPTY)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": crate::oci::image::MANIFEST_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": EMPTY_TYPE, "digest": e.prefixed(), "size": EMPTY.len()},
            "layers": [
                {"mediaType": WHEEL_TYPE, "digest": w.prefixed(), "size": wheel.len(),
                 "annotations": {"org.opencontainers.image.title": file}},
                {"mediaType": BYTECODE_TYPE, "digest": b.prefixed(), "size": bytecode.len()},
            ],
        });
        let bytes = serde_json::to_vec(&manifest)?;
        registry.push_manifest(
            &format!("wheel-{key}"),
            crate::oci::image::MANIFEST_TYPE,
            &bytes,
        )?;
        Ok(())
    }

    /// The registry name of a build image tagged `tag` (`xtask-build:3.11-…`).
    fn image_ref(&self, tag: &str) -> String {
        let version = tag.rsplit_once(':').map_or(tag, |(_, v)| v);
        format!("{}/{}:{version}", self.host, self.name("xtask-build"))
    }

    /// Pulls the build image `tag` from the shared cache and names it locally; false when
    /// the cache does not have it.
    pub fn pull_image(&self, session: &Session, tag: &str) -> bool {
        let Ok(engine) = session.engine() else { return false };
        let remote = self.image_ref(tag);
        engine.pull(&session.sh, &remote) && engine.tag(&session.sh, &remote, tag).is_ok()
    }

    /// Publishes the build image `tag` (best effort: a runner that cannot only builds more).
    pub fn push_image(&self, session: &Session, tag: &str) {
        let Ok(engine) = session.engine() else { return };
        let remote = self.image_ref(tag);
        if engine.tag(&session.sh, tag, &remote).is_ok() {
            let _ = engine.push(&session.sh, &remote);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn registries_with_and_without_a_namespace() {
        let s = super::Shared::new("127.0.0.1:5000").unwrap();
        assert_eq!(
            (s.host.as_str(), s.name("xtask-cache")),
            ("127.0.0.1:5000", "xtask-cache".into())
        );
        let s = super::Shared::new("ghcr.io/acme").unwrap();
        assert_eq!(
            (s.host.as_str(), s.name("xtask-cache")),
            ("ghcr.io", "acme/xtask-cache".into())
        );
        assert_eq!(s.image_ref("xtask-build:3.11-abc"), "ghcr.io/acme/xtask-build:3.11-abc");
    }
}
