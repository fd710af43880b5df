//! Version constraints as manifests and locks write them: PEP 440 specifiers, and Poetry's own
//! syntax (`^1.2`, `~1.2`, `1.2.*`, `>= 1.2 <2`, `a || b`) turned into them. Versions and their
//! ordering come from pep440_rs, which implements PEP 440 as pip does.

use std::fmt;
use std::str::FromStr;

pub use pep440_rs::{Version, VersionSpecifiers};

/// A set of versions: any of several PEP 440 specifier sets (Poetry's `||`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    any_of: Vec<VersionSpecifiers>,
    text: String,
}

impl Constraint {
    /// Every version.
    pub fn any() -> Constraint {
        Constraint { any_of: vec![VersionSpecifiers::empty()], text: "*".into() }
    }

    /// A PEP 440 specifier set (`>=3.8,<3.10`, `~= 3.9`), as `requires-python` writes it.
    pub fn pep440(text: &str) -> Result<Constraint, String> {
        if text.trim().is_empty() {
            return Ok(Constraint::any());
        }
        let specs = VersionSpecifiers::from_str(text)
            .map_err(|e| format!("{text:?} is not a PEP 440 version specifier ({e})"))?;
        Ok(Constraint { any_of: vec![specs], text: text.to_string() })
    }

    /// A Poetry constraint: `^`, `~`, wildcards, operators with or without a space, clauses
    /// joined by `,` or spaces, alternatives by `||`. An empty one is refused, as Poetry does.
    pub fn poetry(text: &str) -> Result<Constraint, String> {
        if text.trim().is_empty() {
            return Err("an empty version constraint; write \"*\" for any version".into());
        }
        let mut any_of = Vec::new();
        for alternative in text.split("||") {
            let mut specs = Vec::new();
            for clause in clauses(alternative) {
                specs.extend(poetry_clause(&clause).map_err(|e| format!("{text:?}: {e}"))?);
            }
            let joined = specs.join(",");
            let parsed =
                VersionSpecifiers::from_str(&joined).map_err(|e| format!("{text:?}: {e}"))?;
            any_of.push(parsed);
        }
        Ok(Constraint { any_of, text: text.to_string() })
    }

    pub fn contains(&self, version: &Version) -> bool {
        self.any_of.iter().any(|specs| specs.contains(version))
    }

