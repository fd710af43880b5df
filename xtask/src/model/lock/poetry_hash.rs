//! Poetry's `content-hash`, by the rules of the Poetry that wrote the lock (its first line
//! says which): whether a poetry.lock still fits its pyproject.toml, without running Poetry.
//!
//! The hashed object is a JSON text of some manifest sections, serialized as Python's
//! `json.dumps(obj, sort_keys=True)` writes it (ASCII only, `", "` and `": "` separators),
//! then SHA-256. Which sections, by writer:
//! - before 2.0: `[tool.poetry]` `dependencies`, `dev-dependencies`, `source`, `extras`
//!   (null when absent), plus `group` when present (1.2 on);
//! - 2.0 to 2.2: the same, unless `[project]` has `requires-python`, `dependencies` or
//!   `optional-dependencies`; then `{"project": those, "tool": {"poetry": the five present}}`;
//! - 2.3 on: as 2.0, and a non-empty `[dependency-groups]` joins the nested form.

use std::fmt::Write;

use pep440_rs::Version;
use toml::{Table, Value};

use crate::hash::Sha256;

/// The hashing rules of one range of Poetry versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// Poetry 1.x: `[tool.poetry]` only.
    V1,
    /// Poetry 1.2's pre-releases (1.2.0a1, a2): `dependencies`, `group`, `source`, `extras`,
    /// with nulls, no `dev-dependencies`. Their locks have no first line naming them.
    V12Pre,
    /// Poetry 2.0 to 2.2: `[project]` when it declares dependencies.
    V2,
    /// Poetry 2.3 on: also `[dependency-groups]`.
    V23,
}

/// The rules a lock was written by: from the Poetry version of its first line; without one
/// (Poetry before 1.3), 1.x or 1.2's pre-releases. A pre-release of 2.3 may use either 2.x
/// rule.
pub fn rules_of(written_by: Option<&str>) -> Vec<Rules> {
    let Some(version) = written_by.and_then(|v| v.parse::<Version>().ok()) else {
        return vec![Rules::V1, Rules::V12Pre];
    };
    let at = |s: &str| s.parse::<Version>().expect("a literal version");
    if version < at("2.0.0") {
        vec![Rules::V1]
    } else if version < at("2.3.0") {
        let pre_23 = version.release().get(..2) == Some(&[2, 3]);
        if pre_23 {
            vec![Rules::V2, Rules::V23]
        } else {
            vec![Rules::V2]
        }
    } else {
        vec![Rules::V23]
    }
}

/// The content hash of `pyproject` under `rules`. Errors for values Poetry would not accept
/// in the hashed sections (numbers, dates).
pub fn content_hash(pyproject: &Table, rules: Rules) -> Result<String, String> {
    let mut out = String::new();
    dump(&hashed(pyproject, rules), &mut out)?;
    Ok(Sha256::of(out.as_bytes()).hex().to_string())
}

/// The object Poetry hashes, as JSON values (`None` is null).
fn hashed(pyproject: &Table, rules: Rules) -> Json {
    let empty = Table::new();
    let tool = pyproject.get("tool").and_then(Value::as_table).unwrap_or(&empty);
    let poetry = tool.get("poetry").and_then(Value::as_table).unwrap_or(&empty);
    let project = pyproject.get("project").and_then(Value::as_table).unwrap_or(&empty);
    let legacy = || {
        let mut members: Vec<(String, Json)> =
            ["dependencies", "dev-dependencies", "source", "extras"]
                .iter()
                .map(|k| (k.to_string(), poetry.get(*k).map_or(Json::Null, Json::from)))
                .collect();
        if let Some(group) = poetry.get("group") {
            members.push(("group".to_string(), Json::from(group)));
        }
        Json::Object(members)
    };
    if rules == Rules::V1 {
        return legacy();
    }
    if rules == Rules::V12Pre {
        let members = ["dependencies", "group", "source", "extras"]
            .iter()
            .map(|k| (k.to_string(), poetry.get(*k).map_or(Json::Null, Json::from)))
            .collect();
        return Json::Object(members);
    }
    let relevant: Vec<(String, Json)> =
        ["requires-python", "dependencies", "optional-dependencies"]
            .iter()
            .filter_map(|k| project.get(*k).map(|v| (k.to_string(), Json::from(v))))
            .collect();
    let groups = pyproject
        .get("dependency-groups")
        .and_then(Value::as_table)
        .filter(|g| rules == Rules::V23 && !g.is_empty());
    if relevant.is_empty() && groups.is_none() {
        return legacy();
    }
    let tool_poetry: Vec<(String, Json)> =
        ["dependencies", "source", "extras", "dev-dependencies", "group"]
            .iter()
            .filter_map(|k| poetry.get(*k).map(|v| (k.to_string(), Json::from(v))))
            .collect();
    let mut members = vec![(
        "tool".to_string(),
        Json::Object(vec![("poetry".to_string(), Json::Object(tool_poetry))]),
    )];
    if !relevant.is_empty() {
        members.push(("project".to_string(), Json::Object(relevant)));
    }
    if let Some(groups) = groups {
        members.push(("dependency-groups".to_string(), Json::from(&Value::Table(groups.clone()))));
    }
    Json::Object(members)
}

