//! Rewrites a built wheel so it installs anywhere: path requirements become pins, RECORD is redone.
//!
//! Poetry writes `Requires-Dist: lib @ file:///abs/path` for path dependencies
//! (python-poetry/poetry#1168, #4868, #5273); such a wheel installs only on the machine that
//! built it. Every local requirement becomes `lib==<version>`, extras and markers kept.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::model::names::{parse_requirement, PackageName};

/// Rewrites `Requires-Dist` lines of METADATA text. `pins` maps normalised local names to
/// versions. Fails when a `file://` or path requirement would remain.
pub fn rewrite_metadata(
    metadata: &str,
    pins: &BTreeMap<PackageName, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(metadata.len());
    let mut in_headers = true;
    for line in metadata.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        if body.is_empty() {
            in_headers = false;
        }
        let Some(req) = body.strip_prefix("Requires-Dist:").filter(|_| in_headers) else {
            out.push_str(line);
            continue;
        };
        let r = parse_requirement(req.trim()).map_err(|e| format!("METADATA: {e}"))?;
        let name = PackageName::new(&r.name);
        let new = match pins.get(&name) {
            Some(version) => {
                let extras = if r.extras.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", r.extras.join(","))
                };
                let markers = r.markers.map(|m| format!("; {m}")).unwrap_or_default();
                // A version the backend computes is not known before the build: unpinned.
                let pin = if version.is_empty() { String::new() } else { format!("=={version}") };
                format!("Requires-Dist: {}{extras}{pin}{markers}", r.name)
            }
            None => body.to_string(),
        };
        if new.contains("file://") || new.contains("@ /") || new.contains("@ .") {
            return Err(format!(
                "METADATA still has a path requirement after the rewrite: {new:?}; is {:?} a local package \
                 outside this closure?",
                r.name
            ));
        }
        out.push_str(&new);
        out.push_str(&line[body.len()..]);
    }
    Ok(out)
}

