//! Base images as xtask assembles on them: the base's own config (exactly as stored, its
//! history and rootfs included) and its layers, read once per image id from the engine
//! (`docker save`) or from a registry, and kept in the cache's blob store.

use std::io::Read;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;
use serde::Deserialize;

use crate::hash::Sha256;

/// A base image: its config and the digests of its layers (uncompressed tars).
#[derive(Debug, Clone)]
pub struct Base {
    /// `sha256:…` of the config: the engine's image id.
    pub id: String,
    pub config: serde_json::Value,
    pub config_bytes: Vec<u8>,
    pub diff_ids: Vec<Sha256>,
}

/// The blob store: `<cache>/blobs/sha256/<hex>`, every file whole (renamed into place) and
/// named by the digest of its content.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: Utf8PathBuf,
}

impl Blobs {
    pub fn new(cache: &Utf8Path) -> Blobs {
        Blobs { dir: cache.join("blobs").join("sha256") }
    }

    pub fn path(&self, digest: &Sha256) -> Utf8PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn has(&self, digest: &Sha256) -> bool {
        self.path(digest).is_file()
    }

    /// Stores `bytes` under their digest (checked when `expected` is given).
    pub fn put(&self, bytes: &[u8], expected: Option<&Sha256>) -> Result<Sha256> {
        let digest = Sha256::of(bytes);
        if let Some(expected) = expected.filter(|e| **e != digest) {
            bail!("a blob should be {expected} but is {digest}");
        }
        if !self.has(&digest) {
            fs::create_dir_all(&self.dir)?;
            crate::files::write_atomic(&self.path(&digest), bytes)?;
        }
        Ok(digest)
    }

    /// The blob's bytes, checked against its digest.
    pub fn get(&self, digest: &Sha256) -> Result<Vec<u8>> {
        let bytes = fs::read(self.path(digest))?;
        if Sha256::of(&bytes) != *digest {
            let _ = fs::remove_file(self.path(digest));
            bail!("the cached blob {digest} changed on disk; it was removed, run again");
        }
        Ok(bytes)
    }
}

#[derive(Deserialize)]
struct ArchiveManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

impl Base {
    /// Reads the config of a stored base, if `id` was read before.
    pub fn cached(cache: &Utf8Path, id: &str) -> Result<Option<Base>> {
        let Some(digest) = Sha256::from_prefixed(id) else { return Ok(None) };
        let blobs = Blobs::new(cache);
        if !blobs.has(&digest) || !cache.join("bases").join(digest.hex()).is_file() {
            return Ok(None);
        }
        Base::from_config(id, blobs.get(&digest)?).map(Some)
    }

