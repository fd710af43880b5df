//! HTTPS without pip: the host's index settings (index URLs, the CA bundle pip is told to
//! trust, credentials from URLs or `.netrc`), PEP 503/691 simple-API pages, and downloads
//! checked against their sha256 while they stream.
//!
//! Credentials are sent only to the host they belong to (never across a redirect) and never
//! appear in a message, a log or a file: URLs are shown through [`public_url`].

mod settings;
pub mod simple;
mod transfer;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::Agent;

pub use settings::Settings;
pub use transfer::{download_all, parallel, Download};

/// The public index when the host names none.
pub const PYPI: &str = "https://pypi.org/simple";

/// An HTTPS client with the host's settings.
pub struct Client {
    agent: Agent,
    settings: Settings,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}

impl Client {
    /// A client trusting the host's CA bundle (pip's `cert`, `PIP_CERT`, `REQUESTS_CA_BUNDLE`,
    /// `SSL_CERT_FILE`) or, without one, the Mozilla roots.
    pub fn new(settings: Settings) -> Result<Client> {
        let roots = match &settings.ca_bundle {
            Some(path) => {
                let pem = fs_err::read(path)?;
                let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    bail!("{path}: no certificate in this CA bundle (set by pip's `cert`)");
                }
                RootCerts::new_with_certs(&certs)
            }
            None => RootCerts::WebPki,
        };
        let config = Agent::config_builder()
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_body(Some(Duration::from_secs(settings.timeout_secs)))
            .http_status_as_error(false)
            .build();
        let agent = Agent::with_parts(config, DefaultConnector::default(), OnceResolver::default());
        Ok(Client { agent, settings })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// GET `url` with the credentials that belong to its host; the response when its status
    /// is 2xx. `accept` is the Accept header.
    fn get(&self, url: &str, accept: &str) -> Result<ureq::http::Response<ureq::Body>> {
        let (plain, auth) = self.settings.credentials_for(url);
        let request = || {
            let request = self.agent.get(&plain).header("Accept", accept);
            match &auth {
                Some(auth) => request.header("Authorization", auth),
                None => request,
            }
        };
        let shown = public_url(url);
        let mut last = None;
        // A few tries for what a retry can fix: connection errors and 5xx answers.
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(300 * attempt));
            }
            match request().call() {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if response.status().is_server_error() => {
                    last = Some(format!("HTTP {}", response.status()));
                }
                Ok(response) => bail!("GET {shown}: HTTP {}{}", response.status(), hint(&response)),
                Err(e) => last = Some(e.to_string()),
            }
        }
        bail!("GET {shown}: {}", last.unwrap_or_default())
    }

    /// The body of `url` as text (a simple-API page).
    pub fn text(&self, url: &str, accept: &str) -> Result<(String, String)> {
        let response = self.get(url, accept)?;
        let kind = content_type(&response);
        let mut body = String::new();
        response
            .into_body()
            .into_reader()
            .take(64 << 20)
            .read_to_string(&mut body)
            .with_context(|| format!("read {}", public_url(url)))?;
        Ok((kind, body))
    }
}

/// Resolves each host once per run. ureq resolves before every request, even one that reuses
/// a pooled connection, and a burst of lookups from parallel downloads loses some to the
/// system resolver's 5 s retry on some networks (seen here: 10–15 s for a 40-file fetch).
/// Lookups run one at a time, so that parallel requests to one host make a single lookup.
#[derive(Debug, Default)]
struct OnceResolver {
    inner: DefaultResolver,
    known: Mutex<HashMap<String, ResolvedSocketAddrs>>,
}

impl Resolver for OnceResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", |a| a.as_str())
        );
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(addrs) = known.get(&key) {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        known.insert(key, addrs.clone());
        Ok(addrs)
    }
}

/// The response's `Content-Type`, or empty.
pub fn content_type(response: &ureq::http::Response<ureq::Body>) -> String {
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok());
    kind.unwrap_or_default().to_string()
}

/// What to do about a 401/403/404, for the message.
fn hint(response: &ureq::http::Response<ureq::Body>) -> &'static str {
    match response.status().as_u16() {
        401 | 403 => {
            " (credentials: put them in the index URL of pip.conf or PIP_INDEX_URL, or in ~/.netrc)"
        }
        404 => " (not on this index: is the lock's source the right one?)",
        _ => "",
    }
}

/// `url` without user info, query or fragment: what messages show.
pub fn public_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() {
        format!("{host}/{path}")
    } else {
        format!("{scheme}://{host}/{path}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_urls_carry_no_secret() {
        assert_eq!(
            super::public_url("https://u:tok@idx.example/simple/x/?k=secret#sha256=1"),
            "https://idx.example/simple/x/"
        );
    }
}
