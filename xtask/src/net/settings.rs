//! The host's package-index settings as pip reads them: `PIP_*` variables, pip.conf, the CA
//! bundle, and credentials from index URLs or `.netrc`.

use base64::Engine as _;
use camino::Utf8PathBuf;
use fs_err as fs;

/// Where to download from and how.
#[derive(Clone, Default)]
pub struct Settings {
    /// `PIP_INDEX_URL`, pip.conf's `index-url`, or PyPI.
    pub index_url: String,
    pub extra_index_urls: Vec<String>,
    /// The CA bundle pip is told to trust; `None`: the Mozilla roots.
    pub ca_bundle: Option<Utf8PathBuf>,
    pub timeout_secs: u64,
    /// `(host, login, password)` from `.netrc`; an empty host is its `default` entry.
    netrc: Vec<(String, String, String)>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URLs as given (they may hold credentials) nor the netrc entries.
        f.debug_struct("Settings")
            .field("index_url", &super::public_url(&self.index_url))
            .field("ca_bundle", &self.ca_bundle)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The host's settings, read as pip reads them.
    pub fn from_host() -> Settings {
        let conf = pip_conf();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let index_url = var("PIP_INDEX_URL")
            .or_else(|| conf_value(&conf, "index-url"))
            .unwrap_or_else(|| super::PYPI.to_string());
        let extra = var("PIP_EXTRA_INDEX_URL").or_else(|| conf_value(&conf, "extra-index-url"));
        let ca_bundle = var("PIP_CERT")
            .or_else(|| conf_value(&conf, "cert"))
            .or_else(|| var("REQUESTS_CA_BUNDLE"))
            .or_else(|| var("SSL_CERT_FILE"))
            .map(Utf8PathBuf::from)
            .filter(|p| p.is_file());
        let timeout_secs = var("PIP_DEFAULT_TIMEOUT")
            .or_else(|| conf_value(&conf, "timeout"))
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map_or(60, |t| t.ceil().max(1.0) as u64);
        let netrc = std::env::var("NETRC")
            .ok()
            .map(Utf8PathBuf::from)
            .or_else(|| std::env::var("HOME").ok().map(|h| Utf8PathBuf::from(h).join(".netrc")))
            .and_then(|p| fs::read_to_string(p).ok())
            .map(|t| parse_netrc(&t))
            .unwrap_or_default();
        Settings {
            index_url,
            extra_index_urls: extra
                .map(|e| e.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            ca_bundle,
            timeout_secs,
            netrc,
        }
    }

    /// `url` without its user info, and the `Authorization` value for it: from the URL's own
    /// user info, from an index URL of the settings on the same host, or from `.netrc`.
    pub fn credentials_for(&self, url: &str) -> (String, Option<String>) {
        let (plain, own) = split_userinfo(url);
        let host = host_of(&plain);
        let from_index = || {
            std::iter::once(&self.index_url)
                .chain(&self.extra_index_urls)
                .map(|u| split_userinfo(u))
                .find(|(u, info)| info.is_some() && host_of(u) == host)
                .and_then(|(_, info)| info)
        };
        let from_netrc = || {
            let exact = self.netrc.iter().find(|(h, _, _)| *h == host);
            let entry = exact.or_else(|| self.netrc.iter().find(|(h, _, _)| h.is_empty()));
            entry.map(|(_, login, password)| format!("{login}:{password}"))
        };
        let info = own.or_else(from_index).or_else(from_netrc);
        let auth = info.map(|i| {
            let decoded = percent_decode(&i);
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(decoded))
        });
        (plain, auth)
    }
}

/// `(url without user info, user info)`.
fn split_userinfo(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else { return (url.to_string(), None) };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => (format!("{scheme}://{}", &rest[at + 1..]), Some(rest[..at].to_string())),
        None => (url.to_string(), None),
    }
}

