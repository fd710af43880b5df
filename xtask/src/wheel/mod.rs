//! Wheels: fixing path-dependency metadata, content hashes, and the content-addressed cache.

pub mod cache;
pub mod install;
pub mod rewrite;
pub mod tags;

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
