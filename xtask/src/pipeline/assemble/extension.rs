//! A project's own Dockerfile (`FROM app`) applied by xtask when it is made only of
//! instructions xtask can apply exactly (COPY of project files, ENV, WORKDIR, USER, EXPOSE,
//! ENTRYPOINT, CMD, LABEL, HEALTHCHECK, STOPSIGNAL, VOLUME): one more layer and settings, no
//! engine. Anything else (RUN, variables, wildcards, --chown, ADD of archives or URLs, other
//! stages) is left to the engine, which builds the file on top of the assembled image.

use std::collections::BTreeSet;

use anyhow::Result;
use fs_err as fs;
use serde_json::{json, Value};

use crate::image::dockerfile::{instructions, shell_words, Instruction};
use crate::oci::image::Settings;
use crate::oci::layer::Tree;
use crate::pipeline::plan::dockerfile::Extension;

/// What xtask makes of an extension: its layer and settings, or why the engine must build it.
pub enum Applied {
    Done { tree: Tree, settings: Box<Settings> },
    Engine(String),
}

/// Applies `ext` on an image whose settings so far are `settings` (working folder included)
/// and whose folders are `dirs` (paths without a leading `/`).
pub fn apply(ext: &Extension, mut settings: Settings, dirs: &BTreeSet<String>) -> Result<Applied> {
    let mut tree = Tree::new();
    let mut workdir = settings.workdir.clone().unwrap_or_else(|| "/".into());
    for ins in instructions(&ext.text) {
        if let Some(why) = unsupported(&ins) {
            return Ok(Applied::Engine(format!("line {}: {why}", ins.line)));
        }
        let args = ins.args.trim();
        match ins.keyword.as_str() {
            "FROM" | "ARG" => {}
            "ENV" => settings.env.extend(pairs(args)),
            "LABEL" => settings.labels.extend(pairs(args)),
            "WORKDIR" => {
                workdir = join(&workdir, args);
                tree.dir(workdir.trim_start_matches('/'), 0o755).ok();
                settings.workdir = Some(workdir.clone());
            }
            "USER" => settings.user = Some(args.to_string()),
            "EXPOSE" => settings.exposed_ports.extend(args.split_whitespace().map(|p| {
                if p.contains('/') {
                    p.to_string()
                } else {
                    format!("{p}/tcp")
                }
            })),
            "ENTRYPOINT" => settings.entrypoint = Some(exec_form(args)),
            "CMD" => settings.cmd = Some(exec_form(args)),
            "STOPSIGNAL" => settings.stop_signal = Some(args.to_string()),
            "VOLUME" => settings.volumes.extend(list(args)),
            "HEALTHCHECK" => match healthcheck(args) {
                Some(check) => settings.healthcheck = Some(check),
                None => {
                    return Ok(Applied::Engine(format!(
                        "line {}: HEALTHCHECK options xtask does not apply",
                        ins.line
                    )))
                }
            },
            "COPY" | "ADD" => {
                if let Some(why) = copy(ext, &ins, &workdir, dirs, &mut tree)? {
                    return Ok(Applied::Engine(format!("line {}: {why}", ins.line)));
                }
            }
            other => return Ok(Applied::Engine(format!("line {}: {other}", ins.line))),
        }
    }
    Ok(Applied::Done { tree, settings: Box::new(settings) })
}

/// Why xtask leaves an instruction to the engine, if it does.
fn unsupported(ins: &Instruction) -> Option<String> {
    let k = ins.keyword.as_str();
    if k == "FROM" {
        let base = ins.args.split_whitespace().find(|w| !w.starts_with("--")).unwrap_or_default();
        return (!base.eq_ignore_ascii_case("app")
            || ins.args.to_ascii_lowercase().contains(" as "))
        .then(|| "a stage of its own".to_string());
    }
    if ins.args.contains('$') && k != "ARG" {
        return Some(format!("{k} uses a variable"));
    }
    let supported = [
        "ARG",
        "ENV",
        "LABEL",
        "WORKDIR",
        "USER",
        "EXPOSE",
        "ENTRYPOINT",
        "CMD",
        "STOPSIGNAL",
        "VOLUME",
        "HEALTHCHECK",
        "COPY",
        "ADD",
    ];
    (!supported.contains(&k)).then(|| k.to_string())
}

/// `k=v k2="v 2"` pairs (or the legacy `KEY value` form).
fn pairs(args: &str) -> Vec<(String, String)> {
    let words = shell_words(args);
    if words.first().is_some_and(|w| w.contains('=')) {
        words
            .iter()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    } else {
        let (k, v) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        vec![(k.to_string(), v.trim().to_string())]
    }
}

/// The exec form (`["a", "b"]`) as is; the shell form run by `/bin/sh -c`.
fn exec_form(args: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(args) {
        Ok(v) if args.starts_with('[') => v,
        _ => vec!["/bin/sh".into(), "-c".into(), args.to_string()],
    }
}

fn list(args: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(args) {
        Ok(v) if args.starts_with('[') => v,
        _ => args.split_whitespace().map(String::from).collect(),
    }
}

/// `dest` made absolute against the working folder.
fn join(workdir: &str, dest: &str) -> String {
    if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{dest}", workdir.trim_end_matches('/'))
    }
}

