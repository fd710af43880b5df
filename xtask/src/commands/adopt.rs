//! `cargo xtask adopt <project>`: a standalone Dockerfile rewritten into an extension of the
//! project's image, shown as a diff; `--write` writes it (and the runtime image, when the
//! original started from a non-Python image).

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use crate::cli::AdoptArgs;
use crate::config::CONFIG_PATH;
use crate::image::adopt::{adopt, Paths};
use crate::image::dockerfile::first_from;
use crate::session::Session;

/// Manifests and locks: what xtask reads and installs from, never a run-time file.
const PYTHON_FILES: &[&str] = &[
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "setup.py",
    "setup.cfg",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
];

struct Folder<'a> {
    root: &'a Utf8Path,
    project: Utf8PathBuf,
}

impl Paths for Folder<'_> {
    fn in_project(&self, rel: &str) -> bool {
        self.project.join(rel).exists()
    }

    fn repo_to_project(&self, rel: &str) -> Option<String> {
        let real = self.root.join(rel).canonicalize_utf8().ok()?;
        let project = self.project.canonicalize_utf8().ok()?;
        real.strip_prefix(&project).ok().map(|r| {
            if r.as_str().is_empty() {
                ".".into()
            } else {
                r.to_string()
            }
        })
    }

    fn is_python_source(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let path = self.project.join(rel);
        PYTHON_FILES.contains(&name)
            || name.starts_with("requirements") && name.ends_with(".txt")
            || rel.ends_with(".py")
            || path.is_dir() && has_python(&path)
    }
}

/// Whether a folder holds Python sources (a package or module tree).
fn has_python(dir: &Utf8Path) -> bool {
    let Ok(entries) = dir.read_dir_utf8() else { return false };
    entries.filter_map(Result::ok).any(|e| {
        let p = e.path();
        e.file_name().ends_with(".py") || (p.is_dir() && !p.is_symlink() && has_python(p))
    })
}

pub fn run(session: &Session, args: &AdoptArgs) -> Result<()> {
    let repo = session.repo()?;
    let idx = repo.graph.find(&args.project).map_err(anyhow::Error::msg)?;
    let dir = repo.graph.packages[idx].dir.clone();
    let project = repo.root.join(&dir);
    let own = if dir == "." { "Dockerfile".to_string() } else { format!("{dir}/Dockerfile") };
    let from = args.dockerfile.clone().unwrap_or_else(|| own.clone());
    let text = fs::read_to_string(repo.root.join(&from))
        .with_context(|| format!("read {from}; name another with --dockerfile"))?;
    match first_from(&text) {
        Some((image, _)) if image.eq_ignore_ascii_case("app") => {
            println!("{from} already extends the project's image (FROM app): nothing to adopt");
            return Ok(());
        }
        None => bail!("{from} has no FROM"),
        Some(_) => {}
    }
    let adopted = adopt(&text, &Folder { root: &repo.root, project });
    let old_own = fs::read_to_string(repo.root.join(&own)).unwrap_or_default();
    let diff = similar::TextDiff::from_lines(&old_own, &adopted.text);
    print!("{}", diff.unified_diff().header(&format!("a/{own}"), &format!("b/{own}")));
    let config_addition = adopted.runtime_image.as_ref().map(|image| {
        format!("\n[projects.\"{dir}\"]\nruntime_image = \"{image}\"  # the base of {from}\n")
    });
    if let Some(add) = &config_addition {
        println!("--- a/{CONFIG_PATH}\n+++ b/{CONFIG_PATH}");
        for line in add.lines() {
            println!("+{line}");
        }
    }
    println!("\nnot carried over:");
    for d in &adopted.dropped {
        println!("  {from} {d}");
    }
    if !args.write {
        println!("\n(shown only; run again with --write to write it)");
        return Ok(());
    }
    if let Some(add) = config_addition {
        let path = repo.root.join(CONFIG_PATH);
        let mut config = fs::read_to_string(&path).unwrap_or_default();
        if config.contains(&format!("[projects.\"{dir}\"]")) {
            bail!("{CONFIG_PATH} already has [projects.\"{dir}\"]: set its runtime_image by hand");
        }
        config.push_str(&add);
        fs::create_dir_all(path.parent().unwrap_or(&repo.root))?;
        crate::files::write_atomic(&path, config)?;
    }
    crate::files::write_atomic(&repo.root.join(&own), &adopted.text)?;
    println!("wrote {own}");
    Ok(())
}
