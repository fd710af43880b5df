//! Installs a pure-Python wheel into a venv layout in memory (PEP 427), without pip.
//!
//! Local packages are installed by xtask at staging time, so their image layers are plain COPYs
//! of files with fixed timestamps: no container runs for them, and an unchanged package gives a
//! byte-identical layer.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::rewrite::b64_urlsafe_nopad;

/// Where the venv lives in the image and which Python it runs.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Absolute venv path in the image, e.g. `/opt/venv`.
    pub venv: String,
    /// `3.11`
    pub python: String,
}

impl Layout {
    fn site_packages(&self) -> String {
        format!("{}/lib/python{}/site-packages", self.venv.trim_start_matches('/'), self.python)
    }

    fn bin(&self) -> String {
        format!("{}/bin", self.venv.trim_start_matches('/'))
    }

    /// The venv's interpreter, for scripts.
    fn shebang(&self) -> String {
        format!("#!{}/bin/python", self.venv)
    }
}

/// A file to place in the image: path relative to `/`, content and Unix mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// The files a wheel installs into `layout`, RECORD included, sorted by path.
pub fn install(wheel: &[u8], layout: &Layout) -> Result<Vec<Placed>, String> {
    let entries = read_entries(wheel)?;
    let dist_info = entries
        .iter()
        .find_map(|e| {
            e.path.strip_suffix("/WHEEL").filter(|d| d.ends_with(".dist-info") && !d.contains('/'))
        })
        .ok_or("no *.dist-info/WHEEL in the wheel")?
        .to_string();
    let site = layout.site_packages();
    let mut placed: BTreeMap<String, Placed> = BTreeMap::new();
    for entry in entries {
        if entry.path.ends_with(&format!("{dist_info}/RECORD")) {
            continue;
        }
        if !safe_path(&entry.path) {
            return Err(format!(
                "{:?}: a wheel entry must be a relative path inside the wheel",
                entry.path
            ));
        }
        let p = place(entry, &dist_info, layout)?;
        placed.insert(p.path.clone(), p);
    }
    let entry_points = placed
        .get(&format!("{site}/{dist_info}/entry_points.txt"))
        .map(|p| String::from_utf8_lossy(&p.data).into_owned());
    for script in scripts(entry_points.as_deref().unwrap_or_default(), layout)? {
        placed.insert(script.path.clone(), script);
    }
    let installer = format!("{site}/{dist_info}/INSTALLER");
    placed.insert(
        installer.clone(),
        Placed { path: installer, data: b"xtask\n".to_vec(), mode: 0o644 },
    );
    let record = record(&placed, &site, &dist_info);
    placed.insert(record.path.clone(), record);
    Ok(placed.into_values().collect())
}

/// Every file of the wheel with its mode (executable or not), paths as in the archive.
fn read_entries(wheel: &[u8]) -> Result<Vec<Placed>, String> {
    let mut zip =
        ZipArchive::new(Cursor::new(wheel)).map_err(|e| format!("not a zip file: {e}"))?;
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).map_err(|e| format!("read entry {i}: {e}"))?;
        if e.is_dir() {
            continue;
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).map_err(|err| format!("read {}: {err}", e.name()))?;
        let executable = e.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mode = if executable { 0o755 } else { 0o644 };
        entries.push(Placed { path: e.name().to_string(), data, mode });
    }
    Ok(entries)
}

/// Where one archive entry goes: site-packages, or a `.data` scheme's folder (PEP 427).
fn place(entry: Placed, dist_info: &str, layout: &Layout) -> Result<Placed, String> {
    let Placed { path: name, data, mode } = entry;
    let data_dir = format!("{}.data/", dist_info.trim_end_matches(".dist-info"));
    let site = layout.site_packages();
    let venv = layout.venv.trim_start_matches('/');
    let Some(rest) = name.strip_prefix(&data_dir) else {
        return Ok(Placed { path: format!("{site}/{name}"), data, mode });
    };
    let (scheme, rel) = rest.split_once('/').ok_or_else(|| format!("bad entry {name}"))?;
    Ok(match scheme {
        "purelib" | "platlib" => Placed { path: format!("{site}/{rel}"), data, mode },
        "scripts" => {
            let data = fix_shebang(data, &layout.shebang());
            Placed { path: format!("{}/{rel}", layout.bin()), data, mode: 0o755 }
        }
        "data" => Placed { path: format!("{venv}/{rel}"), data, mode },
        "headers" => {
            let dist = dist_info.split('-').next().unwrap_or_default();
            let python = &layout.python;
            Placed { path: format!("{venv}/include/site/python{python}/{dist}/{rel}"), data, mode }
        }
        other => return Err(format!("unknown wheel data scheme {other:?} in {name}")),
    })
}

/// A console script's name: a file name in `bin`, never a path.
pub fn script_name_ok(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `module.sub:attr.attr`: Python identifiers only (it is written into a launcher script).
pub fn entry_point_ok(target: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|p| {
                !p.is_empty()
                    && p.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !p.starts_with(|c: char| c.is_ascii_digit())
            })
    };
    matches!(target.split_once(':'), Some((module, attr)) if ident(module.trim()) && ident(attr.trim()))
}

