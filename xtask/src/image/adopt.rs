//! Rewrites a standalone project Dockerfile (`FROM python:3.x`, `COPY libs/…`, `pip install
//! poetry && poetry install`) into an extension of the image xtask builds (`FROM app`): what
//! the image needs at run time stays (ENV, WORKDIR, EXPOSE, ENTRYPOINT, CMD, LABEL,
//! HEALTHCHECK, USER, system packages, files the app reads), what xtask now does is dropped
//! (installing Python and packages, copying sources, manifests and locks). Pure: the caller
//! says which paths exist where.

use super::dockerfile::{instructions, Instruction};

/// What the project's folder and the repo look like, for deciding about COPY sources.
pub trait Paths {
    /// Whether `rel` exists relative to the project folder.
    fn in_project(&self, rel: &str) -> bool;
    /// Where a path relative to the repo root lies relative to the project folder, when it is
    /// inside it (`Some("config/x.toml")`), or `None`.
    fn repo_to_project(&self, rel: &str) -> Option<String>;
    /// Whether a path (relative to the project folder) is a package's source, manifest or lock:
    /// something xtask installs instead.
    fn is_python_source(&self, rel: &str) -> bool;
}

/// The adopted Dockerfile, what was dropped (with why), and the base image to run on when
/// the original started from a non-Python image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub text: String,
    pub dropped: Vec<String>,
    pub runtime_image: Option<String>,
}

/// Instructions that describe the image at run time: kept as they are.
const KEPT: &[&str] = &[
    "ENV",
    "WORKDIR",
    "EXPOSE",
    "ENTRYPOINT",
    "CMD",
    "LABEL",
    "HEALTHCHECK",
    "USER",
    "STOPSIGNAL",
    "VOLUME",
    "SHELL",
    "ARG",
];

/// Adopts the Dockerfile `text` of a project.
pub fn adopt(text: &str, paths: &dyn Paths) -> Adopted {
    let all = instructions(text);
    let lines: Vec<&str> = text.strip_prefix('\u{feff}').unwrap_or(text).lines().collect();
    let stages: Vec<usize> =
        all.iter().enumerate().filter(|(_, i)| i.keyword == "FROM").map(|(n, _)| n).collect();
    let Some(&last) = stages.last() else {
        return Adopted {
            text: text.to_string(),
            dropped: vec!["no FROM: nothing to adopt".into()],
            runtime_image: None,
        };
    };
    let base =
        words(&all[last].args).into_iter().find(|w| !w.starts_with("--")).unwrap_or_default();
    let mut out = vec![
        "# Extends the image xtask builds for this project: its packages installed in /opt/venv, run".to_string(),
        "# as user app. Adopted from a standalone Dockerfile by `cargo xtask adopt`.".to_string(),
        "FROM app".to_string(),
    ];
    let mut dropped = stages_dropped(&all[..=last], &base);
    let mut root = false;
    let mut user_set = false;
    for ins in &all[last + 1..] {
        let original = source(&lines, ins);
        match ins.keyword.as_str() {
            "ENV" => {
                let (kept, gone) = env(&ins.args);
                for g in gone {
                    dropped.push(format!(
                        "line {}: ENV {g}: set for Python tooling xtask replaces",
                        ins.line
                    ));
                }
                if let Some(kept) = kept {
                    out.push(if kept == ins.args { original } else { format!("ENV {kept}") });
                }
            }
            "USER" => {
                user_set = true;
                root = ins.args.trim() == "root" || ins.args.trim() == "0";
                out.push(original);
            }
            "CMD" | "ENTRYPOINT" if original.contains("venv/bin/") => {
                dropped.push(format!(
                    "line {}: {}: programs of a venv named bare (/opt/venv/bin is on PATH)",
                    ins.line, ins.keyword
                ));
                out.push(bare_venv_programs(&original));
            }
            k if KEPT.contains(&k) => out.push(original),
            "RUN" => {
                let (kept, gone) = run(&ins.args);
                for g in gone {
                    dropped.push(format!(
                        "line {}: RUN {g}: xtask installs the Python packages",
                        ins.line
                    ));
                }
                if let Some(kept) = kept {
                    if system_packages(&kept) && !root {
                        out.push("USER root".into());
                        root = true;
                    }
                    out.push(format!("RUN {kept}"));
                }
            }
            "COPY" | "ADD" => copy(ins, paths, &mut out, &mut dropped),
            other => {
                dropped.push(format!("line {}: {other}: not carried over", ins.line));
            }
        }
    }
    if root && !user_set {
        out.push("USER app".into());
    }
    let runtime_image = runtime_image(&all[..stages[0]], &all[last], &base, &mut dropped);
    Adopted { text: out.join("\n") + "\n", dropped, runtime_image }
}

