//! Python package names and PEP 508 requirement strings, parsed without I/O.

use std::fmt;

/// A distribution name, PEP 503-normalised: lowercase, runs of `-`, `_` and `.` as one `-`.
/// Every comparison of package names goes through this type.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct PackageName(String);

/// Shown as the quoted name, as messages print names (`"hermes-quiver"`).
impl fmt::Debug for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PackageName {
    /// Normalises a name as written in a manifest, lock or wheel file name.
    pub fn new(raw: &str) -> PackageName {
        PackageName(normalize(raw))
    }

    /// A name as a manifest declares it, refused unless it is a valid PEP 508 name: ASCII
    /// letters and digits, with `.`, `_` or `-` only between them. Normalised names are then
    /// safe in file names, image names and tags.
    pub fn parse(raw: &str) -> Result<PackageName, String> {
        let bytes = raw.as_bytes();
        let inner_ok =
            bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        let ends_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
        if !(inner_ok && ends_ok) {
            return Err(format!(
                "{raw:?} is not a valid package name: use ASCII letters and digits, with `.`, `_` \
                 or `-` only between them (PEP 508)"
            ));
        }
        Ok(PackageName::new(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as wheel file names and `.dist-info` folders spell it (`-` becomes `_`).
    pub fn as_dist(&self) -> String {
        self.0.replace('-', "_")
    }
}

impl std::ops::Deref for PackageName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for PackageName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for PackageName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PackageName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// PEP 503 normalisation of a name as text.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// A PEP 508 requirement, split into the parts the model needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub extras: Vec<String>,
    /// Version specifier or `@ url`, as written (may be empty).
    pub spec: String,
    pub markers: Option<String>,
}

/// Parses `name[extra,...] spec ; markers`. Errors are sentences naming the problem.
pub fn parse_requirement(text: &str) -> Result<Requirement, String> {
    let (body, markers) = match split_markers(text) {
        Some((b, m)) => (b, Some(m.trim().to_string()).filter(|m| !m.is_empty())),
        None => (text, None),
    };
    let body = body.trim();
    let name_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() {
        return Err(format!("requirement {text:?} does not start with a package name"));
    }
    let mut rest = body[name_end..].trim_start();
    let mut extras = Vec::new();
    if let Some(after) = rest.strip_prefix('[') {
        let close =
            after.find(']').ok_or_else(|| format!("requirement {text:?} has an unclosed `[`"))?;
        extras = after[..close].split(',').map(normalize).filter(|e| !e.is_empty()).collect();
        rest = after[close + 1..].trim_start();
    }
    Ok(Requirement { name: name.to_string(), extras, spec: rest.trim().to_string(), markers })
}

/// Splits at the `;` that starts the markers. A URL requirement (`@ url`) needs a space
/// before its `;` (PEP 508), so a `;` inside the URL is not taken for one.
fn split_markers(text: &str) -> Option<(&str, &str)> {
    if text.contains('@') {
        let at = text.find(" ;").or_else(|| text.find("\t;"))?;
        let semi = at + text[at..].find(';')?;
        return Some((&text[..semi], &text[semi + 1..]));
    }
    text.split_once(';')
}

/// Edit distance, for "did you mean" hints.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize("hermes.quiver"), "hermes-quiver");
        assert_eq!(normalize("Hermes__Quiver"), "hermes-quiver");
        assert_eq!(normalize("a-_.b"), "a-b");
    }

    #[test]
    fn package_names_must_be_pep_508_names() {
        assert_eq!(PackageName::parse("Hermes.Quiver").unwrap(), "hermes-quiver");
        assert_eq!(PackageName::parse("a").unwrap(), "a");
        for bad in ["/tmp/x/victim", "../x", "a b", "-a", "a-", "", "é", "a/b", "."] {
            assert!(PackageName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_extras_specs_and_markers() {
        let r =
            parse_requirement("hermes.gwftools[GCS, x] >=0.1 ; python_version < '3.12'").unwrap();
        assert_eq!(r.name, "hermes.gwftools");
        assert_eq!(r.extras, vec!["gcs", "x"]);
        assert_eq!(r.spec, ">=0.1");
        assert_eq!(r.markers.as_deref(), Some("python_version < '3.12'"));
    }

    #[test]
    fn url_requirements_keep_their_semicolons() {
        let r = parse_requirement("lib @ file:///a;b/c ; sys_platform == 'linux'").unwrap();
        assert_eq!(r.spec, "@ file:///a;b/c");
        assert_eq!(r.markers.as_deref(), Some("sys_platform == 'linux'"));
    }

    #[test]
    fn rejects_requirements_without_a_name() {
        assert!(parse_requirement(">=1.0").is_err());
        assert!(parse_requirement("a[b").is_err());
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("hello-world", "helo-world"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
    }
}
