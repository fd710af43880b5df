//! A project Dockerfile read without I/O: its instructions (continuations, comments, heredocs
//! and the escape directive handled), its first `FROM`, and the context paths its `COPY` and
//! `ADD` instructions read, where they can be known without running the build.

/// One instruction: its keyword (upper-case), the rest of its text, and its first and last
/// lines (continuations included, heredoc bodies not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
    pub line: usize,
    pub end: usize,
}

/// The instructions of a Dockerfile, read as Docker does: a leading byte-order mark dropped,
/// comments and empty lines inside a continued instruction skipped, heredoc bodies
/// (`RUN <<EOF … EOF`) skipped.
pub fn instructions(text: &str) -> Vec<Instruction> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let escape = escape_char(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let first = i + 1;
        let mut end = first;
        let mut body = String::new();
        while i < lines.len() {
            let line = lines[i].trim();
            i += 1;
            if !body.is_empty() && (line.is_empty() || line.starts_with('#')) {
                continue; // a comment or an empty line inside a continued instruction
            }
            end = i;
            if let Some(head) = line.strip_suffix(escape) {
                body.push_str(head);
                body.push(' ');
            } else {
                body.push_str(line);
                break;
            }
        }
        // Heredoc bodies follow the instruction, up to their terminating word.
        for word in heredoc_words(&body) {
            while i < lines.len() && lines[i].trim() != word {
                i += 1;
            }
            i += 1;
        }
        let body = body.trim();
        let (keyword, args) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        out.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
            line: first,
            end,
        });
    }
    out
}

/// The `# escape=` parser directive, `\` by default.
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else { break };
        if let Some((key, value)) = directive.split_once('=') {
            if key.trim().eq_ignore_ascii_case("escape") {
                return value.trim().chars().next().unwrap_or('\\');
            }
        }
    }
    '\\'
}

/// `<<EOF`, `<<-EOF` and `<<"EOF"` markers in an instruction: the words that end their bodies.
fn heredoc_words(body: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find("<<") {
        let after = rest[at + 2..].trim_start_matches('-');
        let word: String = after
            .trim_matches(|c| c == '"' || c == '\'')
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() {
            words.push(word);
        }
        rest = &rest[at + 2..];
    }
    words
}

/// The image of the first `FROM` (flags such as `--platform` skipped), with its line.
pub fn first_from(text: &str) -> Option<(String, usize)> {
    let from = instructions(text).into_iter().find(|i| i.keyword == "FROM")?;
    let image = split_flags(&from.args).1.split_whitespace().next()?.to_string();
    Some((image, from.line))
}