/// A launcher in the venv's `bin` for each console or GUI script of entry_points.txt.
fn scripts(entry_points: &str, layout: &Layout) -> Result<Vec<Placed>, String> {
    let mut out = Vec::new();
    for (script, target) in console_scripts(entry_points) {
        if !script_name_ok(&script) || !entry_point_ok(&target) {
            return Err(format!("entry point {script:?} = {target:?}: not a command name and a module:function reference"));
        }
        let (module, attr) = target
            .split_once(':')
            .ok_or_else(|| format!("entry point {script} = {target}: expected module:function"))?;
        let head = attr.split('.').next().unwrap_or(attr);
        let text = format!(
            "{}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({attr}())\n",
            layout.shebang()
        );
        let path = format!("{}/{script}", layout.bin());
        out.push(Placed { path, data: text.into_bytes(), mode: 0o755 });
    }
    Ok(out)
}

/// RECORD of the installed files (PEP 376): paths relative to site-packages, digests, sizes.
fn record(placed: &BTreeMap<String, Placed>, site: &str, dist_info: &str) -> Placed {
    let mut record = String::new();
    for p in placed.values() {
        let rel = relative_to(&p.path, site);
        let digest = b64_urlsafe_nopad(&Sha256::digest(&p.data));
        record += &format!("{rel},sha256={digest},{}\n", p.data.len());
    }
    record += &format!("{dist_info}/RECORD,,\n");
    Placed { path: format!("{site}/{dist_info}/RECORD"), data: record.into_bytes(), mode: 0o644 }
}

/// A relative path with no `..`, `.` or empty part: what may be written below a layer root.
pub fn safe_path(path: &str) -> bool {
    !path.starts_with('/')
        && path.split('/').all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\0'))
}

/// `#!python` (as wheels write it) becomes the venv's interpreter.
fn fix_shebang(data: Vec<u8>, shebang: &str) -> Vec<u8> {
    if data.starts_with(b"#!python") {
        let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
        let mut out = shebang.as_bytes().to_vec();
        out.extend_from_slice(&data[end..]);
        return out;
    }
    data
}

/// `[console_scripts]` and `[gui_scripts]` of entry_points.txt: (name, module:attr).
fn console_scripts(text: &str) -> Vec<(String, String)> {
    let mut section = "";
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name;
        } else if matches!(section, "console_scripts" | "gui_scripts") {
            if let Some((name, target)) = line.split_once('=') {
                let target = target.split('[').next().unwrap_or(target).trim();
                out.push((name.trim().to_string(), target.to_string()));
            }
        }
    }
    out
}

/// A RECORD path: relative to site-packages, with `..` for files outside it.
fn relative_to(path: &str, site: &str) -> String {
    if let Some(rel) = path.strip_prefix(&format!("{site}/")) {
        return rel.to_string();
    }
    let common = path.split('/').zip(site.split('/')).take_while(|(a, b)| a == b).count();
    let ups = site.split('/').count() - common;
    let rest: Vec<&str> = path.split('/').skip(common).collect();
    format!("{}{}", "../".repeat(ups), rest.join("/"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;
    use zip::ZipWriter;

    use super::*;

    fn wheel() -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in [
            ("clients/__init__.py", "x = 1\n"),
            ("clients-0.2.3.data/scripts/tool", "#!python\nprint('hi')\n"),
            ("clients-0.2.3.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"),
            ("clients-0.2.3.dist-info/METADATA", "Name: clients\n"),
            (
                "clients-0.2.3.dist-info/entry_points.txt",
                "[console_scripts]\ngw-clients=clients.cli:main\n\n[other]\nx=y:z\n",
            ),
            ("clients-0.2.3.dist-info/RECORD", "stale\n"),
        ] {
            w.start_file(name, SimpleFileOptions::default()).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn installs_into_the_venv_layout_with_scripts_and_record() {
        let files =
            install(&wheel(), &Layout { venv: "/opt/venv".into(), python: "3.11".into() }).unwrap();
        let get = |p: &str| {
            files.iter().find(|f| f.path == p).unwrap_or_else(|| panic!("{p} missing: {files:#?}"))
        };
        let site = "opt/venv/lib/python3.11/site-packages";
        assert_eq!(get(&format!("{site}/clients/__init__.py")).data, b"x = 1\n");
        let script = get("opt/venv/bin/gw-clients");
        assert_eq!(script.mode, 0o755);
        let text = String::from_utf8(script.data.clone()).unwrap();
        assert!(
            text.starts_with("#!/opt/venv/bin/python\n")
                && text.contains("from clients.cli import main")
                && text.contains("sys.exit(main())"),
            "{text}"
        );
        assert!(String::from_utf8(get("opt/venv/bin/tool").data.clone())
            .unwrap()
            .starts_with("#!/opt/venv/bin/python\nprint"));
        assert_eq!(get(&format!("{site}/clients-0.2.3.dist-info/INSTALLER")).data, b"xtask\n");
        let record =
            String::from_utf8(get(&format!("{site}/clients-0.2.3.dist-info/RECORD")).data.clone())
                .unwrap();
        assert!(record.contains("../../../bin/gw-clients,sha256="), "{record}");
        assert!(record.contains("clients/__init__.py,sha256=") && !record.contains("stale"));
        assert!(record.ends_with("clients-0.2.3.dist-info/RECORD,,\n"));
    }

    #[test]
    fn relative_paths_climb_out_of_site_packages() {
        assert_eq!(
            relative_to("opt/venv/bin/x", "opt/venv/lib/python3.11/site-packages"),
            "../../../bin/x"
        );
        assert_eq!(
            relative_to(
                "opt/venv/lib/python3.11/site-packages/a/b.py",
                "opt/venv/lib/python3.11/site-packages"
            ),
            "a/b.py"
        );
    }
}
