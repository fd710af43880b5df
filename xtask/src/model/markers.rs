//! PEP 508 environment markers, evaluated for a runtime as pip's `packaging` does, without I/O.
//!
//! Comparisons use PEP 440 (pep440_rs) whenever the right side with the operator makes a
//! version specifier and the left side a version, and Python's string operators otherwise;
//! `extra` is compared normalised (PEP 685) against each requested extra in turn; PEP 751's
//! `extras` and `dependency_groups` are sets. pep508_rs is not used for evaluation: it reduces
//! `python_full_version < '3.11.2.post1'` to `< '3.11.2'` (false for 3.11.2, where PEP 440 and
//! pip say true), and does not know `dependency_groups`.

use std::collections::BTreeSet;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier};

use super::names::normalize;
use crate::runtime::Runtime;

/// The environment markers are evaluated in, plus what the package was asked for.
pub struct Env<'a> {
    pub runtime: &'a Runtime,
    /// Extras requested of the package (normalised).
    pub extras: &'a BTreeSet<String>,
    /// Dependency groups being installed (PEP 751 locks), normalised.
    pub groups: &'a BTreeSet<String>,
}

/// A marker value: a variable's value or a literal.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    /// `extra`: compared against each requested extra.
    Extra,
    /// A set-valued variable (`extras`, `dependency_groups`).
    Set(BTreeSet<String>),
}

impl Env<'_> {
    fn var(&self, name: &str) -> Option<Value> {
        let r = self.runtime;
        let s = |v: &str| Some(Value::Str(v.to_string()));
        match name {
            "python_version" => s(&r.python_version()),
            "python_full_version" | "implementation_version" => s(&r.python_full_version),
            "sys_platform" => s(&r.sys_platform),
            "platform_system" => s(&r.platform_system),
            "os_name" => s(&r.os_name),
            "platform_machine" => s(&r.platform_machine),
            "platform_python_implementation" => s(&r.platform_python_implementation),
            "implementation_name" => s(&r.implementation_name),
            "platform_release" => s(&r.platform_release),
            "platform_version" => s(&r.platform_version),
            "extra" => Some(Value::Extra),
            "extras" => Some(Value::Set(self.extras.clone())),
            "dependency_groups" => Some(Value::Set(self.groups.clone())),
            _ => None,
        }
    }
}

/// Evaluates a marker expression; an error names what could not be read.
pub fn evaluate(marker: &str, env: &Env) -> Result<bool, String> {
    let tokens = tokenize(marker)?;
    let tree = Parser { tokens: &tokens, pos: 0, env }.parse(marker)?;
    // `extra` takes each requested extra in turn (none: the empty string), as pip does.
    let extras: Vec<&str> = if env.extras.is_empty() {
        vec![""]
    } else {
        env.extras.iter().map(String::as_str).collect()
    };
    extras
        .into_iter()
        .map(|extra| tree.eval(extra))
        .collect::<Result<Vec<bool>, String>>()
        .map(|v| v.contains(&true))
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
            '(' | ')' => {
                out.push(if c == '(' { Tok::Open } else { Tok::Close });
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

/// A parsed marker expression.
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Compare { left: Value, op: String, right: Value },
}

struct Parser<'a> {
    tokens: &'a [Tok],
    pos: usize,
    env: &'a Env<'a>,
}

impl Parser<'_> {
    fn parse(mut self, marker: &str) -> Result<Expr, String> {
        let expr = self.or()?;
        match self.tokens.get(self.pos) {
            None => Ok(expr),
            Some(t) => Err(format!("marker {marker:?}: unexpected {t:?}")),
        }
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut all = vec![self.and()?];
        while self.peek_word("or") {
            self.pos += 1;
            all.push(self.and()?);
        }
        Ok(if all.len() == 1 { all.remove(0) } else { Expr::Or(all) })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut all = vec![self.atom()?];
        while self.peek_word("and") {
            self.pos += 1;
            all.push(self.atom()?);
        }
        Ok(if all.len() == 1 { all.remove(0) } else { Expr::And(all) })
    }

    fn atom(&mut self) -> Result<Expr, String> {
        if self.tokens.get(self.pos) == Some(&Tok::Open) {
            self.pos += 1;
            let inner = self.or()?;
            if self.tokens.get(self.pos) != Some(&Tok::Close) {
                return Err("marker: missing `)`".into());
            }
            self.pos += 1;
            return Ok(inner);
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
        Ok(Expr::Compare { left, op, right })
    }

    fn value(&mut self) -> Result<Value, String> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Str(s)) => Ok(Value::Str(s)),
            Some(Tok::Word(w)) => {
                self.env.var(&w).ok_or_else(|| format!("marker: unknown variable {w:?}"))
            }
            other => Err(format!("marker: expected a value, found {other:?}")),
        }
    }
}