/// urlsafe base64 without padding, as RECORD hashes use (PEP 376 / PEP 427).
pub fn b64_urlsafe_nopad(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..chunk.len() + 1 {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Reads a wheel, rewrites its METADATA with `pins`, regenerates RECORD, and writes it again
/// with fixed timestamps so the same input always gives the same bytes.
pub fn rewrite_wheel(
    wheel: &[u8],
    pins: &BTreeMap<PackageName, String>,
) -> Result<Vec<u8>, String> {
    let mut zip =
        ZipArchive::new(Cursor::new(wheel)).map_err(|e| format!("not a zip file: {e}"))?;
    let mut files: Vec<(String, Vec<u8>, Option<u32>)> = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| format!("read entry {i}: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut data).map_err(|e| format!("read {}: {e}", entry.name()))?;
        files.push((entry.name().to_string(), data, entry.unix_mode()));
    }
    let dist_info = files
        .iter()
        .find_map(|(n, _, _)| {
            n.strip_suffix("/METADATA").filter(|d| d.ends_with(".dist-info") && !d.contains('/'))
        })
        .ok_or("no *.dist-info/METADATA in the wheel")?
        .to_string();
    let record_name = format!("{dist_info}/RECORD");
    let mut record = String::new();
    for (name, data, _) in files.iter_mut() {
        if *name == format!("{dist_info}/METADATA") {
            let text = std::str::from_utf8(data).map_err(|_| "METADATA is not UTF-8")?;
            *data = rewrite_metadata(text, pins)?.into_bytes();
        }
        if *name != record_name {
            let digest = b64_urlsafe_nopad(&Sha256::digest(&data[..]));
            record += &format!("{},sha256={digest},{}\n", csv_field(name), data.len());
        }
    }
    record += &format!("{record_name},,\n");
    // RECORD goes last, as installers expect the dist-info at the end of the archive.
    files.retain(|(n, _, _)| *n != record_name);
    files.push((record_name, record.into_bytes(), Some(0o644)));

    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    let epoch = DateTime::from_date_and_time(1980, 1, 1, 0, 0, 0).map_err(|e| e.to_string())?;
    for (name, data, mode) in &files {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(epoch)
            .unix_permissions(mode.unwrap_or(0o644) & 0o777);
        out.start_file(name.as_str(), options).map_err(|e| format!("write {name}: {e}"))?;
        out.write_all(data).map_err(|e| format!("write {name}: {e}"))?;
    }
    Ok(out.finish().map_err(|e| format!("finish the wheel: {e}"))?.into_inner())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins() -> BTreeMap<PackageName, String> {
        BTreeMap::from([
            (PackageName::new("hermes-quiver"), "0.2.0".into()),
            (PackageName::new("hermes-typeo"), "0.1.5".into()),
        ])
    }

    #[test]
    fn path_requirements_become_pins_with_extras_and_markers() {
        let metadata = "Metadata-Version: 2.3\nName: export\nRequires-Dist: hermes.quiver[tabular] @ file:///repo/libs/hermes/hermes.quiver\nRequires-Dist: hermes.typeo @ file:///tmp/x ; extra == \"gcs\"\nRequires-Dist: numpy (>=2.0,<3.0)\n\nRequires-Dist: in the body @ file:///stays\n";
        let out = rewrite_metadata(metadata, &pins()).unwrap();
        assert!(out.contains("Requires-Dist: hermes.quiver[tabular]==0.2.0\n"), "{out}");
        assert!(out.contains("Requires-Dist: hermes.typeo==0.1.5; extra == \"gcs\"\n"), "{out}");
        assert!(out.contains("Requires-Dist: numpy (>=2.0,<3.0)\n"));
        assert!(
            out.ends_with("Requires-Dist: in the body @ file:///stays\n"),
            "the description is not touched"
        );
    }

    #[test]
    fn a_remaining_path_requirement_is_refused() {
        let e =
            rewrite_metadata("Requires-Dist: other @ file:///abs/other\n", &pins()).unwrap_err();
        assert!(e.contains("other"), "{e}");
    }

    #[test]
    fn base64_matches_the_wheel_spec() {
        assert_eq!(b64_urlsafe_nopad(b""), "");
        assert_eq!(b64_urlsafe_nopad(b"f"), "Zg");
        assert_eq!(b64_urlsafe_nopad(b"fo"), "Zm8");
        assert_eq!(b64_urlsafe_nopad(b"foo"), "Zm9v");
        assert_eq!(b64_urlsafe_nopad(&[0xfb, 0xff]), "-_8");
    }

    fn wheel(files: &[(&str, &str)]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in files {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn record_is_regenerated_and_output_is_deterministic() {
        let input = wheel(&[
            ("pkg/__init__.py", "x = 1\n"),
            ("pkg-1.0.dist-info/METADATA", "Name: pkg\nRequires-Dist: hermes.typeo @ file:///a\n"),
            ("pkg-1.0.dist-info/RECORD", "stale\n"),
        ]);
        let a = rewrite_wheel(&input, &pins()).unwrap();
        assert_eq!(a, rewrite_wheel(&input, &pins()).unwrap());
        let mut zip = ZipArchive::new(Cursor::new(&a)).unwrap();
        let mut record = String::new();
        zip.by_name("pkg-1.0.dist-info/RECORD").unwrap().read_to_string(&mut record).unwrap();
        let metadata = "Name: pkg\nRequires-Dist: hermes.typeo==0.1.5\n";
        let digest = b64_urlsafe_nopad(&Sha256::digest(metadata.as_bytes()));
        assert!(
            record.contains(&format!(
                "pkg-1.0.dist-info/METADATA,sha256={digest},{}\n",
                metadata.len()
            )),
            "{record}"
        );
        assert!(record.ends_with("pkg-1.0.dist-info/RECORD,,\n"));
        assert!(!record.contains("stale"));
    }
}
