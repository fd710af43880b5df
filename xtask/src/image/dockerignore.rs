//! `.dockerignore` exactly as Docker reads it: the lines as the docker CLI cleans them, and each
//! pattern as moby's patternmatcher compiles and matches it (`*`, `?`, classes, `\` escapes,
//! `**`, `!` exceptions, a path matching when it or one of its parent folders does).
//!
//! No maintained crate implements these rules (gitignore crates differ: `*.pyc` matches only at
//! the root here, a folder pattern needs no trailing `/`), so this is a transcription of the
//! documented behaviour, checked against the engine's own context handling in the tests.
//! Patterns whose meaning would depend on Go's regular-expression escapes (`\d`, `\w` …) are
//! refused rather than guessed.

use std::fmt;

/// The rules of one `.dockerignore`, in file order.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// A `!` line: re-includes what earlier lines excluded.
    exception: bool,
    pattern: Pattern,
}

/// How moby matches a compiled pattern.
#[derive(Debug, Clone)]
enum Pattern {
    /// The path is the pattern.
    Exact(String),
    /// `dir/**`: the path starts with what precedes the `**`.
    Prefix(String),
    /// `**/name` (only literals after): the path ends with what follows the `**`.
    Suffix(String),
    /// Anything else, as the regular expression moby builds.
    Tokens(Vec<Tok>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run without `/`.
    Run,
    /// `**` before more pattern: any run of folders, or none (`(.*/)?`).
    Dirs,
    /// A final `**` after other wildcards: anything (`.*`).
    All,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A line Docker refuses, with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern {
    pub line: usize,
    pub pattern: String,
    pub why: String,
}

impl fmt::Display for BadPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: pattern {:?} {}", self.line, self.pattern, self.why)
    }
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore`; an invalid pattern is an error, as in Docker.
    pub fn parse(text: &str) -> Result<DockerIgnore, BadPattern> {
        let mut rules = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let raw = if n == 0 { raw.trim_start_matches('\u{feff}') } else { raw };
            // A comment is a line whose first character is `#`, before any trimming.
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let bad = |why: &str| BadPattern {
                line: n + 1,
                pattern: line.to_string(),
                why: why.to_string(),
            };
            let (exception, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if exception && body.is_empty() {
                return Err(bad("is an exception of nothing (`!` alone)"));
            }
            let mut cleaned = clean(body);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let pattern = compile(&cleaned).map_err(|why| bad(&why))?;
            rules.push(Rule { exception, pattern });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context: the
    /// last rule matching the path or one of its parent folders decides.
    pub fn excludes(&self, path: &str) -> bool {
        let parents: Vec<&str> = {
            let mut ends: Vec<usize> = path.match_indices('/').map(|(i, _)| i).collect();
            ends.retain(|&i| i > 0);
            ends.iter().map(|&i| &path[..i]).collect()
        };
        let mut excluded = false;
        for rule in &self.rules {
            // An exception can only change an excluded path, an exclusion an included one.
            if rule.exception != excluded {
                continue;
            }
            let hit = rule.pattern.matches(path) || parents.iter().any(|p| rule.pattern.matches(p));
            if hit {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether any rule is a `!` exception.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

/// Go's `filepath.Clean` on a `/`-separated path.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Compiles a cleaned pattern the way moby's patternmatcher does.
fn compile(pattern: &str) -> Result<Pattern, String> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut kind = Kind::Exact;
    let mut toks = Vec::new();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        toks.push(Tok::All);
                        kind = Kind::Regex;
                    }
                } else {
                    toks.push(Tok::Dirs);
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Run);
                kind = Kind::Regex;
            }
            '?' => {
                toks.push(Tok::One);
                kind = Kind::Regex;
            }
            '\\' => {
                let next = *chars.get(i).ok_or("ends with `\\`, which escapes nothing")?;
                if next.is_ascii_alphanumeric() {
                    return Err(format!(
                        "escapes {next:?}, which Docker reads as a regular-expression class; \
                         escape only punctuation"
                    ));
                }
                i += 1;
                toks.push(Tok::Lit(next));
                kind = Kind::Regex;
            }
            '[' => {
                let (class, used) = class(&chars[i..])?;
                i += used;
                toks.push(class);
                kind = Kind::Regex;
            }
            c => toks.push(Tok::Lit(c)),
        }
        first = false;
    }
    if kind == Kind::Regex && toks.contains(&Tok::Lit('^')) {
        return Err(
            "has a `^` outside a class, which Docker reads as a regular-expression anchor".into()
        );
    }
    Ok(match kind {
        Kind::Exact => Pattern::Exact(pattern.to_string()),
        Kind::Prefix => Pattern::Prefix(pattern[..pattern.len() - 2].to_string()),
        Kind::Suffix => Pattern::Suffix(pattern[2..].to_string()),
        Kind::Regex => Pattern::Tokens(toks),
    })
}

