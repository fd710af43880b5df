//! Downloads in parallel, each checked against its sha256 while it streams and moved into
//! place only when it matches: a file in place is always a whole, verified one.

use std::io::{Read, Write};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use fs_err as fs;
use sha2::{Digest, Sha256 as Hasher};

use super::{public_url, Client};
use crate::hash::{hex, Sha256};

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct Download {
    pub url: String,
    /// Where the verified file goes (its folder exists).
    pub dest: Utf8PathBuf,
    pub sha256: Sha256,
}

/// Runs every download on up to `workers` threads. All are attempted; the error names each
/// file that failed.
pub fn download_all(client: &Client, downloads: &[Download], workers: usize) -> Result<()> {
    let queue = Mutex::new(downloads.iter());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, downloads.len().max(1)) {
            scope.spawn(|| loop {
                let next = queue.lock().map(|mut q| q.next());
                let Ok(Some(d)) = next else { break };
                if let Err(e) = one(client, d) {
                    if let Ok(mut f) = failures.lock() {
                        f.push(format!("{e:#}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_default();
    if failures.is_empty() {
        return Ok(());
    }
    bail!("{} download(s) failed:\n  {}", failures.len(), failures.join("\n  "))
}

/// Streams `d` into a temporary file next to its destination, hashing as it goes.
fn one(client: &Client, d: &Download) -> Result<()> {
    let file = d.dest.file_name().unwrap_or_default();
    let tmp = d.dest.with_file_name(format!(".{file}.part-{}", crate::runs::this_run()));
    let result = (|| {
        let response = client.get(&d.url, "*/*")?;
        let mut reader = response.into_body().into_reader();
        let mut out = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n =
                reader.read(&mut buf).with_context(|| format!("read {}", public_url(&d.url)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        out.sync_all()?;
        let actual = hex(&hasher.finalize());
        if actual != d.sha256.hex() {
            bail!(
                "{file}: its sha256 is {actual}, the lock pins {}; the file was discarded (a \
                 changed or tampered index?)",
                d.sha256
            );
        }
        fs::rename(&tmp, &d.dest)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("download {file}"))
}
