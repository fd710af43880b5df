//! The simple repository API: a project's page on an index (PEP 691 JSON, or PEP 503 HTML
//! where the index serves only that), read into its files' names, URLs and digests.

use anyhow::{Context, Result};

use super::Client;
use crate::model::names::PackageName;

/// One file a project page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub name: String,
    /// Absolute, resolved against the page.
    pub url: String,
    pub sha256: Option<String>,
}

const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// The files of `name` on the index at `index` (a simple-API root such as
/// `https://pypi.org/simple`).
pub fn files(client: &Client, index: &str, name: &PackageName) -> Result<Vec<IndexFile>> {
    let page = format!("{}/{}/", index.trim_end_matches('/'), name.as_str());
    let (kind, body) = client.text(&page, ACCEPT)?;
    let shown = super::public_url(&page);
    if kind.contains("json") {
        parse_json(&body, &page).with_context(|| format!("read the index page {shown}"))
    } else {
        Ok(parse_html(&body, &page))
    }
}

fn parse_json(body: &str, page: &str) -> Result<Vec<IndexFile>> {
    #[derive(serde::Deserialize)]
    struct Page {
        files: Vec<File>,
    }
    #[derive(serde::Deserialize)]
    struct File {
        filename: String,
        url: String,
        #[serde(default)]
        hashes: std::collections::BTreeMap<String, String>,
    }
    let parsed: Page = serde_json::from_str(body)?;
    Ok(parsed
        .files
        .into_iter()
        .map(|f| IndexFile {
            url: join(page, &f.url),
            sha256: f.hashes.get("sha256").cloned(),
            name: f.filename,
        })
        .collect())
}

/// The anchors of a PEP 503 page: the text is the file name, the href its URL with the digest
/// in the fragment (`#sha256=…`).
fn parse_html(body: &str, page: &str) -> Vec<IndexFile> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = find_ci(rest, "<a ") {
        let tag_end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = &rest[start..tag_end];
        let close = find_ci(&rest[tag_end..], "</a>").map_or(rest.len(), |e| tag_end + e);
        let text = rest.get(tag_end + 1..close).unwrap_or_default().trim();
        if let Some(href) = attribute(tag, "href") {
            let href = unescape(&href);
            let (url, fragment) = href.split_once('#').unwrap_or((&href, ""));
            let sha256 = fragment.strip_prefix("sha256=").map(str::to_string);
            let name = if text.is_empty() {
                url.rsplit('/').next().unwrap_or_default().to_string()
            } else {
                unescape(text)
            };
            out.push(IndexFile { name, url: join(page, url), sha256 });
        }
        rest = &rest[close.min(rest.len())..];
        if rest.is_empty() {
            break;
        }
        rest = &rest[1..];
    }
    out
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

/// An attribute's value in a tag, quoted with `"` or `'`.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let quote = tag[at..].chars().next()?;
    if quote == '"' || quote == '\'' {
        let end = tag[at + 1..].find(quote)?;
        Some(tag[at + 1..at + 1 + end].to_string())
    } else {
        Some(tag[at..].split_whitespace().next()?.to_string())
    }
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// `href` resolved against the page URL `base` (RFC 3986 for the forms indexes use:
/// absolute, scheme-relative, host-relative and path-relative).
pub fn join(base: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some(r) = href.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    if href.starts_with('/') {
        return normalize(&format!("{scheme}://{authority}"), href);
    }
    let dir = &rest[authority.len()..];
    let dir = dir.split(['?', '#']).next().unwrap_or_default();
    let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
    normalize(&format!("{scheme}://{authority}"), &format!("{dir}{href}"))
}

/// `origin` + `path` with `.` and `..` segments removed.
fn normalize(origin: &str, path: &str) -> String {
    let (path, tail) = path.find(['?', '#']).map_or((path, ""), |i| path.split_at(i));
    let mut parts: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                if parts.len() > 1 {
                    parts.pop();
                }
            }
            s => parts.push(s),
        }
        if i == segments.len() - 1 && (*seg == "." || *seg == "..") {
            parts.push("");
        }
    }
    format!("{origin}{}{tail}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_give_names_urls_and_digests() {
        let page = "https://idx.example/simple/toml/";
        let html = r#"<!DOCTYPE html><html><body>
<a href="../../packages/ab/toml-0.10.2-py2.py3-none-any.whl#sha256=abc" data-requires-python="&gt;=2.6">toml-0.10.2-py2.py3-none-any.whl</a><br/>
<A HREF='https://files.example/t/toml-0.10.2.tar.gz#sha256=def'>toml-0.10.2.tar.gz</A>
</body></html>"#;
        let files = parse_html(html, page);
        assert_eq!(
            files,
            vec![
                IndexFile {
                    name: "toml-0.10.2-py2.py3-none-any.whl".into(),
                    url: "https://idx.example/packages/ab/toml-0.10.2-py2.py3-none-any.whl".into(),
                    sha256: Some("abc".into()),
                },
                IndexFile {
                    name: "toml-0.10.2.tar.gz".into(),
                    url: "https://files.example/t/toml-0.10.2.tar.gz".into(),
                    sha256: Some("def".into()),
                },
            ]
        );
    }

    #[test]
    fn json_pages_and_relative_urls() {
        let page = "https://idx.example/simple/toml/";
        let json = r#"{"meta":{"api-version":"1.1"},"name":"toml","files":[{"filename":"toml-0.10.2.tar.gz","url":"/f/toml-0.10.2.tar.gz","hashes":{"sha256":"def"}}]}"#;
        let files = parse_json(json, page).unwrap();
        assert_eq!(files[0].url, "https://idx.example/f/toml-0.10.2.tar.gz");
        assert_eq!(join(page, "//cdn.example/x.whl"), "https://cdn.example/x.whl");
        assert_eq!(join(page, "x.whl"), "https://idx.example/simple/toml/x.whl");
    }
}