    /// Whether `version` (`3.11.2`, or `3.11` for any patch of it) is allowed.
    pub fn allows(&self, version: &str) -> bool {
        Version::from_str(version).is_ok_and(|v| self.contains(&v))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The clauses of one alternative: split at `,` and spaces, an operator kept with its version
/// (`>= 3.8` is one clause).
fn clauses(alternative: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending_op = String::new();
    for word in alternative.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
        if word.chars().all(|c| "<>=!~^".contains(c)) {
            pending_op.push_str(word);
        } else {
            out.push(format!("{}{word}", std::mem::take(&mut pending_op)));
        }
    }
    if !pending_op.is_empty() {
        out.push(pending_op);
    }
    out
}

/// One Poetry clause as PEP 440 specifiers.
fn poetry_clause(clause: &str) -> Result<Vec<String>, String> {
    // The release part of a version (`0.53b1` → [0, 53], `v0.30.0` → [0, 30, 0]); the rest
    // (pre, post, dev, local) matters to the lower bound only.
    let release = |base: &str| -> Result<Vec<u64>, String> {
        let v = Version::from_str(base).map_err(|_| format!("{base:?} is not a version"))?;
        Ok(v.release().to_vec())
    };
    let bump = |base: &str, keep: usize| -> Result<String, String> {
        let mut parts = release(base)?;
        parts.truncate(keep.max(1));
        if let Some(last) = parts.last_mut() {
            *last += 1;
        }
        Ok(parts.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
    };
    let lower = |base: &str| base.trim_start_matches(['v', 'V']).to_string();
    if clause == "*" {
        return Ok(Vec::new());
    }
    if let Some(base) = clause.strip_prefix('^') {
        // The first non-zero part may not change; a caret on 0.0 keeps two parts.
        let parts = release(base)?;
        let significant =
            parts.iter().position(|p| *p != 0).unwrap_or(parts.len().saturating_sub(1).min(1));
        return Ok(vec![
            format!(">={}", lower(base)),
            format!("<{}", bump(base, significant + 1)?),
        ]);
    }
    if clause.starts_with("~=") {
        return Ok(vec![clause.to_string()]);
    }
    if let Some(base) = clause.strip_prefix('~') {
        let n = release(base)?.len();
        return Ok(vec![
            format!(">={}", lower(base)),
            format!("<{}", bump(base, if n > 1 { 2 } else { 1 })?),
        ]);
    }
    if let Some(rest) = clause.strip_prefix('=').filter(|r| !r.starts_with('=')) {
        return Ok(vec![format!("=={rest}")]);
    }
    if clause.starts_with(['<', '>', '=', '!']) {
        return Ok(vec![clause.to_string()]);
    }
    // A bare version, possibly with a wildcard.
    Ok(vec![format!("=={clause}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poetry(c: &str, v: &str) -> bool {
        Constraint::poetry(c).unwrap().allows(v)
    }

    #[test]
    fn poetry_carets_tildes_wildcards_and_spaces() {
        assert!(poetry("^3.11", "3.12.1") && !poetry("^3.11", "4.0"));
        assert!(poetry("^0.2.3", "0.2.9") && !poetry("^0.2.3", "0.3.0"));
        assert!(poetry("^0.0.3", "0.0.3") && !poetry("^0.0.3", "0.0.4"));
        assert!(poetry("~1.2.3", "1.2.9") && !poetry("~1.2.3", "1.3"));
        assert!(poetry("~1", "1.9") && !poetry("~1", "2"));
        assert!(poetry("3.8.*", "3.8.10") && !poetry("3.8.*", "3.9"));
        assert!(poetry(">= 3.8", "3.11") && !poetry(">= 3.8", "3.7"));
        assert!(poetry(">=3.8 <3.10", "3.9.1") && !poetry(">=3.8 <3.10", "3.10"));
        assert!(poetry(">=3.8,<3.10", "3.9") && !poetry(">=3.8,<3.10", "3.11"));
        assert!(poetry("<3.9 || >=3.11", "3.12") && !poetry("<3.9 || >=3.11", "3.10"));
        assert!(poetry("*", "1.0") && poetry("==2.0", "2.0") && poetry("2.0", "2.0.0"));
        assert!(poetry("~=3.9", "3.12") && !poetry("~=3.9", "4.0"));
        // Pre-releases, post-releases and a leading `v` in the base (seen in real repos).
        assert!(poetry("^0.53b1", "0.53.2") && !poetry("^0.53b1", "0.54"));
        assert!(poetry("^1.0a1", "1.2") && !poetry("^1.0a1", "2.0"));
        assert!(poetry("~1.2.3.post1", "1.2.9") && !poetry("~1.2.3.post1", "1.3"));
        assert!(poetry("^v0.30.0", "0.30.5") && !poetry("^v0.30.0", "0.31"));
    }

    #[test]
    fn pep_440_ordering_is_pip_s() {
        let c = Constraint::pep440("<3.11.2.post1").unwrap();
        assert!(c.allows("3.11.2"), "a release comes before its post-release");
        assert!(Constraint::pep440(">=3.8, <3.10").unwrap().allows("3.9.18"));
        assert!(Constraint::pep440("").unwrap().allows("1"));
    }

    #[test]
    fn bad_constraints_say_so() {
        assert!(Constraint::poetry("").unwrap_err().contains("empty version constraint"));
        assert!(Constraint::poetry("^banana").is_err());
        assert!(Constraint::pep440(">>3").is_err());
    }
}
