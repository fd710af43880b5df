//! PEP 508 environment markers, evaluated for the runtime without I/O.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::names::normalize;
use crate::runtime::Runtime;

/// The environment markers are evaluated in, plus the extras requested of the package.
pub struct Env<'a> {
    pub runtime: &'a Runtime,
    pub extras: &'a BTreeSet<String>,
}

impl Env<'_> {
    fn var(&self, name: &str) -> Option<String> {
        let r = self.runtime;
        Some(match name {
            "python_version" => r.python_version(),
            "python_full_version" | "implementation_version" => r.python_full_version.clone(),
            "sys_platform" => r.sys_platform.clone(),
            "platform_system" => r.platform_system.clone(),
            "os_name" => r.os_name.clone(),
            "platform_machine" => r.platform_machine.clone(),
            "platform_python_implementation" => r.platform_python_implementation.clone(),
            "implementation_name" => r.implementation_name.clone(),
            "platform_release" | "platform_version" => String::new(),
            _ => return None,
        })
    }
}

/// Evaluates a marker expression; an error names what could not be read.
pub fn evaluate(marker: &str, env: &Env) -> Result<bool, String> {
    let tokens = tokenize(marker)?;
    let mut p = Parser { tokens: &tokens, pos: 0, env };
    let value = p.or()?;
    if p.pos != tokens.len() {
        return Err(format!("marker {marker:?}: unexpected {:?}", tokens[p.pos]));
    }
    Ok(value)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Word(String),
    Op(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| format!("marker {s:?}: unclosed quote"))?;
                out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '=' | '!' | '<' | '>' | '~' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| matches!(c, '=' | '!' | '<' | '>' | '~'))
                    .count();
                out.push(Tok::Op(chars[i..i + len].iter().collect()));
                i += len;
            }
            _ => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
                    .count();
                if len == 0 {
                    return Err(format!("marker {s:?}: unexpected {c:?}"));
                }
                out.push(Tok::Word(chars[i..i + len].iter().collect()));
                i += len;
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: &'a [Tok],
    pos: usize,
    env: &'a Env<'a>,
}

impl Parser<'_> {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            v |= self.and()?;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.atom()?;
        while self.peek_word("and") {
            self.pos += 1;
            v &= self.atom()?;
        }
        Ok(v)
    }

    fn atom(&mut self) -> Result<bool, String> {
        if self.tokens.get(self.pos) == Some(&Tok::Open) {
            self.pos += 1;
            let v = self.or()?;
            if self.tokens.get(self.pos) != Some(&Tok::Close) {
                return Err("marker: missing `)`".into());
            }
            self.pos += 1;
            return Ok(v);
        }
        let left = self.value()?;
        let op = match self.tokens.get(self.pos) {
            Some(Tok::Op(op)) => op.clone(),
            Some(Tok::Word(w)) if w == "in" => "in".into(),
            Some(Tok::Word(w)) if w == "not" => {
                self.pos += 1;
                if !self.peek_word("in") {
                    return Err("marker: `not` must be followed by `in`".into());
                }
                "not in".into()
            }
            other => return Err(format!("marker: expected an operator, found {other:?}")),
        };
        self.pos += 1;
        let right = self.value()?;
        self.compare(left, &op, right)
    }

    /// A value: `(true if it was a variable name, text)`.
    fn value(&mut self) -> Result<(Option<String>, String), String> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Str(s)) => Ok((None, s)),
            Some(Tok::Word(w)) if w == "extra" => Ok((Some(w), String::new())),
            Some(Tok::Word(w)) => {
                let v =
                    self.env.var(&w).ok_or_else(|| format!("marker: unknown variable {w:?}"))?;
                Ok((Some(w), v))
            }
            other => Err(format!("marker: expected a value, found {other:?}")),
        }
    }

    fn compare(
        &self,
        left: (Option<String>, String),
        op: &str,
        right: (Option<String>, String),
    ) -> Result<bool, String> {
        // `extra == "x"` asks whether extra x was requested (names compared normalised).
        if left.0.as_deref() == Some("extra") || right.0.as_deref() == Some("extra") {
            let wanted = normalize(if left.0.is_some() { &right.1 } else { &left.1 });
            let has = self.env.extras.contains(&wanted);
            return match op {
                "==" | "===" => Ok(has),
                "!=" => Ok(!has),
                _ => Err(format!("marker: operator {op:?} is not defined for `extra`")),
            };
        }
        let versiony = [&left.0, &right.0].iter().any(|v| {
            matches!(
                v.as_deref(),
                Some("python_version" | "python_full_version" | "implementation_version")
            )
        });
        let (l, r) = (left.1.as_str(), right.1.as_str());
        Ok(match op {
            "in" => r.contains(l),
            "not in" => !r.contains(l),
            "===" => l == r,
            _ if versiony => {
                let ord = compare_versions(l, r.trim_end_matches(".*"));
                match op {
                    "==" if r.ends_with(".*") => prefix_match(l, r.trim_end_matches(".*")),
                    "!=" if r.ends_with(".*") => !prefix_match(l, r.trim_end_matches(".*")),
                    "==" => ord == Ordering::Equal,
                    "!=" => ord != Ordering::Equal,
                    "<" => ord == Ordering::Less,
                    "<=" => ord != Ordering::Greater,
                    ">" => ord == Ordering::Greater,
                    ">=" => ord != Ordering::Less,
                    "~=" => ord != Ordering::Less && prefix_match(l, &compatible_prefix(r)),
                    _ => return Err(format!("marker: unknown operator {op:?}")),
                }
            }
            "==" => l == r,
            "!=" => l != r,
            "<" => l < r,
            "<=" => l <= r,
            ">" => l > r,
            ">=" => l >= r,
            _ => return Err(format!("marker: unknown operator {op:?}")),
        })
    }
}