/// A JSON value as Python's json module sees it.
enum Json {
    Null,
    Bool(bool),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
    /// A TOML number or date: Poetry's schema refuses these in the hashed sections.
    Other(String),
}

impl From<&Value> for Json {
    fn from(v: &Value) -> Json {
        match v {
            Value::String(s) => Json::Str(s.clone()),
            Value::Boolean(b) => Json::Bool(*b),
            Value::Array(a) => Json::Array(a.iter().map(Json::from).collect()),
            Value::Table(t) => {
                Json::Object(t.iter().map(|(k, v)| (k.clone(), Json::from(v))).collect())
            }
            other => Json::Other(other.to_string()),
        }
    }
}

/// `json.dumps(value, sort_keys=True)`, byte for byte.
fn dump(value: &Json, out: &mut String) -> Result<(), String> {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Str(s) => string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump(item, out)?;
            }
            out.push(']');
        }
        Json::Object(members) => {
            let mut sorted: Vec<&(String, Json)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                string(k, out);
                out.push_str(": ");
                dump(v, out)?;
            }
            out.push('}');
        }
        Json::Other(text) => {
            return Err(format!("{text} is not a string, a boolean, a list or a table"));
        }
    }
    Ok(())
}

/// A string as `json.dumps` writes it with `ensure_ascii`: `\uXXXX` (lowercase, surrogate
/// pairs above the BMP) for control characters, DEL and everything beyond ASCII.
fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(text: &str, rules: Rules) -> String {
        content_hash(&text.parse::<Table>().unwrap(), rules).unwrap()
    }

    // Vectors checked against Poetry 1.1 to 2.5 themselves.
    const GROUPS: &str = "[project]\nname = \"depgroups\"\nversion = \"0.1.0\"\nrequires-python = \">=3.10\"\ndependencies = [\"requests>=2.31\"]\n\n[dependency-groups]\ntest = [\"pytest>=8.0\", \"coverage\"]\nlint = [\"ruff\"]\ndev = [{ include-group = \"test\" }, { include-group = \"lint\" }, \"ipython\"]\n\n[tool.poetry.group.dev.dependencies]\nmylib = { path = \"../_libs/mylib\", develop = true }\n";
    const NON_ASCII: &str = "[tool.poetry]\nname = \"nonascii\"\nversion = \"0.1.0\"\ndescription = \"Ünïcödé\"\nauthors = [\"Zoë <z@example.org>\"]\n\n[tool.poetry.dependencies]\npython = \"^3.9\"\nfoo = { git = \"https://example.org/foo.git\", branch = \"héllo-wörld-🚀\", markers = \"sys_platform == \\\"win32\\\"\" }\nbar = { git = \"https://example.org/bar.git\", tag = \"tab\\tand\\\\backslash/slash\\u007f\" }\n\n[tool.poetry.dev-dependencies]\npytest = \"^8.0\"\n";
    const PURE_621: &str = "[project]\nname = \"pure621\"\nversion = \"1.2.3\"\nrequires-python = \">=3.9\"\ndependencies = [\"attrs>=23\", \"packaging\"]\n\n[build-system]\nrequires = [\"poetry-core>=2.0.0,<3.0.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n";
    const CRLF: &str = "[tool.poetry]\r\nname = \"crlf\"\r\nversion = \"0.1.0\"\r\ndescription = \"\"\r\nauthors = [\"A <a@example.org>\"]\r\n\r\n[tool.poetry.dependencies]\r\npython = \"^3.9\"\r\nfoo = { git = \"https://example.org/foo.git\", branch = \"\"\"\r\nline1\r\nline2\"\"\" }\r\nbar = { git = \"https://example.org/bar.git\", tag = '''\r\nx\r\ny''' }\r\nbaz = { git = \"https://example.org/baz.git\", rev = \"\"\"a \\\r\n   b\"\"\" }\r\n";

    #[test]
    fn each_writers_rules_give_its_hash() {
        assert_eq!(
            hash(GROUPS, Rules::V2),
            "e1d904f649bb2f18152f130185c8f6d0fa0ec3a8923df6c29ec8578c5bf459c8"
        );
        assert_eq!(
            hash(GROUPS, Rules::V23),
            "f0f8cd1fe39eb20c98a0f929bf22cc93833d9b1c4135776774639c99b452d5df"
        );
        assert_eq!(
            hash(NON_ASCII, Rules::V1),
            "5e135a17013775443704e70a7fbf46c601cde4ad486428376c1ff8982e6b1926"
        );
        assert_eq!(
            hash(NON_ASCII, Rules::V23),
            "5e135a17013775443704e70a7fbf46c601cde4ad486428376c1ff8982e6b1926"
        );
        assert_eq!(
            hash(PURE_621, Rules::V2),
            "e41d1a1825c4ca6a47054a61b6804285862eea9f056fb34e9bbbdd48626069cd"
        );
        // Poetry 1.5 on read CRLF multi-line strings as TOML says: LF.
        assert_eq!(
            hash(CRLF, Rules::V1),
            "89350edd08edd6eeaca084ea59d3aaab4cb010fce470195bca60e58385da3651"
        );
    }

    #[test]
    fn the_first_line_names_the_rules() {
        assert_eq!(rules_of(None), vec![Rules::V1, Rules::V12Pre]);
        assert_eq!(rules_of(Some("1.8.5")), vec![Rules::V1]);
        assert_eq!(rules_of(Some("2.2.1")), vec![Rules::V2]);
        assert_eq!(rules_of(Some("2.3.0b1")), vec![Rules::V2, Rules::V23]);
        assert_eq!(rules_of(Some("2.5.1")), vec![Rules::V23]);
    }
}

