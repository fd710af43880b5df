//! What a project's Dockerfile copies from its context, and which files .dockerignore leaves out.

/// Source paths of `COPY`/`ADD` instructions that read the build context (not `--from`).
pub fn copy_sources(dockerfile: &str) -> Vec<String> {
    let mut sources = Vec::new();
    for instruction in logical_lines(dockerfile) {
        let mut words = instruction.split_whitespace();
        let Some(keyword) = words.next() else { continue };
        if !keyword.eq_ignore_ascii_case("COPY") && !keyword.eq_ignore_ascii_case("ADD") {
            continue;
        }
        let rest: Vec<&str> = words.collect();
        if rest.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let args: Vec<String> = if rest.first().is_some_and(|w| w.starts_with('[')) {
            // JSON form: ["src", …, "dest"]
            let json = rest.join(" ");
            serde_json::from_str::<Vec<String>>(&json).unwrap_or_default()
        } else {
            rest.iter().filter(|w| !w.starts_with("--")).map(ToString::to_string).collect()
        };
        if args.len() >= 2 {
            sources.extend(args[..args.len() - 1].iter().cloned());
        }
    }
    sources
}

/// Instructions with `\` continuations joined and comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') && current.is_empty() {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            if !current.trim().is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// `.dockerignore` rules: last match wins, `!` re-includes, a rule on a folder covers its content.
pub struct Ignore(Vec<(bool, glob::Pattern)>);

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (keep, pattern) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let pattern =
                    pattern.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
                glob::Pattern::new(pattern).ok().map(|p| (keep, p))
            })
            .collect();
        Ignore(rules)
    }

    /// Whether a context-relative path (`/`-separated) is left out.
    pub fn ignores(&self, path: &str) -> bool {
        let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
        let mut ignored = false;
        for (keep, pattern) in &self.0 {
            // A path is covered when it or one of its parent folders matches.
            let mut prefix = String::new();
            let mut hit = false;
            for part in path.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                if pattern.matches_with(&prefix, options) {
                    hit = true;
                    break;
                }
            }
            if hit {
                ignored = !keep;
            }
        }
        ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_skip_stages_and_flags() {
        let df = "FROM app\n# COPY nope /x\nCOPY --chown=app config/a.toml \\\n     config/b.toml /etc/x/\nCOPY --from=build /x /y\nADD [\"data dir/f.txt\", \"/data/\"]\nRUN echo COPY x y\n";
        assert_eq!(copy_sources(df), vec!["config/a.toml", "config/b.toml", "data dir/f.txt"]);
    }

    #[test]
    fn dockerignore_last_match_wins_and_covers_folders() {
        let ig =
            Ignore::parse("# comment\n*.pyc\ntests/\nconfig/*\n!config/keep.toml\n**/secret*\n");
        assert!(ig.ignores("a.pyc"));
        assert!(!ig.ignores("pkg/a.pyc"), "`*` does not cross folders");
        assert!(ig.ignores("tests/test_x.py"));
        assert!(ig.ignores("config/other.toml"));
        assert!(!ig.ignores("config/keep.toml"));
        assert!(ig.ignores("deep/er/secret.key"));
        assert!(!ig.ignores("main.py"));
    }
}