/// A `[…]` class after its `[`: the token and how many characters it used, `]` included.
fn class(chars: &[char]) -> Result<(Tok, usize), String> {
    let mut i = 0;
    let negated = chars.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let item = |i: &mut usize| -> Result<char, String> {
            match chars.get(*i) {
                None => Err("has a `[` that is never closed".to_string()),
                Some('\\') => {
                    let c = *chars.get(*i + 1).ok_or("has a `[` that is never closed")?;
                    if c.is_ascii_alphanumeric() {
                        return Err(format!(
                            "escapes {c:?} in a class, which Docker reads as a regular-expression \
                             class; escape only punctuation"
                        ));
                    }
                    *i += 2;
                    Ok(c)
                }
                Some(c @ ('-' | '*' | '?' | '[')) => {
                    Err(format!("has {c:?} where a class member belongs"))
                }
                Some(&c) => {
                    *i += 1;
                    Ok(c)
                }
            }
        };
        if chars.get(i) == Some(&']') {
            if ranges.is_empty() {
                return Err("has an empty `[]` class".to_string());
            }
            return Ok((Tok::Class { negated, ranges }, i + 1));
        }
        let lo = item(&mut i)?;
        let hi = if chars.get(i) == Some(&'-') && chars.get(i + 1) != Some(&']') {
            i += 1;
            item(&mut i)?
        } else {
            lo
        };
        if hi < lo {
            return Err(format!("has the range {lo}-{hi}, which runs backwards"));
        }
        ranges.push((lo, hi));
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match self {
            Pattern::Exact(p) => path == p,
            Pattern::Prefix(p) => path.starts_with(p.as_str()),
            Pattern::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Pattern::Tokens(toks) => {
                let chars: Vec<char> = path.chars().collect();
                tokens_match(toks, &chars)
            }
        }
    }
}

/// Backtracking match of the whole of `s` against `toks`.
fn tokens_match(toks: &[Tok], s: &[char]) -> bool {
    let Some((tok, rest)) = toks.split_first() else { return s.is_empty() };
    match tok {
        Tok::Lit(c) => s.first() == Some(c) && tokens_match(rest, &s[1..]),
        Tok::One => s.first().is_some_and(|&c| c != '/') && tokens_match(rest, &s[1..]),
        Tok::Class { negated, ranges } => {
            s.first().is_some_and(|&c| {
                let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                inside != *negated
            }) && tokens_match(rest, &s[1..])
        }
        Tok::Run => {
            let run = s.iter().take_while(|&&c| c != '/').count();
            (0..=run).rev().any(|n| tokens_match(rest, &s[n..]))
        }
        Tok::All => (0..=s.len()).rev().any(|n| tokens_match(rest, &s[n..])),
        Tok::Dirs => {
            // Nothing, or anything that ends with `/`.
            tokens_match(rest, s)
                || (0..s.len()).filter(|&n| s[n] == '/').any(|n| tokens_match(rest, &s[n + 1..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn lines_are_cleaned_like_the_docker_cli_does() {
        let i = ig(
            "conf/../conf/secret.env\n/abs.txt\n./dot/x\n  spaced  \n # not a comment\n#comment\n",
        );
        assert!(i.excludes("conf/secret.env"));
        assert!(i.excludes("abs.txt"));
        assert!(i.excludes("dot/x"));
        assert!(i.excludes("spaced"));
        assert!(i.excludes("# not a comment"));
        assert!(!i.excludes("#comment"));
        assert_eq!(clean("a//b/./c/.."), "a/b");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean(""), ".");
    }

    #[test]
    fn escapes_classes_and_wildcards() {
        let i = ig("conf/secret\\.env\n*.pyc\nlog?.txt\ndata[0-9]\n[^a]b\n");
        assert!(i.excludes("conf/secret.env"));
        assert!(!i.excludes("conf/secretXenv"));
        assert!(i.excludes("x.pyc") && !i.excludes("pkg/x.pyc"), "`*` stays in one folder");
        assert!(i.excludes("log1.txt") && !i.excludes("log12.txt"));
        assert!(i.excludes("data7") && !i.excludes("datax"));
        assert!(i.excludes("cb") && !i.excludes("ab"));
    }

    #[test]
    fn double_stars_folders_and_exceptions() {
        let i = ig("**/*.pyc\nbuild/**\n**/secret\ntests\n!tests/keep.py\n");
        assert!(i.excludes("a/b/c.pyc") && i.excludes("c.pyc"));
        assert!(i.excludes("build/x/y") && !i.excludes("builds/x"));
        assert!(
            i.excludes("secret") && i.excludes("deep/er/secret") && i.excludes("deep/secret/file")
        );
        assert!(i.excludes("tests/test_a.py") && !i.excludes("tests/keep.py"));
        assert!(i.has_exceptions());
        let all = ig("**\n!keep\n");
        assert!(all.excludes("x/y") && !all.excludes("keep"));
        let suffix = ig("**foo\n");
        assert!(suffix.excludes("barfoo") && suffix.excludes("a/xfoo"));
    }

    #[test]
    fn invalid_patterns_are_errors_with_their_line() {
        for (text, line) in [
            ("conf/[\n", 1),
            ("ok\n!\n", 2),
            ("a\\\n", 1),
            ("[z-a]\n", 1),
            ("\\d+\n", 1),
            ("x[]\n", 1),
            ("ok\na[\\d]\n", 2),
        ] {
            let e = DockerIgnore::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
    }
}
