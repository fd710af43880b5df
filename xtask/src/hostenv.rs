//! The host's package-index settings, forwarded into containers as variable names and mounts.
//!
//! Values never go into argv, an image layer or a log: env vars are passed by name (`-e NAME`,
//! docker copies the value from our environment) and files are bind-mounted read-only.

use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use crate::engine::{HostSettings, Mount};

/// Environment variables pip reads that are safe and useful to forward.
const FORWARDED_ENV: &[&str] = &[
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
];

/// What gives a container the host's pip configuration. The container runs with
/// `HOME=/tmp/home`.
pub fn pip() -> HostSettings {
    let mut s = HostSettings::default();
    s.env.extend(
        FORWARDED_ENV.iter().filter(|n| std::env::var_os(n).is_some()).map(ToString::to_string),
    );
    let mut certs: Vec<Utf8PathBuf> = Vec::new();
    if let Some(cert) =
        std::env::var("PIP_CERT").ok().map(Utf8PathBuf::from).filter(|p| p.is_file())
    {
        certs.push(cert);
    }
    if let Some(conf) = pip_conf() {
        // A `cert = …` line in pip.conf names a CA bundle that must exist inside too.
        if let Ok(text) = fs::read_to_string(&conf) {
            certs.extend(
                text.lines()
                    .filter_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == "cert"))
                    .map(|(_, v)| Utf8PathBuf::from(v.trim()))
                    .filter(|p| p.is_file()),
            );
        }
        s.mounts.push(read_only(&conf, "/etc/pip.conf"));
    }
    certs.sort();
    certs.dedup();
    s.mounts.extend(certs.iter().map(|cert| read_only(cert, cert.as_str())));
    if std::env::var_os("PIP_CERT").is_some() {
        s.env.push("PIP_CERT".to_string());
    }
    if let Some(netrc) = home().map(|h| h.join(".netrc")).filter(|p| p.is_file()) {
        s.mounts.push(read_only(&netrc, "/tmp/home/.netrc"));
    }
    s.env.push("HOME=/tmp/home".to_string());
    s
}

/// What gives uv in a container the host's CA bundle and `.netrc` (the index URLs go into a
/// uv.toml of its work folder). The container runs with `HOME=/tmp/home`.
pub fn uv() -> HostSettings {
    let mut s = HostSettings::default();
    if let Some(bundle) = crate::net::Settings::from_host().ca_bundle {
        s.mounts.push(read_only(&bundle, bundle.as_str()));
        s.env.push(format!("SSL_CERT_FILE={bundle}"));
    }
    if let Some(netrc) = home().map(|h| h.join(".netrc")).filter(|p| p.is_file()) {
        s.mounts.push(read_only(&netrc, "/tmp/home/.netrc"));
    }
    s.env.push("HOME=/tmp/home".to_string());
    s
}

/// Extra settings for Poetry (which uses requests, not pip's settings): the CA bundle pip
/// trusts, and Poetry's own credential variables, passed by name.
pub fn poetry() -> HostSettings {
    let mut s = HostSettings::default();
    let bundle = ["PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(Utf8PathBuf::from)
        .find(|p| p.is_file());
    if let Some(bundle) = bundle {
        s.mounts.push(read_only(&bundle, bundle.as_str()));
        s.env.push(format!("REQUESTS_CA_BUNDLE={bundle}"));
    }
    let names = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
    s.env.extend(names.filter(|name| {
        ["POETRY_HTTP_BASIC_", "POETRY_PYPI_TOKEN_", "POETRY_CERTIFICATES_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
    }));
    s
}

fn read_only(host: &Utf8Path, inside: &str) -> Mount {
    Mount { host: host.to_owned(), inside: inside.to_string(), read_only: true }
}

fn home() -> Option<Utf8PathBuf> {
    std::env::var("HOME").ok().map(Utf8PathBuf::from)
}

/// The pip.conf pip would read on the host: `$PIP_CONFIG_FILE`, the user's, or the global one.
fn pip_conf() -> Option<Utf8PathBuf> {
    let mut candidates: Vec<Utf8PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("PIP_CONFIG_FILE") {
        candidates.push(p.into());
    }
    if let Some(h) = home() {
        candidates.push(h.join(".config/pip/pip.conf"));
        candidates.push(h.join(".pip/pip.conf"));
    }
    candidates.push("/etc/pip.conf".into());
    candidates.into_iter().find(|p| p.is_file())
}