/// `HEALTHCHECK NONE` or `[--interval=… --timeout=… --start-period=… --retries=…] CMD …`.
fn healthcheck(args: &str) -> Option<Value> {
    if args.eq_ignore_ascii_case("NONE") {
        return Some(json!({"Test": ["NONE"]}));
    }
    let mut rest = args;
    let mut check = json!({});
    while let Some(flag) = rest.strip_prefix("--") {
        let end = flag.find(char::is_whitespace)?;
        let (key, value) = flag[..end].split_once('=')?;
        let field = match key {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "retries" => "Retries",
            _ => return None,
        };
        check[field] = if field == "Retries" {
            json!(value.parse::<u64>().ok()?)
        } else {
            json!(duration(value)?)
        };
        rest = flag[end..].trim_start();
    }
    let command = rest.strip_prefix("CMD")?.trim();
    check["Test"] = match serde_json::from_str::<Vec<String>>(command) {
        Ok(v) if command.starts_with('[') => {
            json!(std::iter::once("CMD".to_string()).chain(v).collect::<Vec<_>>())
        }
        _ => json!(["CMD-SHELL", command]),
    };
    Some(check)
}

/// `30s`, `1m30s`, `500ms` in nanoseconds.
fn duration(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit: u64 = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            1_000_000
        } else {
            match c {
                'h' => 3_600_000_000_000,
                'm' => 60_000_000_000,
                's' => 1_000_000_000,
                _ => return None,
            }
        };
        let value: f64 = number.parse().ok()?;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        {
            total += (value * unit as f64) as u64;
        }
        number.clear();
    }
    number.is_empty().then_some(total)
}

/// A COPY (or an ADD of plain files) from the extension's context into `tree`; `Some(why)`
/// when it needs the engine.
fn copy(
    ext: &Extension,
    ins: &Instruction,
    workdir: &str,
    dirs: &BTreeSet<String>,
    tree: &mut Tree,
) -> Result<Option<String>> {
    let words = shell_words(&ins.args);
    let (flags, rest): (Vec<&String>, Vec<&String>) =
        words.iter().partition(|w| w.starts_with("--"));
    let mut mode: Option<u32> = None;
    for flag in flags {
        if let Some(m) = flag.strip_prefix("--chmod=") {
            match u32::from_str_radix(m, 8) {
                Ok(m) => mode = Some(m),
                Err(_) => return Ok(Some(format!("{} --chmod={m}", ins.keyword))),
            }
        } else if flag != "--link" {
            return Ok(Some(format!("{} {flag}", ins.keyword)));
        }
    }
    if ins.args.contains("<<") || ins.args.trim_start().starts_with('[') {
        return Ok(Some(format!("{} in heredoc or JSON form", ins.keyword)));
    }
    let Some((dest, sources)) = rest.split_last() else { return Ok(None) };
    if sources.iter().any(|s| s.contains(['*', '?', '[']) || s.contains("://")) {
        return Ok(Some(format!("{} with a wildcard or a URL", ins.keyword)));
    }
    let dest_abs = join(workdir, dest);
    let into_dir = dest.ends_with('/')
        || sources.len() > 1
        || dirs.contains(dest_abs.trim_start_matches('/').trim_end_matches('/'));
    for source in sources {
        let rel = source.trim_start_matches("./").trim_end_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        let archive = [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".txz"]
            .iter()
            .any(|e| rel.ends_with(e));
        if ins.keyword == "ADD" && archive {
            return Ok(Some("ADD of an archive (the engine unpacks it)".into()));
        }
        let is_dir = rel == "." || ext.dirs.contains(rel);
        let entries: Vec<_> = ext
            .entries
            .iter()
            .filter(|e| rel == "." || e.rel == rel || e.rel.starts_with(&format!("{rel}/")))
            .collect();
        let target = dest_abs.trim_start_matches('/').trim_end_matches('/');
        if is_dir {
            for d in ext.dirs.iter().filter(|d| rel == "." || d.starts_with(&format!("{rel}/"))) {
                let sub = if rel == "." { d.as_str() } else { &d[rel.len() + 1..] };
                tree.dir(&format!("{target}/{sub}"), mode.unwrap_or(0o755))?;
            }
        }
        for e in entries {
            let path = if is_dir {
                let sub = if rel == "." { e.rel.as_str() } else { &e.rel[rel.len() + 1..] };
                format!("{target}/{sub}")
            } else if into_dir {
                format!("{target}/{}", e.rel.rsplit('/').next().unwrap_or(&e.rel))
            } else {
                target.to_string()
            };
            match &e.link {
                Some(link) => tree.symlink(&path, link)?,
                None => {
                    let file_mode = mode.unwrap_or(if e.mode & 0o111 != 0 { 0o755 } else { 0o644 });
                    tree.file(&path, file_mode, fs::read(ext.folder.join(&e.rel))?)?;
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_forms() {
        assert_eq!(duration("30s"), Some(30_000_000_000));
        assert_eq!(duration("1m30s"), Some(90_000_000_000));
        assert_eq!(duration("500ms"), Some(500_000_000));
        assert_eq!(exec_form("[\"a\", \"b\"]"), vec!["a", "b"]);
        assert_eq!(exec_form("web --port 80"), vec!["/bin/sh", "-c", "web --port 80"]);
        let check = healthcheck("--interval=30s --retries=3 CMD web || exit 1").unwrap();
        assert_eq!(check["Test"], json!(["CMD-SHELL", "web || exit 1"]));
        assert_eq!(check["Retries"], json!(3));
        assert_eq!(
            pairs("A=1 B=\"two words\""),
            vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
    }
}
