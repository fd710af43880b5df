//! `cargo xtask bench images`: build-image against a status-quo and a hand-written Dockerfile.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;
use xshell::cmd;

use super::{copy_sample, ms, release_binary, summarize, timed};
use crate::engine::{Build, ImageInfo};
use crate::session::Session;

const STATUS_QUO: &str = "docker/bench/status-quo.Dockerfile";
const HAND_WRITTEN: &str = "docker/bench/hand-written.Dockerfile";

pub fn run(session: &Session, root: &Utf8Path, runs: usize) -> Result<()> {
    let sh = &session.sh;
    let bin = release_binary(sh, root)?;
    let cache = root.join("target/bench/images-cache");
    crate::files::fresh_dir(&cache)?;
    let main_toolchain = root.join("target/xtask/cache/toolchain");
    if main_toolchain.exists() {
        super::copy_tree(&main_toolchain, &cache.join("toolchain"))?;
    }
    let _env = sh.push_env("XTASK_CACHE_DIR", &cache);

    let sample = root.join("target/bench/images-sample");
    copy_sample(root, &sample)?;
    let case = |repo: &Utf8Path, project: &str, image: &str, lib_file: &str| Case {
        session,
        bin: bin.clone(),
        root: root.to_owned(),
        cache: cache.clone(),
        repo: repo.to_owned(),
        project: project.to_string(),
        image: image.to_string(),
        lib_file: lib_file.to_string(),
    };
    let typeo = "libs/hermes/hermes.typeo/hermes/typeo/__init__.py";
    let a = case(&sample, "projects/gw-iaas/export", "gw-iaas/export", typeo).figures(runs)?;

    let generated = root.join("target/bench/images-gw-iaas-shaped");
    write_gw_iaas_shaped(&generated)?;
    cmd!(sh, "{bin} --repo {generated} lock --all")
        .quiet()
        .run()
        .context("lock the generated repo")?;
    let b =
        case(&generated, "projects/app", "app", "libs/lib-a/lib_a/__init__.py").figures(runs)?;

    println!("\n| figure | sample export | generated gw-iaas-shaped | goal |\n|---|---|---|---|");
    for (i, (name, goal)) in FIGURES.iter().enumerate() {
        println!("| {name} | {} | {} | {goal} |", a[i], b[i]);
    }
    Ok(())
}

const FIGURES: &[(&str, &str)] = &[
    ("image over base: xtask", "≤ hand-written"),
    ("image over base: xtask --builder engine", ""),
    ("image over base: hand-written", ""),
    ("image over base: status quo", ""),
    ("context sent to the engine: xtask", ""),
    ("context: xtask --builder engine", ""),
    ("context: hand-written and status quo (the repo)", ""),
    ("cold, empty cache (the base read from the engine once): xtask", ""),
    ("cold, wheels included: xtask (÷ hand-written)", "≤ 0.5× hand-written"),
    ("cold: xtask --builder engine", ""),
    ("cold: hand-written", ""),
    ("cold: status quo", ""),
    ("edit one lib → new image: xtask (third-party layer reused?)", "≤ 0.5 s, reused"),
    ("edit one lib: xtask --builder engine", ""),
    ("edit one lib: hand-written", ""),
    ("edit one lib: status quo", ""),
    ("no-op build-image: xtask (median)", "≤ 30 ms"),
    ("no-op build-image: xtask --builder engine (median)", ""),
    ("two cold builds from separate empty caches", "the same image id"),
];

