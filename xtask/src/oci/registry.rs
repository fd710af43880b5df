//! The OCI distribution API, spoken directly: blobs pushed once (a HEAD first), manifests by
//! tag, and pulls. Credentials come from the user's docker config (`auths`), are answered to
//! Basic or Bearer challenges of the registry itself only, and are never printed.

use std::io::Read;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use fs_err as fs;

use crate::hash::Sha256;

/// What one request gives.
type Sent = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

/// A repository on a registry: `host[:port]` and `name` (`team/app`).
#[derive(Debug, Clone)]
pub struct Repository {
    pub host: String,
    pub name: String,
    base: String,
    agent: ureq::Agent,
    basic: Option<String>,
    token: std::cell::RefCell<Option<String>>,
}

/// `host/name` of a reference without tag or digest: `127.0.0.1:5000/team/app:1` gives
/// `("127.0.0.1:5000", "team/app")`.
pub fn split(reference: &str) -> Option<(String, String, String)> {
    let (rest, tag) = match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (reference, "latest"),
    };
    let (host, name) = rest.split_once('/')?;
    let registry_like = host.contains('.') || host.contains(':') || host == "localhost";
    registry_like.then(|| (host.to_string(), name.to_string(), tag.to_string()))
}

/// Basic credentials for `host` from `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
fn credentials(host: &str) -> Option<String> {
    let dir = std::env::var("DOCKER_CONFIG")
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.docker")))?;
    let text = fs::read_to_string(format!("{dir}/config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = config["auths"].as_object()?;
    let entry = auths.iter().find(|(k, _)| {
        let k = k.trim_start_matches("https://").trim_start_matches("http://");
        k.split('/').next() == Some(host)
    })?;
    entry.1["auth"].as_str().map(|a| format!("Basic {a}"))
}

impl Repository {
    /// HTTPS, except for a loopback registry (as the docker engine does).
    pub fn new(host: &str, name: &str) -> Repository {
        let loopback =
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
        let scheme = if loopback { "http" } else { "https" };
        let config = ureq::Agent::config_builder().http_status_as_error(false).build();
        Repository {
            host: host.to_string(),
            name: name.to_string(),
            base: format!("{scheme}://{host}/v2/{name}"),
            agent: config.into(),
            basic: credentials(host),
            token: Default::default(),
        }
    }

    /// Sends a request built by `make` with the current authorization; on a 401, answers the
    /// registry's challenge once and sends it again.
    fn send(
        &self,
        make: &dyn Fn(Option<&str>) -> Sent,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let auth = self.token.borrow().clone().or_else(|| self.basic.clone());
        let response =
            make(auth.as_deref()).with_context(|| format!("reach the registry {}", self.host))?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let answer = self.answer(&challenge)?;
        *self.token.borrow_mut() = Some(answer.clone());
        make(Some(&answer)).with_context(|| format!("reach the registry {}", self.host))
    }

    /// `Bearer realm=…,service=…,scope=…`: a token from the realm (with the user's basic
    /// credentials when they have some); `Basic`: those credentials.
    fn answer(&self, challenge: &str) -> Result<String> {
        if let Some(params) = challenge.strip_prefix("Bearer ") {
            let get = |key: &str| {
                params.split(',').find_map(|p| {
                    let (k, v) = p.trim().split_once('=')?;
                    (k == key).then(|| v.trim_matches('"').to_string())
                })
            };
            let realm = get("realm").context("a Bearer challenge without realm")?;
            let mut url = format!("{realm}?service={}", get("service").unwrap_or_default());
            if let Some(scope) = get("scope") {
                url += &format!("&scope={scope}");
            }
            let mut request = self.agent.get(&url);
            if let Some(basic) = &self.basic {
                request = request.header("Authorization", basic);
            }
            let mut response = request.call().context("ask the registry for a token")?;
            if !response.status().is_success() {
                bail!(
                    "the registry {} refused a token (HTTP {}); log in with `docker login {}`",
                    self.host,
                    response.status(),
                    self.host
                );
            }
            let body: serde_json::Value =
                serde_json::from_str(&response.body_mut().read_to_string()?)?;
            let token = body["token"].as_str().or_else(|| body["access_token"].as_str());
            return Ok(format!("Bearer {}", token.context("the token answer holds no token")?));
        }
        self.basic.clone().with_context(|| {
            format!(
                "the registry {} asks for credentials; log in with `docker login {}`",
                self.host, self.host
            )
        })
    }

    /// Whether the registry has the blob.
    pub fn has_blob(&self, digest: &Sha256) -> Result<bool> {
        let url = format!("{}/blobs/{}", self.base, digest.prefixed());
        let response = self.send(&|auth| with_auth(self.agent.head(&url), auth).call())?;
        Ok(response.status().is_success())
    }

    /// Uploads a blob unless the registry has it (one POST and one PUT).
    pub fn push_blob(&self, digest: &Sha256, bytes: &[u8]) -> Result<()> {
        if self.has_blob(digest)? {
            return Ok(());
        }
        let url = format!("{}/blobs/uploads/", self.base);
        let started = self.send(&|auth| with_auth(self.agent.post(&url), auth).send_empty())?;
        if started.status().as_u16() != 202 {
            bail!("the registry {} refused an upload (HTTP {})", self.host, started.status());
        }
        let location = started
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("an upload without Location")?;
        let location = if location.starts_with('/') {
            let origin = self.base.split("/v2/").next().unwrap_or_default();
            format!("{origin}{location}")
        } else {
            location.to_string()
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{sep}digest={}", digest.prefixed());
        let done = self.send(&|auth| {
            with_auth(self.agent.put(&put).header("Content-Type", "application/octet-stream"), auth)
                .send(bytes)
        })?;
        if done.status().as_u16() != 201 {
            bail!(
                "the registry {} did not take the blob {digest} (HTTP {})",
                self.host,
                done.status()
            );
        }
        Ok(())
    }

    /// Puts a manifest under `tag`; returns the digest the registry reports.
    pub fn push_manifest(&self, tag: &str, media_type: &str, manifest: &[u8]) -> Result<String> {
        let url = format!("{}/manifests/{tag}", self.base);
        let response = self.send(&|auth| {
            with_auth(self.agent.put(&url).header("Content-Type", media_type), auth).send(manifest)
        })?;
        if !response.status().is_success() {
            bail!(
                "the registry {} did not take the manifest for {tag} (HTTP {})",
                self.host,
                response.status()
            );
        }
        let digest = response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok());
        Ok(digest.map_or_else(|| Sha256::of(manifest).prefixed(), str::to_string))
    }

    /// The manifest under `reference` (a tag or a digest), with its media type; `None` when
    /// the registry has none.
    pub fn manifest(&self, reference: &str) -> Result<Option<(String, Vec<u8>)>> {
        let url = format!("{}/manifests/{reference}", self.base);
        let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";
        let mut response = self
            .send(&|auth| with_auth(self.agent.get(&url).header("Accept", accept), auth).call())?;
        if response.status().as_u16() == 404 {
            return Ok(None);
        }
        if !response.status().is_success() {
            bail!("the registry {} answered HTTP {} for {reference}", self.host, response.status());
        }
        let kind = crate::net::content_type(&response);
        let mut bytes = Vec::new();
        response.body_mut().as_reader().take(16 << 20).read_to_end(&mut bytes)?;
        Ok(Some((kind, bytes)))
    }

    /// A blob's bytes, checked against its digest.
    pub fn blob(&self, digest: &Sha256) -> Result<Vec<u8>> {
        let url = format!("{}/blobs/{}", self.base, digest.prefixed());
        let mut response = self.send(&|auth| with_auth(self.agent.get(&url), auth).call())?;
        if !response.status().is_success() {
            bail!(
                "the registry {} answered HTTP {} for the blob {digest}",
                self.host,
                response.status()
            );
        }
        let mut bytes = Vec::new();
        response.body_mut().as_reader().take(8 << 30).read_to_end(&mut bytes)?;
        if Sha256::of(&bytes) != *digest {
            bail!("the blob {digest} from {} does not match its digest", self.host);
        }
        Ok(bytes)
    }
}

/// An image the registry holds: its manifest (bytes and media type) and its config.
#[derive(Debug, Clone)]
pub struct Remote {
    pub media_type: String,
    pub manifest: Vec<u8>,
    pub config: serde_json::Value,
    /// `sha256:…` of the config: the image id.
    pub config_digest: String,
    /// Layer digests and sizes, as the manifest lists them.
    pub layers: Vec<(String, u64)>,
}

impl Remote {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config["config"]["Labels"][key].as_str()
    }

    pub fn digest(&self) -> Sha256 {
        Sha256::of(&self.manifest)
    }

    pub fn diff_ids(&self) -> Vec<String> {
        let ids = self.config["rootfs"]["diff_ids"].as_array();
        ids.map(|l| l.iter().filter_map(|d| d.as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    pub fn labels(&self) -> std::collections::BTreeMap<String, String> {
        let labels = self.config["config"]["Labels"].as_object();
        labels
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Repository {
    /// The image under `reference` (a single-platform manifest), with its config; `None` when
    /// the registry has no such tag.
    pub fn image(&self, reference: &str) -> Result<Option<Remote>> {
        let Some((media_type, manifest)) = self.manifest(reference)? else { return Ok(None) };
        let value: serde_json::Value = serde_json::from_slice(&manifest)?;
        let Some(digest) = value["config"]["digest"].as_str().and_then(Sha256::from_prefixed)
        else {
            return Ok(None); // an index, or an artifact without a config
        };
        let config: serde_json::Value = serde_json::from_slice(&self.blob(&digest)?)?;
        let config_digest = digest.prefixed();
        let layers = value["layers"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|d| Some((d["digest"].as_str()?.to_string(), d["size"].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(Remote { media_type, manifest, config, config_digest, layers }))
    }
}

/// `request` with the `Authorization` header `auth`, when there is one.
fn with_auth<B>(request: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
    match auth {
        Some(a) => request.header("Authorization", a),
        None => request,
    }
}

/// The `Basic` value of `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_split_into_registry_name_and_tag() {
        assert_eq!(
            super::split("127.0.0.1:5000/team/app:1.2"),
            Some(("127.0.0.1:5000".into(), "team/app".into(), "1.2".into()))
        );
        assert_eq!(
            super::split("ghcr.io/acme/app"),
            Some(("ghcr.io".into(), "acme/app".into(), "latest".into()))
        );
        assert_eq!(super::split("app:1"), None);
        assert_eq!(super::split("team/app:1"), None);
    }
}
