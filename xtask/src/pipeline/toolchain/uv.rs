//! The pinned uv: fetched once as its wheel (checked against the toolchain lock, or against
//! the index's digest the first time), its binary kept in the cache and run in the tools'
//! Python image, where it resolves build environments.

use std::io::Read;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use super::lockfile::{LockedDist, LockedFile};
use crate::engine::Container;
use crate::files::owner_of;
use crate::model::names::PackageName;
use crate::net::{self, simple, Download};
use crate::session::Session;
use crate::wheel::WheelName;

/// The folder holding the `uv` binary of the pinned version, and the wheel it came from.
pub fn binary(session: &Session, pinned: Option<&LockedFile>) -> Result<(Utf8PathBuf, LockedFile)> {
    let repo = session.repo()?;
    let version = &repo.config.toolchain.uv;
    let arch = std::env::consts::ARCH;
    let wanted = |name: &str| {
        name.starts_with(&format!("uv-{version}-"))
            && name.contains("manylinux")
            && name.ends_with(&format!("_{arch}.whl"))
    };
    let wheel = match pinned.filter(|f| wanted(&f.name)) {
        Some(f) => f.clone(),
        None => {
            let client = session.net()?;
            let index = client.settings().index_url.clone();
            let files = simple::files(client, &index, &PackageName::new("uv"))?;
            let found = files.into_iter().find(|f| wanted(&f.name) && f.sha256.is_some());
            let found = found.with_context(|| {
                format!(
                    "uv {version} has no manylinux wheel for {arch} with a digest on {}; set \
                     [toolchain] uv to a version the index has",
                    net::public_url(&index)
                )
            })?;
            LockedFile {
                name: found.name,
                url: found.url,
                sha256: found.sha256.unwrap_or_default(),
            }
        }
    };
    let dir = repo
        .cache
        .join("tools")
        .join(format!("uv-{}", &wheel.sha256[..16.min(wheel.sha256.len())]));
    if dir.join("uv").is_file() {
        return Ok((dir, wheel));
    }
    let tmp = repo.scratch("uv")?;
    let result = (|| {
        let sha256 =
            crate::hash::Sha256::from_hex(&wheel.sha256).context("the uv wheel's digest")?;
        let file = tmp.join(&wheel.name);
        let download = Download { url: wheel.url.clone(), dest: file.clone(), sha256 };
        net::download_all(session.net()?, &[download], 1)?;
        let member = format!("uv-{version}.data/scripts/uv");
        let mut archive = zip::ZipArchive::new(fs::File::open(&file)?)?;
        let mut entry =
            archive.by_name(&member).with_context(|| format!("{} has no {member}", wheel.name))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        let out = tmp.join("bin");
        fs::create_dir(&out)?;
        fs::write(out.join("uv"), bytes)?;
        fs::set_permissions(out.join("uv"), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        fs::create_dir_all(dir.parent().unwrap_or(&dir))?;
        if fs::rename(&out, &dir).is_err() && !dir.join("uv").is_file() {
            bail!("could not install uv into {dir}");
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&tmp);
    result.with_context(|| format!("fetch uv {version}"))?;
    Ok((dir, wheel))
}

/// The container that runs the uv in `uv_dir` in the tools' Python image, online, with the
/// host's index settings in a uv.toml of `work` (never in argv or the environment).
fn container(session: &Session, uv_dir: &Utf8Path, work: &Utf8Path) -> Result<Container> {
    let repo = session.repo()?;
    let settings = session.net()?.settings();
    let mut config = format!("index-url = {:?}\n", settings.index_url);
    if !settings.extra_index_urls.is_empty() {
        config += &format!("extra-index-url = {:?}\n", settings.extra_index_urls);
    }
    crate::files::write_private(&work.join("uv.toml"), &config)?;
    let image = repo.config.toolchain.tools_image();
    session.engine()?.require_image(&session.sh, &image)?;
    Ok(Container::online(&image)
        .user(&owner_of(work)?)
        .with(&crate::hostenv::uv())
        .env("UV_CONFIG_FILE=/work/uv.toml")
        .env("UV_PYTHON_DOWNLOADS=never")
        .env("UV_NO_CACHE=1")
        .mount_ro(uv_dir, "/opt/uv")
        .mount(work, "/work"))
}

/// Resolves `requires` for CPython 3.`minor` on Linux, wheels only, into pinned
/// distributions with every file of theirs the index lists under a digest uv reported.
pub fn compile(
    session: &Session,
    uv_dir: &Utf8Path,
    minor: u32,
    requires: &[String],
) -> Result<Vec<LockedDist>> {
    let work = session.repo()?.scratch("uv-compile")?;
    let result = (|| {
        fs::write(work.join("requires.in"), requires.join("\n") + "\n")?;
        let python = format!("3.{minor}");
        let args = [
            "/opt/uv/uv",
            "pip",
            "compile",
            "/work/requires.in",
            "--python-version",
            &python,
            "--python-platform",
            "linux",
            "--generate-hashes",
            "--only-binary",
            ":all:",
            "--no-header",
            "--no-annotate",
            "--quiet",
        ];
        let c = container(session, uv_dir, &work)?.command(args);
        let out = session.engine()?.output(&session.sh, &c)?;
        if !out.status.success() {
            bail!(
                "uv could not resolve {} for Python {python}:\n{}",
                requires.join(", "),
                crate::engine::tail(&out.stderr, 20)
            );
        }
        let pins = parse_compiled(&String::from_utf8_lossy(&out.stdout));
        with_files(session, minor, pins)
    })();
    let _ = fs::remove_dir_all(&work);
    result
}

/// `name==version` lines of `uv pip compile --generate-hashes`, each with its digests.
fn parse_compiled(text: &str) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim().trim_end_matches('\\').trim();
        if let Some(hash) = trimmed.strip_prefix("--hash=sha256:") {
            if let Some(last) = out.last_mut() {
                last.2.push(hash.to_string());
            }
        } else if !line.starts_with([' ', '\t', '#']) {
            if let Some((name, version)) = trimmed.split_once("==") {
                let version = version.split(';').next().unwrap_or_default().trim();
                out.push((name.trim().to_string(), version.to_string(), Vec::new()));
            }
        }
    }
    out
}

/// Whether a file is a wheel a glibc Linux CPython 3.`minor` (x86_64 or aarch64) may install:
/// what build images need of the many files a version has.
fn linux_wheel_for(file: &str, minor: u32) -> bool {
    let Some(w) = WheelName::parse(file) else { return false };
    let cp = format!("cp3{minor}");
    let python = w.python.iter().any(|t| t == "py3" || *t == format!("py3{minor}") || *t == cp)
        || w.abi.iter().any(|a| a == "abi3");
    let platform = w.platform.iter().any(|p| {
        p == "any"
            || (p.starts_with("manylinux") || p.starts_with("linux_"))
                && (p.ends_with("x86_64") || p.ends_with("aarch64"))
    });
    python && platform
}

/// Each pin with the Linux wheels the index lists for it whose digest uv reported.
fn with_files(
    session: &Session,
    minor: u32,
    pins: Vec<(String, String, Vec<String>)>,
) -> Result<Vec<LockedDist>> {
    let client = session.net()?;
    let settings = client.settings();
    let indexes: Vec<&str> = std::iter::once(settings.index_url.as_str())
        .chain(settings.extra_index_urls.iter().map(String::as_str))
        .collect();
    let results: Vec<Result<LockedDist>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pins
            .into_iter()
            .map(|(name, version, hashes)| {
                let indexes = &indexes;
                scope.spawn(move || {
                    let mut files = Vec::new();
                    for index in indexes {
                        let listed = simple::files(client, index, &PackageName::new(&name))?;
                        files.extend(listed.into_iter().filter_map(|f| {
                            let sha = f.sha256.filter(|s| hashes.contains(s))?;
                            linux_wheel_for(&f.name, minor).then_some(())?;
                            Some(LockedFile { name: f.name, url: f.url, sha256: sha })
                        }));
                        if !files.is_empty() {
                            break;
                        }
                    }
                    if files.is_empty() {
                        bail!("{name}=={version}: the index lists no file with the digests uv reported");
                    }
                    files.sort_by(|a, b| a.name.cmp(&b.name));
                    Ok(LockedDist { name, version, files })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a lookup panicked"))))
            .collect()
    });
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn compiled_requirements_are_read_with_their_digests() {
        let text = "flit-core==3.12.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\nhatchling==1.27.0 ; python_version >= '3.8' \\\n    --hash=sha256:cc\n";
        let pins = super::parse_compiled(text);
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[0], ("flit-core".into(), "3.12.0".into(), vec!["aa".into(), "bb".into()]));
        assert_eq!(pins[1].1, "1.27.0");
    }
}