#[allow(clippy::cast_precision_loss)] // sizes for people
fn mb(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn dir_bytes(dir: &Utf8Path, skip: &str) -> Result<u64> {
    let mut total = 0;
    for entry in dir.read_dir_utf8().with_context(|| format!("read folder {dir}"))? {
        let entry = entry?;
        if entry.file_name() == skip {
            continue;
        }
        total += if entry.file_type()?.is_dir() {
            dir_bytes(entry.path(), "")?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}

/// One repo and project, measured for xtask and for the two Dockerfiles it is compared with.
struct Case<'a> {
    session: &'a Session,
    bin: Utf8PathBuf,
    root: Utf8PathBuf,
    cache: Utf8PathBuf,
    repo: Utf8PathBuf,
    project: String,
    image: String,
    lib_file: String,
}

/// Sizes and times of one way of building the image.
struct Figures {
    over_base: u64,
    cold: Duration,
    edit: Duration,
}

impl Case<'_> {
    /// The figures in the order of [`FIGURES`].
    fn figures(&self, runs: usize) -> Result<Vec<String>> {
        println!("== {} {}", self.repo, self.project);
        let ca = std::env::var("PIP_CERT")
            .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
        fs::copy(&ca, self.repo.join(".bench-ca.crt"))
            .with_context(|| format!("copy {ca} for the comparison builds"))?;
        fs::write(self.repo.join(".dockerignore"), "target\n")?;
        let base = self.inspect("python:3.11-slim")?.size;
        for part in ["wheels", "wheelhouse"] {
            if self.cache.join(part).exists() {
                fs::remove_dir_all(self.cache.join(part))?;
            }
        }
        let (same_id, first) = self.reproduced()?;
        let (ours, context, reused) = self.ours(base, "xtask")?;
        let (engine, engine_context, _) = self.ours(base, "engine")?;
        let hand = self.theirs(HAND_WRITTEN, "bench-hand-written", base, false)?;
        let quo = self.theirs(STATUS_QUO, "bench-status-quo", base, false)?;
        self.edit_lib()?;
        let edit_hand = self.theirs(HAND_WRITTEN, "bench-hand-written", base, true)?.edit;
        let edit_quo = self.theirs(STATUS_QUO, "bench-status-quo", base, true)?.edit;
        let noop = |builder: &str| -> Result<Duration> {
            let (bin, repo, project) = (&self.bin, &self.repo, &self.project);
            let tag = format!("bench-{builder}");
            let mut times = Vec::new();
            for _ in 0..runs.max(1) {
                let build = cmd!(
                    self.session.sh,
                    "{bin} --repo {repo} build-image {project} --tag {tag} --builder {builder}"
                );
                times.push(timed(build)?.0);
            }
            Ok(summarize(times).0)
        };
        #[allow(clippy::cast_precision_loss)]
        let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
        let over = |f: &Figures| {
            format!(
                "{} ({:+.1}% vs hand-written)",
                mb(f.over_base),
                (ratio(f.over_base, hand.over_base) - 1.0) * 100.0
            )
        };
        let times = ours.cold.as_secs_f64() / hand.cold.as_secs_f64();
        Ok(vec![
            over(&ours),
            over(&engine),
            mb(hand.over_base),
            mb(quo.over_base),
            match context {
                0 => "none: the layers go to `docker load`".into(),
                n => mb(n),
            },
            mb(engine_context),
            mb(dir_bytes(&self.repo, "target")?),
            secs(first),
            format!("{} ({times:.2}×)", secs(ours.cold)),
            secs(engine.cold),
            secs(hand.cold),
            secs(quo.cold),
            format!("{} ({})", secs(ours.edit), if reused { "reused" } else { "NOT reused" }),
            secs(engine.edit),
            secs(edit_hand),
            secs(edit_quo),
            ms(noop("xtask")?),
            ms(noop("engine")?),
            if same_id { "the same image id".into() } else { "DIFFERENT ids".into() },
        ])
    }

    /// xtask with `builder`: a cold build, then a build after one lib edit. Also the context
    /// bytes, and whether the edit kept the third-party layer.
    fn ours(&self, base: u64, builder: &str) -> Result<(Figures, u64, bool)> {
        let (sh, bin, repo, project) = (&self.session.sh, &self.bin, &self.repo, &self.project);
        for part in ["wheels", "wheelhouse", "bytecode", "layers"] {
            if self.cache.join(part).exists() {
                fs::remove_dir_all(self.cache.join(part))?;
            }
        }
        let tag = format!("bench-{builder}");
        let (cold, out) = timed(cmd!(
            sh,
            "{bin} --repo {repo} build-image {project} --tag {tag} --builder {builder} --no-cache --json"
        ))?;
        let json: serde_json::Value = serde_json::from_str(&out)?;
        let row = &json["images"][0];
        // The xtask builder sends no context (its layers are loaded as an archive).
        let context = match builder {
            "xtask" => 0,
            _ => row["context_bytes"].as_u64().unwrap_or(0),
        };
        let over_base = row["size"].as_u64().unwrap_or(0) - base;
        let reference = format!("{}:{tag}", self.image);
        let before = self.inspect(&reference)?.layers.get(2).cloned();
        self.edit_lib()?;
        let (edit, _) = timed(cmd!(
            sh,
            "{bin} --repo {repo} build-image {project} --tag {tag} --builder {builder}"
        ))?;
        let reused = self.inspect(&reference)?.layers.get(2).cloned() == before;
        Ok((Figures { over_base, cold, edit }, context, reused))
    }

    /// Whether two cold builds, each from an empty cache (the toolchain aside), make the same
    /// image; and how long the first took. What it read of the base image (a one-time cost per
    /// base, like the toolchain) then seeds the benchmark's cache, so the cold figures that
    /// follow compare with Dockerfile builds whose base is in the engine already.
    fn reproduced(&self) -> Result<(bool, Duration)> {
        let (sh, bin, repo, project) = (&self.session.sh, &self.bin, &self.repo, &self.project);
        let build = |name: &str, tag: &str| -> Result<(String, Duration)> {
            let cache = self.cache.with_file_name(name);
            crate::files::fresh_dir(&cache)?;
            super::copy_tree(&self.cache.join("toolchain"), &cache.join("toolchain"))?;
            let (took, out) = timed(
                cmd!(sh, "{bin} --repo {repo} build-image {project} --tag {tag} --no-cache --json")
                    .env("XTASK_CACHE_DIR", &cache),
            )?;
            for part in ["bases", "blobs", "runtimes"] {
                if !self.cache.join(part).exists() {
                    super::copy_tree(&cache.join(part), &self.cache.join(part))?;
                }
            }
            fs::remove_dir_all(&cache)?;
            let json: serde_json::Value = serde_json::from_str(&out)?;
            Ok((json["images"][0]["id"].as_str().unwrap_or_default().to_string(), took))
        };
        let (first, took) = build("images-cache-a", "bench-reproduced-a")?;
        let (second, _) = build("images-cache-b", "bench-reproduced-b")?;
        Ok((!first.is_empty() && first == second, took))
    }

    /// A comparison Dockerfile over the whole repo as its context: cold (or, with `edit`,
    /// after the edit already made, timed as `edit`).
    fn theirs(&self, dockerfile: &str, prefix: &str, base: u64, edit: bool) -> Result<Figures> {
        let name = self.image.rsplit('/').next().unwrap_or(&self.image);
        let tag = format!("{prefix}/{name}");
        let build = Build {
            context: self.repo.clone(),
            dockerfile: Some(self.root.join(dockerfile)),
            tag: Some(tag.clone()),
            build_args: vec![("PROJECT_DIR".into(), self.project.clone())],
            no_cache: !edit,
            // pip and Poetry download from the index inside these builds.
            network: true,
            ..Build::default()
        };
        let start = Instant::now();
        self.session.engine()?.build(&build, &mut |_| {})?;
        let took = start.elapsed();
        let over_base = self.inspect(&tag)?.size - base;
        Ok(Figures { over_base, cold: took, edit: took })
    }

    fn edit_lib(&self) -> Result<()> {
        let lib = self.repo.join(&self.lib_file);
        let source = fs::read_to_string(&lib)? + "\n# benchmark edit\n";
        fs::write(&lib, source)?;
        Ok(())
    }

    fn inspect(&self, image: &str) -> Result<ImageInfo> {
        let found = self.session.engine()?.inspect(&self.session.sh, &[image])?.pop().flatten();
        found.with_context(|| format!("no image {image}"))
    }
}

/// A gw-iaas-shaped repo: lib-c → lib-b → lib-a, and a project on lib-c with numpy and click.
fn write_gw_iaas_shaped(dir: &Utf8Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    let source = "[[tool.poetry.source]]\nname = \"pypi-simple\"\nurl = \"https://pypi.org/simple/\"\npriority = \"primary\"\n\n[build-system]\nrequires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n";
    let package = |path: &str,
                   name: &str,
                   module: &str,
                   deps: &str,
                   scripts: &str,
                   code: &str|
     -> Result<()> {
        let d = dir.join(path);
        fs::create_dir_all(d.join(module))?;
        fs::write(
            d.join("pyproject.toml"),
            format!("[tool.poetry]\nname = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"{name}\"\nauthors = [\"bench <bench@example.org>\"]\npackages = [{{ include = \"{module}\" }}]\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\n{deps}\n{scripts}\n{source}"),
        )?;
        fs::write(d.join(module).join("__init__.py"), code)?;
        Ok(())
    };
    package("libs/lib-a", "lib-a", "lib_a", "", "", "def value():\n    return 1\n")?;
    package(
        "libs/lib-b",
        "lib-b",
        "lib_b",
        "lib-a = { path = \"../lib-a\", develop = true }",
        "",
        "from lib_a import value\n\ndef double():\n    return 2 * value()\n",
    )?;
    package(
        "libs/lib-c",
        "lib-c",
        "lib_c",
        "lib-b = { path = \"../lib-b\", develop = true }\nclick = \"^8.1\"",
        "",
        "from lib_b import double\n\ndef quad():\n    return 2 * double()\n",
    )?;
    package(
        "projects/app",
        "app",
        "app",
        "lib-c = { path = \"../../libs/lib-c\", develop = true }\nnumpy = \"^2.0\"\nclick = \"^8.1\"",
        "[tool.poetry.scripts]\napp = \"app:main\"\n\n[tool.poetry.group.dev.dependencies]\npytest = \"^8.0\"\n",
        "import click\nimport numpy as np\nfrom lib_c import quad\n\n\n@click.command()\ndef main():\n    click.echo(f\"app: {int(np.full(2, quad()).sum())}\")\n",
    )?;
    Ok(())
}
