//! A project Dockerfile read without I/O: its instructions (continuations, comments, heredocs
//! and the escape directive handled), its first `FROM`, and the context paths its `COPY` and
//! `ADD` instructions read, where they can be known without running the build.

/// One instruction: its keyword (upper-case), the rest of its text, and its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
    pub line: usize,
}

/// The instructions of a Dockerfile. Heredoc bodies (`RUN <<EOF … EOF`) are skipped.
pub fn instructions(text: &str) -> Vec<Instruction> {
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
        let mut body = String::new();
        loop {
            let line = lines[i].trim();
            i += 1;
            if line.starts_with('#') && !body.is_empty() {
                continue; // a comment inside a continued instruction
            }
            match line.strip_suffix(escape) {
                Some(head) if i < lines.len() => {
                    body.push_str(head);
                    body.push(' ');
                }
                _ => {
                    body.push_str(line);
                    break;
                }
            }
        }
        // Heredoc bodies follow the instruction, up to their terminating word.
        for word in heredoc_words(&body) {
            while i < lines.len() && lines[i].trim() != word {
                i += 1;
            }
            i += 1;
        }
        let (keyword, args) = body.split_once(char::is_whitespace).unwrap_or((&body, ""));
        out.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
            line: first,
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
    let image = from.args.split_whitespace().find(|w| !w.starts_with("--"))?.to_string();
    Some((image, from.line))
}

/// The text with every `FROM app` (the template's stage, in any case) made `FROM <image>`,
/// and `--from=app` flags `--from=<image>`.
pub fn rebase(text: &str, image: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let flag = format!("--from={image}");
    for line in text.split_inclusive('\n') {
        let line = &line.replace("--from=app ", &format!("{flag} "));
        let trimmed = line.trim_start();
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let is_from = words.first().is_some_and(|w| w.eq_ignore_ascii_case("FROM"));
        let base = words.iter().skip(1).position(|w| !w.starts_with("--")).map(|p| p + 1);
        match base {
            Some(b) if is_from && words[b].eq_ignore_ascii_case("app") => {
                let mut new: Vec<&str> = words.clone();
                new[b] = image;
                out.push_str(&new.join(" "));
                out.push('\n');
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// What a `COPY` or `ADD` reads from the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRead {
    pub line: usize,
    pub keyword: String,
    /// Source paths as written; empty when they cannot be known before the build.
    pub sources: Vec<String>,
}

/// The context reads of every `COPY`/`ADD` (not `--from`, which read other images). Sources
/// that only the build can resolve (URLs, git, heredocs, variables, wildcards) are left out,
/// so a check against them never reports a file as missing that the build would find.
pub fn context_reads(text: &str) -> Vec<ContextRead> {
    let mut out = Vec::new();
    for ins in instructions(text).into_iter().filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
    {
        let words = split_args(&ins.args);
        if words.iter().any(|w| w.starts_with("--from")) || ins.args.contains("<<") {
            continue;
        }
        let args: Vec<&String> = words.iter().filter(|w| !w.starts_with("--")).collect();
        let Some((_dest, sources)) = args.split_last() else { continue };
        let knowable = |s: &&&String| {
            !s.contains("://") && !s.starts_with("git@") && !s.contains(['$', '*', '?', '[', '\\'])
        };
        let sources = sources.iter().filter(knowable).map(|s| (*s).clone()).collect();
        out.push(ContextRead { line: ins.line, keyword: ins.keyword, sources });
    }
    out
}

/// The words of an instruction: its JSON array form, or whitespace-separated.
fn split_args(args: &str) -> Vec<String> {
    let (flags, rest): (Vec<&str>, Vec<&str>) = {
        let words: Vec<&str> = args.split_whitespace().collect();
        let n = words.iter().take_while(|w| w.starts_with("--")).count();
        (words[..n].to_vec(), words[n..].to_vec())
    };
    let rest = rest.join(" ");
    let mut out: Vec<String> = flags.iter().map(ToString::to_string).collect();
    match serde_json::from_str::<Vec<String>>(&rest) {
        Ok(json) if rest.starts_with('[') => out.extend(json),
        _ => out.extend(rest.split_whitespace().map(ToString::to_string)),
    }
    out
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
    fn the_escape_directive_changes_continuations() {
        let df = "# escape=`\nFROM app\nCOPY a `\n  b /x\n";
        assert_eq!(context_reads(df)[0].sources, vec!["a", "b"]);
    }
}