/// The base of the last stage, its build arguments replaced by their defaults, when it is not
/// a Python image (xtask's own base): CUDA, Triton, conda… become the project's runtime image.
fn runtime_image(
    before_first_from: &[Instruction],
    from: &Instruction,
    base: &str,
    dropped: &mut Vec<String>,
) -> Option<String> {
    match substitute(base, &global_args(before_first_from)) {
        Some(b) if b.is_empty() || python_base(&b) => None,
        Some(b) => Some(b),
        None => {
            dropped.push(format!(
                "line {}: FROM {base}: a build argument without a default; set the project's \
                 runtime_image in docker/images.toml if it needs that base",
                from.line
            ));
            None
        }
    }
}

fn python_base(image: &str) -> bool {
    image.rsplit('/').next().is_some_and(|b| b.starts_with("python:") || b == "python")
}

/// The `ARG name=default` declared before the first FROM (the ones FROM may use).
fn global_args(before_first_from: &[Instruction]) -> Vec<(String, String)> {
    let mut args: Vec<(String, String)> = Vec::new();
    for ins in before_first_from.iter().filter(|i| i.keyword == "ARG") {
        for word in super::dockerfile::shell_words(&ins.args) {
            if let Some((k, v)) = word.split_once('=') {
                let v = substitute(v, &args).unwrap_or_else(|| v.to_string());
                args.push((k.to_string(), v));
            }
        }
    }
    args
}

/// `text` with `$NAME`, `${NAME}` and `${NAME:-default}` replaced from `args`; `None` when a
/// name has no value.
fn substitute(text: &str, args: &[(String, String)]) -> Option<String> {
    let value = |name: &str| args.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (expr, tail) = if let Some(inner) = after.strip_prefix('{') {
            let close = inner.find('}')?;
            (&inner[..close], &inner[close + 1..])
        } else {
            let len =
                after.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(after.len());
            (&after[..len], &after[len..])
        };
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d.to_string())),
            None => (expr, None),
        };
        out.push_str(&value(name).or(default)?);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// A CMD or ENTRYPOINT with programs named by their path in a venv (`.venv/bin/gunicorn`)
/// named bare: the image's venv is first on PATH.
fn bare_venv_programs(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(at) = out.find("venv/bin/") {
        let start = out[..at].rfind(['"', ' ', '[', '\'']).map_or(0, |p| p + 1);
        out.replace_range(start..at + "venv/bin/".len(), "");
    }
    out
}

/// The base and the earlier stages, which xtask replaces.
fn stages_dropped(upto_last: &[Instruction], base: &str) -> Vec<String> {
    let (last, earlier) = upto_last.split_last().expect("at least the last FROM");
    let mut dropped =
        vec![format!("line {}: FROM {base}: xtask builds the image from its template", last.line)];
    for ins in earlier.iter().filter(|i| i.keyword == "FROM") {
        dropped.push(format!(
            "line {}: the stage FROM {}: xtask builds and installs the packages",
            ins.line, ins.args
        ));
    }
    dropped
}

/// The instruction as written (continuation lines joined as in the file).
fn source(lines: &[&str], ins: &Instruction) -> String {
    lines[ins.line - 1..ins.end].join("\n")
}

