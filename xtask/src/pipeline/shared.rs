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

/// One file of an artifact: its media type, its title (a file name, or empty) and its bytes.
type File = (String, String, Vec<u8>);

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

    /// The files stored under `tag`, by media type, each with its title; `None` when the
    /// cache has no such entry. Blobs are checked against their digests.
    fn get(&self, tag: &str) -> Result<Option<Vec<File>>> {
        let registry = self.repository();
        let Some((_, manifest)) = registry.manifest(tag)? else { return Ok(None) };
        let manifest: serde_json::Value = serde_json::from_slice(&manifest)?;
        let layers = manifest["layers"].as_array().context("an artifact without layers")?;
        let files = layers.iter().map(|layer| {
            let media = layer["mediaType"].as_str().unwrap_or_default().to_string();
            let digest =
                layer["digest"].as_str().and_then(Sha256::from_prefixed).context("a digest")?;
            let title =
                layer["annotations"]["org.opencontainers.image.title"].as_str().unwrap_or_default();
            Ok((media, title.to_string(), registry.blob(&digest)?))
        });
        files.collect::<Result<Vec<_>>>().map(Some)
    }

    /// Publishes files (media type, title, bytes) as one artifact tagged `tag`.
    fn put(&self, tag: &str, files: &[(&str, &str, &[u8])]) -> Result<()> {
        let registry = self.repository();
        let e = Sha256::of(EMPTY);
        registry.push_blob(&e, EMPTY)?;
        let mut layers = Vec::new();
        for (media, title, bytes) in files {
            let digest = Sha256::of(bytes);
            registry.push_blob(&digest, bytes)?;
            let mut layer =
                json!({"mediaType": media, "digest": digest.prefixed(), "size": bytes.len()});
            if !title.is_empty() {
                layer["annotations"] = json!({"org.opencontainers.image.title": title});
            }
            layers.push(layer);
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": crate::oci::image::MANIFEST_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": EMPTY_TYPE, "digest": e.prefixed(), "size": EMPTY.len()},
            "layers": layers,
        });
        let bytes = serde_json::to_vec(&manifest)?;
        registry.push_manifest(tag, crate::oci::image::MANIFEST_TYPE, &bytes)?;
        Ok(())
    }

    /// The local wheel (and its bytecode) stored under its cache key `key`, if any.
    pub fn get_wheel(&self, key: &str) -> Result<Option<CachedWheel>> {
        let Some(files) = self.get(&format!("wheel-{key}"))? else { return Ok(None) };
        let take =
            |media: &str| files.iter().find(|f| f.0 == media).context("an incomplete artifact");
        let (_, file, wheel) = take(WHEEL_TYPE)?;
        let (_, _, bytecode) = take(BYTECODE_TYPE)?;
        if crate::wheel::WheelName::parse(file).is_none() || file.contains('/') {
            bail!("the shared cache names a wheel {file:?}");
        }
        let (file, wheel, bytecode) = (file.clone(), wheel.clone(), bytecode.clone());
        Ok(Some(CachedWheel { file, wheel, bytecode }))
    }

    /// Publishes a local wheel and its bytecode (a tar) under its cache key `key`.
    pub fn put_wheel(&self, key: &str, file: &str, wheel: &[u8], bytecode: &[u8]) -> Result<()> {
        let files = [(WHEEL_TYPE, file, wheel), (BYTECODE_TYPE, "", bytecode)];
        self.put(&format!("wheel-{key}"), &files)
    }

    /// A third-party file the cache holds under `tag` (`pypi-<sha256>` for a file of the index,
    /// `sdist-<key>` for a wheel built from an sdist): its name and bytes.
    pub fn get_file(&self, tag: &str) -> Result<Option<(String, Vec<u8>)>> {
        let Some(mut files) = self.get(tag)? else { return Ok(None) };
        let (_, name, bytes) = files.pop().context("an empty artifact")?;
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            bail!("the shared cache names a file {name:?}");
        }
        Ok(Some((name, bytes)))
    }

    /// Publishes a third-party file under `tag`.
    pub fn put_file(&self, tag: &str, name: &str, bytes: &[u8]) -> Result<()> {
        self.put(tag, &[(WHEEL_TYPE, name, bytes)])
    }

    /// Bytecode (a tar) stored under its cache key.
    pub fn get_bytecode(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let files = self.get(&format!("pyc-{key}"))?;
        Ok(files.and_then(|mut f| f.pop()).map(|(_, _, bytes)| bytes))
    }

    /// Publishes bytecode (a tar) under its cache key.
    pub fn put_bytecode(&self, key: &str, tar: &[u8]) -> Result<()> {
        self.put(&format!("pyc-{key}"), &[(BYTECODE_TYPE, "", tar)])
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