/// The host (without port) of a URL.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':').next().unwrap_or_default().to_ascii_lowercase()
}

/// `%40` and friends in user info, as pip decodes them.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The pip.conf pip would read: `$PIP_CONFIG_FILE`, the user's, or the global one.
fn pip_conf() -> Option<String> {
    let mut candidates: Vec<Utf8PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("PIP_CONFIG_FILE") {
        candidates.push(p.into());
    }
    if let Ok(h) = std::env::var("HOME") {
        let h = Utf8PathBuf::from(h);
        candidates.push(h.join(".config/pip/pip.conf"));
        candidates.push(h.join(".pip/pip.conf"));
    }
    candidates.push("/etc/pip.conf".into());
    candidates.into_iter().find(|p| p.is_file()).and_then(|p| fs::read_to_string(p).ok())
}

/// A key of pip.conf's `[global]`, `[download]` or `[install]` section (later ones win, as
/// the command's own section does in pip), continuation lines joined.
fn conf_value(conf: &Option<String>, key: &str) -> Option<String> {
    let text = conf.as_deref()?;
    let mut section = String::new();
    let mut found: Option<String> = None;
    let mut continuing = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.trim_matches(['[', ']']).trim().to_string();
            continuing = false;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        let relevant = ["global", "download", "install"].contains(&section.as_str());
        if continuing && line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push(' ');
                v.push_str(trimmed);
            }
            continue;
        }
        continuing = false;
        if let Some((k, v)) = trimmed.split_once(['=', ':']) {
            let k = k.trim().replace('_', "-");
            if relevant && (k == key || k == key.replace('-', "")) {
                found = Some(v.trim().to_string());
                continuing = true;
            }
        }
    }
    found.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// `machine`/`default` entries of a `.netrc`.
fn parse_netrc(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut tokens = text.split_whitespace();
    let mut current: Option<(String, String, String)> = None;
    while let Some(token) = tokens.next() {
        match token {
            "machine" | "default" => {
                out.extend(current.take());
                let host = if token == "machine" { tokens.next().unwrap_or_default() } else { "" };
                current = Some((host.to_ascii_lowercase(), String::new(), String::new()));
            }
            "login" => {
                if let (Some(c), Some(v)) = (current.as_mut(), tokens.next()) {
                    c.1 = v.to_string();
                }
            }
            "password" => {
                if let (Some(c), Some(v)) = (current.as_mut(), tokens.next()) {
                    c.2 = v.to_string();
                }
            }
            _ => {}
        }
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_url_the_index_or_netrc_and_stay_on_their_host() {
        let s = Settings {
            index_url: "https://ci:t%40k@idx.example/simple".into(),
            netrc: parse_netrc("machine files.example login bob password pw\n"),
            ..Settings::default()
        };
        let basic = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        let (plain, auth) = s.credentials_for("https://ci:t%40k@idx.example/simple/x/");
        assert_eq!(plain, "https://idx.example/simple/x/");
        assert_eq!(auth, Some(basic("ci", "t@k")));
        assert_eq!(s.credentials_for("https://idx.example/f.whl").1, Some(basic("ci", "t@k")));
        assert_eq!(s.credentials_for("https://files.example/f.whl").1, Some(basic("bob", "pw")));
        assert_eq!(s.credentials_for("https://elsewhere.example/f.whl").1, None);
    }

    #[test]
    fn pip_conf_keys_and_continuations() {
        let conf = Some(
            "[global]\nindex-url = https://a/simple\nextra-index-url =\n    https://b/simple\n    https://c/simple\n[other]\ncert = /nope\n"
                .to_string(),
        );
        assert_eq!(conf_value(&conf, "index-url").as_deref(), Some("https://a/simple"));
        assert_eq!(
            conf_value(&conf, "extra-index-url").as_deref(),
            Some("https://b/simple https://c/simple")
        );
        assert_eq!(conf_value(&conf, "cert"), None);
    }
}
