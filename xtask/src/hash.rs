//! SHA-256 digests as a type: hex text, the `sha256:` form locks use, and files hashed once.

use std::fmt;

use anyhow::Result;
use camino::Utf8Path;
use fs_err as fs;
use sha2::{Digest, Sha256 as Hasher};

/// A SHA-256 digest, held as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Sha256(String);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(hex(&Hasher::digest(bytes)))
    }

    /// 64 hex digits (any case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Sha256> {
        let ok = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Sha256(text.to_ascii_lowercase()))
    }

    /// `sha256:<hex>`, as poetry.lock and uv.lock write it; `None` for other algorithms.
    pub fn from_prefixed(text: &str) -> Option<Sha256> {
        text.strip_prefix("sha256:").and_then(Sha256::from_hex)
    }

    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first `n` hex digits, for tags and cache keys.
    pub fn short(&self, n: usize) -> &str {
        &self.0[..n.min(self.0.len())]
    }

    /// `sha256:<hex>`.
    pub fn prefixed(&self) -> String {
        format!("sha256:{}", self.0)
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The digest of a file, remembered next to it (`.sha256/<name>`) with its size and mtime, so
/// an unchanged file is not read again; any change to the file makes it hashed afresh.
pub fn of_file(path: &Utf8Path) -> Result<Sha256> {
    let meta = fs::metadata(path)?;
    let stamp = format!("{} {:?}", meta.len(), meta.modified().ok());
    let memo = path.parent().map(|d| d.join(".sha256").join(path.file_name().unwrap_or_default()));
    if let Some(text) = memo.as_ref().and_then(|m| fs::read_to_string(m).ok()) {
        let remembered = text.rsplit_once('\n').filter(|(seen, _)| *seen == stamp);
        if let Some(sha) = remembered.and_then(|(_, sha)| Sha256::from_hex(sha)) {
            return Ok(sha);
        }
    }
    let sha = Sha256::of(&fs::read(path)?);
    if let Some(memo) = memo {
        // Best effort: a memo that cannot be written only costs a re-read next time.
        let _ = fs::create_dir_all(memo.parent().unwrap_or(&memo))
            .map_err(anyhow::Error::from)
            .and_then(|()| crate::files::write_atomic(&memo, format!("{stamp}\n{sha}")));
    }
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_digests() {
        let d = Sha256::of(b"abc");
        assert_eq!(d.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Sha256::from_prefixed(&d.prefixed()), Some(d.clone()));
        assert_eq!(Sha256::from_hex(&d.hex().to_uppercase()), Some(d.clone()));
        assert_eq!(Sha256::from_prefixed("md5:abc"), None);
        assert_eq!(Sha256::from_hex("xyz"), None);
        assert_eq!(d.short(4), "ba78");
    }

    #[test]
    fn file_digests_follow_changes() {
        let dir = crate::testing::temp_dir("memo");
        let f = dir.join("a.whl");
        fs::write(&f, b"one").unwrap();
        let first = of_file(&f).unwrap();
        assert_eq!(first, Sha256::of(b"one"));
        assert_eq!(of_file(&f).unwrap(), first);
        fs::write(&f, b"two, longer").unwrap();
        assert_eq!(of_file(&f).unwrap(), Sha256::of(b"two, longer"));
        fs::remove_dir_all(dir).unwrap();
    }
}