impl Expr {
    fn eval(&self, extra: &str) -> Result<bool, String> {
        Ok(match self {
            Expr::Or(all) => {
                all.iter().map(|e| e.eval(extra)).collect::<Result<Vec<_>, _>>()?.contains(&true)
            }
            Expr::And(all) => {
                !all.iter().map(|e| e.eval(extra)).collect::<Result<Vec<_>, _>>()?.contains(&false)
            }
            Expr::Compare { left, op, right } => compare(left, op, right, extra)?,
        })
    }
}

fn compare(left: &Value, op: &str, right: &Value, extra: &str) -> Result<bool, String> {
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::Str(s) => Some(s.clone()),
            Value::Extra => Some(extra.to_string()),
            Value::Set(_) => None,
        }
    };
    // `'x' in extras`: set membership, names normalised.
    if let Value::Set(set) = right {
        let member = text(left).is_some_and(|l| set.contains(&normalize(&l)));
        return match op {
            "in" => Ok(member),
            "not in" => Ok(!member),
            _ => Err(format!("marker: operator {op:?} is not defined for a set")),
        };
    }
    let (Some(mut l), Some(mut r)) = (text(left), text(right)) else {
        return Err("marker: a set can only be the right side of `in`".into());
    };
    if matches!(left, Value::Extra) || matches!(right, Value::Extra) {
        (l, r) = (normalize(&l), normalize(&r));
    }
    if !matches!(op, "in" | "not in" | "===") {
        if let (Ok(spec), Ok(version)) =
            (VersionSpecifier::from_str(&format!("{op}{r}")), Version::from_str(&l))
        {
            return Ok(spec.contains(&version));
        }
    }
    Ok(match op {
        "in" => r.contains(&l),
        "not in" => !r.contains(&l),
        "==" | "===" => l == r,
        "!=" => l != r,
        "<" => l < r,
        "<=" => l <= r,
        ">" => l > r,
        ">=" => l >= r,
        _ => return Err(format!("marker: operator {op:?} needs versions on both sides")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(m: &str, extras: &[&str]) -> bool {
        let extras: BTreeSet<String> = extras.iter().map(ToString::to_string).collect();
        let groups = BTreeSet::from(["dev".to_string()]);
        evaluate(m, &Env { runtime: &Runtime::assumed(), extras: &extras, groups: &groups })
            .unwrap()
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
        assert!(eval("'3.8' <= python_version", &[]), "the variable may be on the right");
    }

    #[test]
    fn the_cases_a_hand_written_evaluator_got_wrong() {
        assert!(
            eval("python_full_version < '3.11.2.post1'", &[]),
            "3.11.2 comes before its post-release"
        );
        assert!(eval("python_version >= \" 3.8\"", &[]), "a space after the operator");
        assert!(eval("'gcs' in extra", &["gcs"]) && !eval("'gcs' in extra", &[]));
        assert!(eval("platform_release >= '5'", &[]), "platform_release is read from the image");
        assert!(
            eval("'dev' in dependency_groups", &[]) && !eval("'docs' in dependency_groups", &[])
        );
        assert!(eval("'tabular' in extras", &["tabular"]));
    }

    #[test]
    fn extras_are_looked_up_normalised() {
        assert!(eval("extra == \"Tabular\"", &["tabular"]));
        assert!(!eval("extra == \"gcs\"", &["tabular"]));
        assert!(eval("python_version >= '3.8' and extra == 'gcs'", &["gcs", "other"]));
        assert!(!eval("extra == 'gcs'", &[]));
    }

    #[test]
    fn bad_markers_are_errors() {
        let (extras, groups, runtime) = (BTreeSet::new(), BTreeSet::new(), Runtime::assumed());
        let env = Env { runtime: &runtime, extras: &extras, groups: &groups };
        assert!(evaluate("nonsense == 'x'", &env).is_err());
        assert!(evaluate("(python_version > '3'", &env).is_err());
    }
}