    fn from_config(id: &str, config_bytes: Vec<u8>) -> Result<Base> {
        let config: serde_json::Value = serde_json::from_slice(&config_bytes)?;
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .context("the base config has no rootfs.diff_ids")?
            .iter()
            .map(|d| d.as_str().and_then(Sha256::from_prefixed).context("a diff_id"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Base { id: id.to_string(), config, config_bytes, diff_ids })
    }

    /// Reads a base from a docker-archive tar (`docker save`): its config, and every layer
    /// into the blob store, each checked against its digest. Marked complete last.
    pub fn from_archive(cache: &Utf8Path, id: &str, archive: &Utf8Path) -> Result<Base> {
        let blobs = Blobs::new(cache);
        let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
        let mut tar = tar::Archive::new(fs::File::open(archive)?);
        for entry in tar.entries()? {
            let mut entry = entry?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path()?.to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            files.insert(path, bytes);
        }
        let manifest: Vec<ArchiveManifest> = serde_json::from_slice(
            files.get("manifest.json").context("no manifest.json in the saved image")?,
        )?;
        let first = manifest.first().context("an empty saved image")?;
        let config_bytes =
            files.get(&first.config).context("the saved image lacks its config")?.clone();
        let expected = Sha256::from_prefixed(id).context("an image id")?;
        blobs.put(&config_bytes, Some(&expected))?;
        let base = Base::from_config(id, config_bytes)?;
        if base.diff_ids.len() != first.layers.len() {
            bail!(
                "the saved image lists {} layers for {} diff_ids",
                first.layers.len(),
                base.diff_ids.len()
            );
        }
        for (path, diff_id) in first.layers.iter().zip(&base.diff_ids) {
            let bytes = files.get(path).with_context(|| format!("the saved image lacks {path}"))?;
            blobs.put(bytes, Some(diff_id))?;
        }
        fs::create_dir_all(cache.join("bases"))?;
        crate::files::write_atomic(&cache.join("bases").join(expected.hex()), id)?;
        Ok(base)
    }
}

impl Base {
    /// Reads the base whose single-platform manifest is `manifest` from `registry`: its
    /// config, and every layer unpacked into the blob store, each checked against its diff id.
    /// Read once: the store keeps the manifest, the config and the layers.
    pub fn from_registry(
        cache: &Utf8Path,
        registry: &super::registry::Repository,
        manifest: &Sha256,
    ) -> Result<Base> {
        let blobs = Blobs::new(cache);
        let bytes = if blobs.has(manifest) {
            blobs.get(manifest)?
        } else {
            let (_, bytes) = registry
                .manifest(&manifest.prefixed())?
                .with_context(|| format!("the registry has no manifest {manifest}"))?;
            if Sha256::of(&bytes) != *manifest {
                bail!("the manifest {manifest} from the registry does not match its digest");
            }
            bytes
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)?;
        let config = value["config"]["digest"]
            .as_str()
            .and_then(Sha256::from_prefixed)
            .context("the base's manifest names no config")?;
        let id = config.prefixed();
        if let Some(base) = Base::cached(cache, &id)? {
            return Ok(base);
        }
        let config_bytes = registry.blob(&config)?;
        blobs.put(&config_bytes, Some(&config))?;
        let base = Base::from_config(&id, config_bytes)?;
        let layers = value["layers"].as_array().context("the base's manifest lists no layers")?;
        if layers.len() != base.diff_ids.len() {
            bail!(
                "the base's manifest lists {} layers for {} diff_ids",
                layers.len(),
                base.diff_ids.len()
            );
        }
        for (layer, diff_id) in layers.iter().zip(&base.diff_ids) {
            if blobs.has(diff_id) {
                continue;
            }
            let digest = layer["digest"]
                .as_str()
                .and_then(Sha256::from_prefixed)
                .context("a layer digest")?;
            let media_type = layer["mediaType"].as_str().unwrap_or_default();
            if media_type.contains("zstd") {
                bail!(
                    "the base layer {digest} is zstd-compressed; xtask reads gzip and plain layers"
                );
            }
            let packed = registry.blob(&digest)?;
            let tar = if packed.starts_with(&[0x1f, 0x8b]) {
                let mut tar = Vec::new();
                flate2::read::GzDecoder::new(packed.as_slice())
                    .read_to_end(&mut tar)
                    .with_context(|| format!("unpack the base layer {digest}"))?;
                tar
            } else {
                packed
            };
            blobs.put(&tar, Some(diff_id))?;
        }
        blobs.put(&bytes, Some(manifest))?;
        fs::create_dir_all(cache.join("bases"))?;
        crate::files::write_atomic(&cache.join("bases").join(config.hex()), &id)?;
        Ok(base)
    }

    /// The platform the base's config declares (`linux/arm64`).
    pub fn platform(&self) -> String {
        let get = |key: &str| self.config[key].as_str().unwrap_or("?").to_string();
        format!("{}/{}", get("os"), get("architecture"))
    }
}

impl Blobs {
    /// The gzip blob of the layer `diff_id` (stored uncompressed), made once and remembered
    /// (`<cache>/blobs/gzip/<diff_id>` holds its digest).
    pub fn gzip_of(&self, diff_id: &Sha256) -> Result<(Sha256, u64)> {
        let map = self.dir.parent().unwrap_or(&self.dir).join("gzip").join(diff_id.hex());
        if let Some(digest) = fs::read_to_string(&map).ok().and_then(|t| Sha256::from_hex(t.trim()))
        {
            if let Ok(meta) = fs::metadata(self.path(&digest)) {
                return Ok((digest, meta.len()));
            }
        }
        let (blob, digest) = super::layer::gzip(&self.get(diff_id)?)?;
        self.put(&blob, Some(&digest))?;
        fs::create_dir_all(map.parent().unwrap_or(&self.dir))?;
        crate::files::write_atomic(&map, digest.hex())?;
        Ok((digest, blob.len() as u64))
    }
}