#[cfg(test)]
mod real_locks {
    use super::*;

    /// Every poetry.lock of the sample and of the fixtures was written by a real Poetry (1.8
    /// and 2.x): each must be fresh by its writer's rules, and stale once a dependency changes.
    #[test]
    fn every_lock_in_the_repo_is_fresh_by_its_writers_rules() {
        let root = camino::Utf8Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut locks = Vec::new();
        for top in ["libs", "projects", "xtask/test_data/monorepos"] {
            collect(&root.join(top), &mut locks);
        }
        assert!(locks.len() >= 15, "found only {} locks", locks.len());
        let mut writers = std::collections::BTreeSet::new();
        for lock_path in locks {
            let text = fs_err::read_to_string(&lock_path).unwrap();
            let lock = super::super::poetry::parse(&text).unwrap();
            let manifest =
                fs_err::read_to_string(lock_path.with_file_name("pyproject.toml")).unwrap();
            let table: Table = manifest.parse().unwrap();
            let rules = rules_of(lock.written_by.as_deref());
            let fresh = |t: &Table| {
                rules.iter().any(|r| Some(content_hash(t, *r).unwrap()) == lock.content_hash)
            };
            assert!(fresh(&table), "{lock_path} is not fresh by {rules:?}");
            let changed: Table =
                format!("{manifest}\n[tool.poetry.group.extra.dependencies]\nzzz = \"1\"\n")
                    .parse()
                    .unwrap_or_else(|_| table.clone());
            if changed != table {
                assert!(!fresh(&changed), "{lock_path}: a new dependency went unnoticed");
            }
            writers.insert(lock.written_by.unwrap_or_default());
        }
        assert!(writers.iter().any(|w| w.starts_with("1.")), "no Poetry 1.x lock: {writers:?}");
    }

    fn collect(dir: &camino::Utf8Path, out: &mut Vec<camino::Utf8PathBuf>) {
        let Ok(entries) = dir.read_dir_utf8() else { return };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                collect(path, out);
            } else if entry.file_name() == "poetry.lock" {
                out.push(path.to_owned());
            }
        }
    }
}
