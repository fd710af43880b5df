//! The host's pip settings, forwarded into containers that fetch as mounts and env names only.
//!
//! Values never go into argv, an image layer or a log: env vars are passed by name (`-e NAME`,
//! docker copies the value from our environment) and files are bind-mounted read-only.

use camino::Utf8PathBuf;

/// Environment variables pip reads that are safe and useful to forward.
const FORWARDED_ENV: &[&str] = &[
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
];

/// `docker run` arguments that give a container the host's pip configuration. The container
/// runs with `HOME=/tmp/home`.
pub fn docker_args() -> Vec<String> {
    let mut args = Vec::new();
    for name in FORWARDED_ENV {
        if std::env::var_os(name).is_some() {
            args.extend(["-e".to_string(), name.to_string()]);
        }
    }
    let mount = |args: &mut Vec<String>, host: &Utf8PathBuf, inside: &str| {
        args.extend(["-v".to_string(), format!("{host}:{inside}:ro")]);
    };
    let mut certs: Vec<Utf8PathBuf> = Vec::new();
    if let Some(cert) =
        std::env::var("PIP_CERT").ok().map(Utf8PathBuf::from).filter(|p| p.is_file())
    {
        certs.push(cert);
    }
    if let Some(conf) = pip_conf() {
        // A `cert = …` line in pip.conf names a CA bundle that must exist inside too.
        if let Ok(text) = std::fs::read_to_string(&conf) {
            certs.extend(
                text.lines()
                    .filter_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == "cert"))
                    .map(|(_, v)| Utf8PathBuf::from(v.trim()))
                    .filter(|p| p.is_file()),
            );
        }
        mount(&mut args, &conf, "/etc/pip.conf");
    }
    certs.sort();
    certs.dedup();
    for cert in &certs {
        mount(&mut args, cert, cert.as_str());
    }
    if std::env::var_os("PIP_CERT").is_some() {
        args.extend(["-e".to_string(), "PIP_CERT".to_string()]);
    }
    if let Some(netrc) = home().map(|h| h.join(".netrc")).filter(|p| p.is_file()) {
        mount(&mut args, &netrc, "/tmp/home/.netrc");
    }
    args.extend(["-e".to_string(), "HOME=/tmp/home".to_string()]);
    args
}

/// Extra arguments for Poetry (which uses requests, not pip's settings): the CA bundle pip
/// trusts, and Poetry's own credential variables, passed by name.
pub fn poetry_args() -> Vec<String> {
    let mut args = Vec::new();
    let bundle = ["PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(Utf8PathBuf::from)
        .find(|p| p.is_file());
    if let Some(bundle) = bundle {
        args.extend(["-v".to_string(), format!("{bundle}:{bundle}:ro")]);
        args.extend(["-e".to_string(), format!("REQUESTS_CA_BUNDLE={bundle}")]);
    }
    for (name, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        if name.starts_with("POETRY_HTTP_BASIC_")
            || name.starts_with("POETRY_PYPI_TOKEN_")
            || name.starts_with("POETRY_CERTIFICATES_")
        {
            args.extend(["-e".to_string(), name]);
        }
    }
    args
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
