//! Repo-relative folder paths: lexical joins that cannot escape the repo unnoticed.

/// The repo root itself, as a repo-relative folder.
pub const ROOT: &str = ".";

/// Joins `rel` (as written in a manifest, `/` or `\`) onto the repo-relative folder `base`.
/// `None` when the result would leave the repo. Absolute paths are accepted when they lie
/// under `repo_abs`.
pub fn join(repo_abs: &str, base: &str, rel: &str) -> Option<String> {
    let rel = rel.replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    let rel = if rel.starts_with('/') {
        let under = rel.strip_prefix(repo_abs.trim_end_matches('/'))?;
        if !(under.is_empty() || under.starts_with('/')) {
            return None;
        }
        under.to_string()
    } else {
        parts.extend(base.split('/').filter(|p| !p.is_empty() && *p != ROOT));
        rel
    };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() { ROOT.to_string() } else { parts.join("/") })
}

/// The manifest path of a repo-relative folder.
pub fn manifest_of(dir: &str) -> String {
    if dir == ROOT {
        "pyproject.toml".to_string()
    } else {
        format!("{dir}/pyproject.toml")
    }
}

/// Whether `dir` is `ancestor` or lies below it.
pub fn is_within(dir: &str, ancestor: &str) -> bool {
    ancestor == ROOT
        || dir == ancestor
        || dir.strip_prefix(ancestor).is_some_and(|r| r.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_paths_lexically() {
        assert_eq!(join("/r", "projects/a", "../../libs/x").as_deref(), Some("libs/x"));
        assert_eq!(join("/r", "projects/a", "./sub/").as_deref(), Some("projects/a/sub"));
        assert_eq!(join("/r", "a", "..").as_deref(), Some("."));
        assert_eq!(join("/r", ".", "libs\\x").as_deref(), Some("libs/x"));
    }

    #[test]
    fn refuses_to_leave_the_repo() {
        assert_eq!(join("/r", "projects/a", "../../../x"), None);
        assert_eq!(join("/r", "a", "/elsewhere/x"), None);
        assert_eq!(join("/r", "a", "/rx/y"), None);
        assert_eq!(join("/r", "a", "/r/libs/y").as_deref(), Some("libs/y"));
    }

    #[test]
    fn within_and_manifest_paths() {
        assert!(is_within("libs/a/b", "libs/a"));
        assert!(!is_within("libs/ab", "libs/a"));
        assert!(is_within("x", "."));
        assert_eq!(manifest_of("."), "pyproject.toml");
        assert_eq!(manifest_of("libs/a"), "libs/a/pyproject.toml");
    }
}