fn release(v: &str) -> Vec<u64> {
    v.split('.')
        .map_while(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok())
        .collect()
}

/// Compares release segments numerically, padding with zeros (`3.11` == `3.11.0`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (a, b) = (release(a), release(b));
    for i in 0..a.len().max(b.len()) {
        match a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

fn prefix_match(v: &str, prefix: &str) -> bool {
    let (v, p) = (release(v), release(prefix));
    p.iter().enumerate().all(|(i, x)| v.get(i).unwrap_or(&0) == x)
}

fn compatible_prefix(v: &str) -> String {
    let r = release(v);
    r[..r.len().saturating_sub(1).max(1)].iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(m: &str, extras: &[&str]) -> bool {
        let extras: BTreeSet<String> = extras.iter().map(ToString::to_string).collect();
        evaluate(m, &Env { runtime: &Runtime::assumed(), extras: &extras }).unwrap()
    }

    #[test]
    fn platform_and_python_markers() {
        assert!(!eval("sys_platform == \"win32\"", &[]));
        assert!(eval("platform_system == 'Linux' and python_version >= '3.8'", &[]));
        assert!(!eval("python_version < \"3.11\"", &[]));
        assert!(eval(
            "python_version < \"3.11\" or (os_name == 'posix' and platform_machine != 'arm64')",
            &[]
        ));
        assert!(eval("python_full_version >= \"3.11.0\"", &[]));
        assert!(eval("python_version == \"3.11.*\"", &[]));
        assert!(eval("python_version ~= \"3.9\"", &[]));
        assert!(eval("'linux' in sys_platform", &[]));
        assert!(eval("\"win\" not in sys_platform", &[]));
    }

    #[test]
    fn extras_are_looked_up_normalised() {
        assert!(eval("extra == \"Tabular\"", &["tabular"]));
        assert!(!eval("extra == \"gcs\"", &["tabular"]));
        assert!(eval("python_version >= '3.8' and extra == 'gcs'", &["gcs"]));
    }

    #[test]
    fn bad_markers_are_errors() {
        let (extras, runtime) = (BTreeSet::new(), Runtime::assumed());
        let env = Env { runtime: &runtime, extras: &extras };
        assert!(evaluate("nonsense == 'x'", &env).is_err());
        assert!(evaluate("(python_version > '3'", &env).is_err());
    }
}
