//! Where an assembled image goes: the engine (a docker-archive tar it loads, holding only the
//! layers it lacks) or an OCI image layout folder (every blob, gzip layers).

use std::io::Write;

use anyhow::{Context, Result};
use camino::Utf8Path;
use fs_err as fs;
use serde_json::json;

use super::base::Blobs;
use super::image::{self, Descriptor};
use super::platform::Platform;
use crate::hash::Sha256;

/// An assembled image: its config (whose digest is the engine's image id) and its layers'
/// diff ids, base first; every layer tar is in the blob store.
#[derive(Debug, Clone)]
pub struct Assembled {
    pub config: Vec<u8>,
    pub diff_ids: Vec<Sha256>,
    /// How many of `diff_ids` are the base's.
    pub base_layers: usize,
}

impl Assembled {
    pub fn id(&self) -> Sha256 {
        Sha256::of(&self.config)
    }

    /// The OCI manifest (gzip layers, made once per layer and remembered) and its bytes.
    pub fn manifest(&self, blobs: &Blobs) -> Result<(Vec<u8>, Vec<Descriptor>)> {
        let config = Descriptor {
            media_type: image::CONFIG_TYPE,
            digest: self.id(),
            size: self.config.len() as u64,
        };
        let layers = self
            .diff_ids
            .iter()
            .map(|d| {
                let (digest, size) = blobs.gzip_of(d)?;
                Ok(Descriptor { media_type: image::LAYER_TYPE, digest, size })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((image::manifest(&config, &layers)?, layers))
    }
}

/// Writes a docker-archive tar for `docker load`: the config, the manifest naming `tags`, and
/// the layer tars from index `from_layer` on (the engine has the ones before: it skips any
/// layer it already holds without reading it).
pub fn docker_archive(
    image: &Assembled,
    blobs: &Blobs,
    tags: &[String],
    from_layer: usize,
    path: &Utf8Path,
) -> Result<()> {
    let id = image.id();
    let config_name = format!("{}.json", id.hex());
    let layer_names: Vec<String> =
        image.diff_ids.iter().map(|d| format!("{}/layer.tar", d.hex())).collect();
    let manifest =
        json!([{"Config": config_name, "RepoTags": tags, "Layers": layer_names}]).to_string();
    let mut out = tar::Builder::new(std::io::BufWriter::new(fs::File::create(path)?));
    let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        out.append_data(&mut header, name, bytes)?;
        Ok(())
    };
    add(&config_name, &image.config)?;
    for (d, name) in image.diff_ids.iter().zip(&layer_names).skip(from_layer) {
        add(name, &blobs.get(d)?)?;
    }
    add("manifest.json", manifest.as_bytes())?;
    out.into_inner()?.flush()?;
    Ok(())
}

/// Writes (or adds to) an OCI image layout folder: every blob, the manifest, and an
/// `index.json` entry naming it `tag`. Returns the manifest's digest.
pub fn oci_layout(image: &Assembled, blobs: &Blobs, tag: &str, dir: &Utf8Path) -> Result<Sha256> {
    let (digest, size) = put_image(image, blobs, dir)?;
    name_in_layout(dir, tag, image::MANIFEST_TYPE, &digest, size)?;
    Ok(digest)
}

/// Writes (or adds to) an OCI image layout folder: every image's blobs and manifest, and an
/// image index over them, named `tag` in `index.json`. Returns the index's digest.
pub fn oci_layout_index(
    images: &[(Platform, &Assembled)],
    blobs: &Blobs,
    tag: &str,
    dir: &Utf8Path,
) -> Result<Sha256> {
    let mut manifests = Vec::new();
    for (platform, image) in images {
        let (digest, size) = put_image(image, blobs, dir)?;
        manifests.push((platform.clone(), digest, size));
    }
    let index = super::platform::index(&manifests)?;
    let digest = Sha256::of(&index);
    put_blob(dir, &digest, &index)?;
    name_in_layout(dir, tag, super::platform::INDEX_TYPE, &digest, index.len() as u64)?;
    Ok(digest)
}

/// Writes an image's config, layers (gzip) and manifest into the layout's blobs; returns the
/// manifest's digest and size.
fn put_image(image: &Assembled, blobs: &Blobs, dir: &Utf8Path) -> Result<(Sha256, u64)> {
    let (manifest, layers) = image.manifest(blobs)?;
    put_blob(dir, &image.id(), &image.config)?;
    for layer in &layers {
        put_blob(dir, &layer.digest, &blobs.get(&layer.digest)?)?;
    }
    let digest = Sha256::of(&manifest);
    put_blob(dir, &digest, &manifest)?;
    Ok((digest, manifest.len() as u64))
}

fn put_blob(dir: &Utf8Path, digest: &Sha256, bytes: &[u8]) -> Result<()> {
    let blob_dir = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blob_dir)?;
    let path = blob_dir.join(digest.hex());
    if !path.is_file() {
        crate::files::write_atomic(&path, bytes)?;
    }
    Ok(())
}

/// Names `digest` (a manifest or an index) `tag` in the layout's `index.json`, replacing any
/// entry of that name.
fn name_in_layout(
    dir: &Utf8Path,
    tag: &str,
    media_type: &str,
    digest: &Sha256,
    size: u64,
) -> Result<()> {
    crate::files::write_atomic(&dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value = match fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).context("read the layout's index.json")?,
        Err(_) => json!({"schemaVersion": 2, "manifests": []}),
    };
    let manifests = index["manifests"].as_array_mut().context("index.json has no manifests")?;
    manifests.retain(|m| m["annotations"]["org.opencontainers.image.ref.name"] != tag);
    manifests.push(json!({
        "mediaType": media_type,
        "digest": digest.prefixed(),
        "size": size,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }));
    crate::files::write_atomic(&index_path, serde_json::to_vec_pretty(&index)?)?;
    Ok(())
}
