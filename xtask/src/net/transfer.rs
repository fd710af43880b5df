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
    let failures: Vec<String> = parallel(downloads, workers, |d| one(client, d))
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    bail!("{} download(s) failed:\n  {}", failures.len(), failures.join("\n  "))
}

/// `f` of every item on up to `workers` threads (network-bound work: index pages, files);
/// the results in the items' order.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let queue = Mutex::new(items.iter().enumerate());
    let results = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let next = queue.lock().map(|mut q| q.next());
                let Ok(Some((n, item))) = next else { break };
                let result = f(item);
                if let Ok(mut all) = results.lock() {
                    all.push((n, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(n, _)| *n);
    results.into_iter().map(|(_, r)| r).collect()
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