fn words(args: &str) -> Vec<String> {
    args.split_whitespace().map(str::to_string).collect()
}

/// Whether a variable is for Python tooling: `POETRY_*`, `PIP_*`, `UV_*`, `PDM_*`,
/// `VIRTUAL_ENV`, or a `PATH` pointing at a venv or Poetry.
fn python_env(key: &str, value: &str) -> bool {
    ["POETRY_", "PIP_", "UV_", "PDM_", "PIPENV_"].iter().any(|p| key.starts_with(p))
        || key == "VIRTUAL_ENV"
        || (key == "PATH" && ["venv", "poetry", ".local/bin"].iter().any(|w| value.contains(w)))
}

/// An ENV's variables split into those kept (as `k=v` text, `None` when none) and those
/// dropped. The legacy form `ENV KEY value` is one variable.
fn env(args: &str) -> (Option<String>, Vec<String>) {
    let words = super::dockerfile::shell_words(args);
    let pairs: Vec<(String, String)> = if words.first().is_some_and(|w| w.contains('=')) {
        words.iter().filter_map(|w| w.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
    } else {
        let (key, value) = args.trim().split_once(char::is_whitespace).unwrap_or((args.trim(), ""));
        vec![(key.to_string(), value.trim().to_string())]
    };
    let quote = |v: &str| {
        if v.is_empty() || v.contains(char::is_whitespace) {
            format!("{v:?}")
        } else {
            v.to_string()
        }
    };
    let (mut kept, mut gone) = (Vec::new(), Vec::new());
    for (k, v) in &pairs {
        let text = format!("{k}={}", quote(v));
        if python_env(k, v) {
            gone.push(text);
        } else {
            kept.push(text);
        }
    }
    if gone.is_empty() {
        return (Some(args.to_string()), gone);
    }
    ((!kept.is_empty()).then(|| kept.join(" ")), gone)
}

/// A RUN split at `&&` and `;`: the commands that install Python packages (or make and enter
/// a venv) go, the rest stays, joined as it was.
fn run(args: &str) -> (Option<String>, Vec<String>) {
    let python = |cmd: &str| {
        let c = cmd.trim();
        [
            "pip ",
            "pip3 ",
            "poetry ",
            "pipx ",
            "uv ",
            "pdm ",
            "pipenv ",
            "conda ",
            "mamba ",
            "micromamba ",
            "virtualenv ",
            "opentelemetry-bootstrap ",
        ]
        .iter()
        .any(|t| c.starts_with(t) || c.contains(&format!("/{t}")))
            || c.contains("-m pip ")
            || c.contains("-m venv ")
            || c.contains("venv/bin/activate")
            || c.contains("setup.py install")
            || c.contains("install-poetry")
            || c.contains("astral.sh/uv")
    };
    let (mut kept, mut gone) = (Vec::new(), Vec::new());
    for (cmd, sep) in split_commands(args) {
        if python(&cmd) {
            gone.push(cmd);
        } else {
            kept.push((cmd, sep));
        }
    }
    // A `cd` left alone (`cd app && poetry install`) does nothing.
    if !gone.is_empty() && kept.iter().all(|(c, _)| c.starts_with("cd ")) {
        kept.clear();
    }
    if kept.is_empty() {
        return (None, gone);
    }
    let mut text = String::new();
    let last = kept.len() - 1;
    for (n, (cmd, sep)) in kept.iter().enumerate() {
        text += cmd;
        if n < last {
            text += if *sep == ";" { "; \\\n " } else { " \\\n && " };
        }
    }
    (Some(text), gone)
}

/// The commands of a shell line with the separator after each (`&&` or `;`), split outside
/// quotes; empty commands left out.
fn split_commands(line: &str) -> Vec<(String, &'static str)> {
    let (mut out, mut current, mut quote) = (Vec::new(), String::new(), None::<char>);
    let mut chars = line.chars().peekable();
    let mut push = |current: &mut String, sep: &'static str| {
        let cmd = current.trim().to_string();
        if !cmd.is_empty() {
            out.push((cmd, sep));
        }
        current.clear();
    };
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\'', None) | ('"', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('&', None) if chars.peek() == Some(&'&') => {
                chars.next();
                push(&mut current, "&&");
                continue;
            }
            (';', None) => {
                push(&mut current, ";");
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    push(&mut current, "&&");
    out
}

/// Whether a RUN installs system packages (needs root, and the network).
fn system_packages(cmd: &str) -> bool {
    ["apt-get ", "apt ", "apk ", "yum ", "dnf ", "microdnf "].iter().any(|t| cmd.contains(t))
}

/// A COPY/ADD: sources xtask installs are dropped, others are made relative to the project
/// folder (the extension's context), and sources outside it are dropped with what to do.
fn copy(ins: &Instruction, paths: &dyn Paths, out: &mut Vec<String>, dropped: &mut Vec<String>) {
    let parts = words(&ins.args);
    let (flags, rest): (Vec<&String>, Vec<&String>) =
        parts.iter().partition(|w| w.starts_with("--"));
    if flags.iter().any(|f| f.starts_with("--from")) || rest.iter().any(|w| w.contains("<<")) {
        dropped.push(format!("line {}: {} {}: copies from another stage or a heredoc; add it back by hand if it is not Python", ins.line, ins.keyword, ins.args));
        return;
    }
    if rest.first().is_some_and(|w| w.starts_with('[')) {
        dropped.push(format!(
            "line {}: {} {}: JSON form, not adopted; add it back by hand",
            ins.line, ins.keyword, ins.args
        ));
        return;
    }
    let Some((dest, sources)) = rest.split_last() else { return };
    let mut kept = Vec::new();
    for src in sources {
        let clean = src.trim_start_matches("./").trim_end_matches('/');
        let rel = if clean.is_empty() || clean == "." {
            None
        } else if paths.in_project(clean) {
            Some(clean.to_string())
        } else {
            paths.repo_to_project(clean)
        };
        match rel {
            None if clean.is_empty() || clean == "." => dropped.push(format!(
                "line {}: {} {src}: the whole context; xtask installs the packages, copy only the files the app reads at run time",
                ins.line, ins.keyword
            )),
            None => dropped.push(format!(
                "line {}: {} {src}: outside the project folder; a package xtask installs, or a file to move into the project folder",
                ins.line, ins.keyword
            )),
            Some(rel) if paths.is_python_source(&rel) => dropped.push(format!(
                "line {}: {} {src}: sources, manifests and locks are installed by xtask",
                ins.line, ins.keyword
            )),
            Some(rel) => kept.push(rel),
        }
    }
    if !kept.is_empty() {
        let flags: Vec<&str> = flags.iter().map(|f| f.as_str()).collect();
        let mut line = vec![ins.keyword.as_str()];
        line.extend(flags);
        let kept: Vec<&str> = kept.iter().map(String::as_str).collect();
        line.extend(kept);
        line.push(dest);
        out.push(line.join(" "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Paths for Fake {
        fn in_project(&self, rel: &str) -> bool {
            ["config", "config/app.toml", "app", "pyproject.toml", "poetry.lock"].contains(&rel)
        }
        fn repo_to_project(&self, rel: &str) -> Option<String> {
            rel.strip_prefix("projects/web/").map(str::to_string)
        }
        fn is_python_source(&self, rel: &str) -> bool {
            ["app", "pyproject.toml", "poetry.lock"].contains(&rel)
        }
    }

    #[test]
    fn a_typical_poetry_dockerfile_becomes_an_extension() {
        let df = "ARG TAG=3.10\nFROM python:${TAG}-slim AS base\nENV POETRY_VERSION=1.8.3 PYTHONUNBUFFERED=1\nRUN apt-get update && apt-get install -y libsndfile1 && pip install poetry==1.8.3\nWORKDIR /srv\nCOPY projects/web/pyproject.toml projects/web/poetry.lock ./\nCOPY libs/ /libs/\nRUN poetry install --no-dev\nCOPY projects/web/config/ /etc/web/\nCOPY projects/web/app ./app\nEXPOSE 8000\nENV APP_MODE=prod\nCMD [\"web\", \"serve\"]\n";
        let a = adopt(df, &Fake);
        assert_eq!(
            a.text,
            "# Extends the image xtask builds for this project: its packages installed in /opt/venv, run\n# as user app. Adopted from a standalone Dockerfile by `cargo xtask adopt`.\nFROM app\nENV PYTHONUNBUFFERED=1\nUSER root\nRUN apt-get update \\\n && apt-get install -y libsndfile1\nWORKDIR /srv\nCOPY config /etc/web/\nEXPOSE 8000\nENV APP_MODE=prod\nCMD [\"web\", \"serve\"]\nUSER app\n"
        );
        assert!(a.dropped.iter().any(|d| d.contains("pip install poetry")));
        assert!(a
            .dropped
            .iter()
            .any(|d| d.contains("COPY libs/") && d.contains("outside the project folder")));
        assert!(a.dropped.iter().any(|d| d.contains("poetry install")));
        assert!(a.dropped.iter().any(|d| d.contains("ENV POETRY_VERSION")));
        assert_eq!(a.runtime_image, None);
    }

    #[test]
    fn mixed_runs_keep_their_system_steps_and_venv_paths_become_bare_names() {
        let df = "FROM python:3.9-slim\nENV PDM_VERSION=2.16.1\nRUN apt-get update; apt-get install -y libmagic-dev; pip install -U pip pdm~=${PDM_VERSION}; adduser -u 5678 --disabled-password --gecos \"\" unstract;\nUSER unstract\nRUN pdm venv create -w virtualenv && . .venv/bin/activate\nRUN . .venv/bin/activate && pdm sync --prod && opentelemetry-bootstrap -a install\nCMD [\".venv/bin/gunicorn\", \"--bind\", \"0.0.0.0:3001\", \"app:app\"]\n";
        let a = adopt(df, &Fake);
        assert!(
            a.text.contains("RUN apt-get update; \\\n apt-get install -y libmagic-dev; \\\n adduser -u 5678 --disabled-password --gecos \"\" unstract\n"),
            "{}",
            a.text
        );
        assert!(!a.text.contains("pip install") && !a.text.contains("activate"), "{}", a.text);
        assert!(!a.text.contains("pdm") && !a.text.contains("opentelemetry"), "{}", a.text);
        assert!(a.text.contains("CMD [\"gunicorn\", \"--bind\""), "{}", a.text);
        assert_eq!(a.runtime_image, None);
    }

    #[test]
    fn build_arguments_in_from_take_their_defaults() {
        let lgb = "ARG PYTHON_VERSION=3.11\nARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-bookworm\nFROM ${BASE_IMAGE}\nRUN apt-get install -y libgomp1\n";
        assert_eq!(adopt(lgb, &Fake).runtime_image, None, "a Python base is xtask's own");
        let ubi = "ARG BASE_IMAGE=registry.access.redhat.com/ubi9/python-311:1\nFROM $BASE_IMAGE\n";
        let a = adopt(ubi, &Fake);
        assert_eq!(
            a.runtime_image.as_deref(),
            Some("registry.access.redhat.com/ubi9/python-311:1")
        );
        let open = adopt("ARG BASE\nFROM ${BASE}\n", &Fake);
        assert_eq!(open.runtime_image, None);
        assert!(open.dropped.iter().any(|d| d.contains("without a default")), "{:?}", open.dropped);
    }

    #[test]
    fn a_non_python_base_becomes_the_runtime_image() {
        let a = adopt("FROM nvcr.io/nvidia/tritonserver:24.01-py3\nCMD [\"serve\"]\n", &Fake);
        assert_eq!(a.runtime_image.as_deref(), Some("nvcr.io/nvidia/tritonserver:24.01-py3"));
        assert!(a.text.ends_with("FROM app\nCMD [\"serve\"]\n"));
    }
}