/// The text with every `FROM app` (the template's stage, in any case) made `FROM <image>`,
/// and `--from=app` of `COPY` and `from=app` of `RUN --mount` made `<image>`. Works on the
/// parsed instructions, so continued lines and flags in any position are found; a rewritten
/// instruction becomes one line followed by empty ones, so line numbers stay.
pub fn rebase(text: &str, image: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for ins in instructions(text) {
        let (flags, rest) = split_flags(&ins.args);
        let mut changed = false;
        let mut flags: Vec<String> = flags
            .iter()
            .map(|flag| {
                let new = rebase_flag(flag, image);
                changed |= new != *flag;
                new
            })
            .collect();
        let mut rest = rest.to_string();
        if ins.keyword == "FROM" {
            let (base, tail) = rest.split_once(char::is_whitespace).unwrap_or((&rest, ""));
            if is_app(base) {
                rest = format!("{image} {tail}").trim_end().to_string();
                changed = true;
            }
        }
        if changed {
            flags.insert(0, ins.keyword.clone());
            flags.push(rest);
            lines[ins.line - 1] = flags.join(" ").trim_end().to_string();
            for line in &mut lines[ins.line..ins.end] {
                line.clear();
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Whether a stage reference names the template's stage: `app` in any case, quoted or not.
fn is_app(word: &str) -> bool {
    word.trim_matches(|c| c == '"' || c == '\'').eq_ignore_ascii_case("app")
}

/// `--from=app` and `--mount=…,from=app,…` pointed at `image`; other flags unchanged.
fn rebase_flag(flag: &str, image: &str) -> String {
    let lower = flag.to_ascii_lowercase();
    if let Some(value) = lower.strip_prefix("--from=") {
        if is_app(value) {
            return format!("--from={image}");
        }
    } else if lower.starts_with("--mount=") {
        let (head, spec) = flag.split_at("--mount=".len());
        let parts: Vec<String> = spec
            .split(',')
            .map(|part| match part.split_once('=') {
                Some((k, v)) if k.eq_ignore_ascii_case("from") && is_app(v) => {
                    format!("{k}={image}")
                }
                _ => part.to_string(),
            })
            .collect();
        return format!("{head}{}", parts.join(","));
    }
    flag.to_string()
}

/// An instruction's leading `--flags` and the text after them.
fn split_flags(args: &str) -> (Vec<&str>, &str) {
    let mut flags = Vec::new();
    let mut rest = args.trim_start();
    while rest.starts_with("--") {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        flags.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (flags, rest)
}

/// What a `COPY` or `ADD` reads from the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRead {
    pub line: usize,
    pub keyword: String,
    /// Source paths, quotes removed; only those that can be known before the build.
    pub sources: Vec<String>,
    /// Whether `sources` are all it reads: false when some only the build can resolve.
    pub complete: bool,
}

/// The context reads of every `COPY`/`ADD` (not `--from`, which read other images). Sources
/// that only the build can resolve (URLs, git, variables, wildcards) are left out, so a check
/// against them never reports a file as missing that the build would find.
pub fn context_reads(text: &str) -> Vec<ContextRead> {
    let mut out = Vec::new();
    for ins in instructions(text).into_iter().filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
    {
        let (flags, rest) = split_flags(&ins.args);
        if flags.iter().any(|f| f.to_ascii_lowercase().starts_with("--from")) || rest.contains("<<")
        {
            continue;
        }
        let words = match serde_json::from_str::<Vec<String>>(rest) {
            Ok(json) if rest.starts_with('[') => json,
            _ => shell_words(rest),
        };
        let Some((_dest, sources)) = words.split_last() else { continue };
        let knowable = |s: &&String| {
            !s.contains("://") && !s.starts_with("git@") && !s.contains(['$', '*', '?', '[', '\\'])
        };
        let known: Vec<String> = sources.iter().filter(knowable).cloned().collect();
        let complete = known.len() == sources.len();
        out.push(ContextRead { line: ins.line, keyword: ins.keyword, sources: known, complete });
    }
    out
}

/// Shell-form words as Docker's word expansion reads them: split on whitespace outside
/// quotes, quotes removed. A word with a backslash keeps it (and is then left unchecked).
pub(crate) fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_join_continuations_and_skip_comments_and_heredocs() {
        let df = "# syntax=docker/dockerfile:1\nFROM app\n# COPY nope /x\nCOPY --chown=app config/a.toml \\\n  # inner comment\n     config/b.toml /etc/x/\nRUN <<EOF\nCOPY fake /x\nEOF\nCOPY --from=build /x /y\nADD [\"data dir/f.txt\", \"/data/\"]\nRUN echo COPY x y\n";
        let keywords: Vec<(String, usize)> =
            instructions(df).into_iter().map(|i| (i.keyword, i.line)).collect();
        assert_eq!(
            keywords,
            [("FROM", 2), ("COPY", 4), ("RUN", 7), ("COPY", 10), ("ADD", 11), ("RUN", 12)]
                .map(|(k, l)| (k.to_string(), l))
        );
        let reads = context_reads(df);
        assert_eq!(reads.len(), 2);
        assert_eq!(reads[0].sources, vec!["config/a.toml", "config/b.toml"]);
        assert_eq!(reads[1].sources, vec!["data dir/f.txt"]);
    }

    #[test]
    fn sources_only_the_build_can_resolve_are_not_listed() {
        let df = "FROM app\nADD https://example.org/x.tgz /x\nCOPY ${CFG}/a.toml /a\nCOPY conf/*.toml /etc/\nCOPY <<EOF /etc/x\nhello\nEOF\nCOPY --link --chmod=644 real.txt /r\n";
        let reads = context_reads(df);
        let all: Vec<&String> = reads.iter().flat_map(|r| r.sources.iter()).collect();
        assert_eq!(all, vec!["real.txt"]);
    }

    #[test]
    fn first_from_and_rebase() {
        let df = "ARG X=1\nFROM --platform=linux/amd64 app AS final\nFROM python:3.11 AS other\nCOPY --from=app /a /b\n";
        assert_eq!(first_from(df), Some(("app".to_string(), 2)));
        let rebased = rebase(df, "sha256:abc");
        assert!(rebased.contains("FROM --platform=linux/amd64 sha256:abc AS final\n"), "{rebased}");
        assert!(rebased.contains("FROM python:3.11 AS other\n"), "{rebased}");
        assert!(rebased.contains("COPY --from=sha256:abc /a /b"), "{rebased}");
        assert_eq!(
            first_from("FROM continuumio/miniconda3\n").unwrap().0,
            "continuumio/miniconda3"
        );
    }

    #[test]
    fn rebase_finds_app_across_continuations_and_in_every_flag_form() {
        let df = "\u{feff}FROM \\\n  app AS final\nCOPY --from=APP /a /b\nCOPY --chown=1 --from=\"app\" /c /d\nRUN --mount=type=bind,from=app,target=/x ls\nFROM other\n";
        let rebased = rebase(df, "sha256:abc");
        assert_eq!(
            rebased,
            "FROM sha256:abc AS final\n\nCOPY --from=sha256:abc /a /b\nCOPY --chown=1 --from=sha256:abc /c /d\nRUN --mount=type=bind,from=sha256:abc,target=/x ls\nFROM other\n"
        );
        assert_eq!(first_from(df).unwrap(), ("app".to_string(), 1));
    }

    #[test]
    fn odd_but_valid_files_parse_as_docker_reads_them() {
        // A continued comment on the last line, an empty line inside a continuation.
        let df = "FROM app\nRUN a \\\n\n  b\nCOPY x /y \\\n# trailing";
        let ins = instructions(df);
        assert_eq!(ins[1].args, "a  b");
        assert_eq!((ins[1].line, ins[1].end), (2, 4));
        assert_eq!(ins.len(), 3);
        // Shell-form quotes are removed as Docker's word expansion does.
        let reads = context_reads("FROM app\nCOPY \"my file\" 'b' /x\nCOPY *.txt c /y\n");
        assert_eq!(reads[0].sources, vec!["my file", "b"]);
        assert!(reads[0].complete);
        assert_eq!(reads[1].sources, vec!["c"]);
        assert!(!reads[1].complete);
    }

    #[test]
    fn the_escape_directive_changes_continuations() {
        let df = "# escape=`\nFROM app\nCOPY a `\n  b /x\n";
        assert_eq!(context_reads(df)[0].sources, vec!["a", "b"]);
    }
}
