//! setuptools packages: a name, version and requirements from `setup.cfg`, or from the literal
//! keyword arguments of `setup(…)` in `setup.py`, read without running anything.

/// What a setuptools package declares, where it declares it statically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setup {
    pub name: Option<String>,
    pub version: Option<String>,
    pub install_requires: Vec<String>,
    /// Where the name was found: `setup.cfg [metadata] name` or `setup.py setup(name=…)`.
    pub key: &'static str,
}

/// `[metadata] name, version` and `[options] install_requires` (one per line) of a setup.cfg.
/// A version read from elsewhere (`attr:`, `file:`) is not static: `None`.
pub fn parse_cfg(text: &str) -> Setup {
    let mut setup = Setup { key: "setup.cfg [metadata] name", ..Setup::default() };
    let mut section = String::new();
    let mut key = String::new();
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or(raw);
        if line.trim().is_empty() || line.trim_start().starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            key.clear();
            continue;
        }
        // An indented line continues the previous key's value.
        if raw.starts_with([' ', '\t']) {
            if section == "options" && key == "install_requires" {
                setup.install_requires.push(line.trim().to_string());
            }
            continue;
        }
        let Some((k, v)) = line.split_once(['=', ':']) else { continue };
        key = k.trim().replace('-', "_");
        let value = v.trim().to_string();
        match (section.as_str(), key.as_str()) {
            ("metadata", "name") => setup.name = Some(value),
            ("metadata", "version")
                if !value.starts_with("attr:") && !value.starts_with("file:") =>
            {
                setup.version = Some(value);
            }
            ("options", "install_requires") => {
                setup.install_requires.extend(
                    value.split(';').map(str::trim).filter(|r| !r.is_empty()).map(str::to_string),
                );
            }
            _ => {}
        }
    }
    setup
}

/// The literal `name=`, `version=` and `install_requires=[…]` arguments of `setup(…)`;
/// `None` when the file calls no `setup(…)` (it declares no package). Computed values are not
/// read (`None`, or an empty list).
pub fn parse_py(text: &str) -> Option<Setup> {
    let mut setup = Setup { key: "setup.py setup(name=…)", ..Setup::default() };
    let call = text.find("setup(").map(|at| &text[at + "setup(".len()..])?;
    setup.name = keyword_string(call, "name");
    setup.version = keyword_string(call, "version");
    if let Some(list) = keyword_list(call, "install_requires") {
        setup.install_requires = list;
    }
    Some(setup)
}

/// `key = "literal"` (either quote) among keyword arguments.
fn keyword_string(call: &str, key: &str) -> Option<String> {
    let value = keyword_value(call, key)?;
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = value[1..].find(quote)?;
    Some(value[1..1 + end].to_string())
}

/// `key = ["a", 'b>=1']`: only a list of string literals.
fn keyword_list(call: &str, key: &str) -> Option<Vec<String>> {
    let value = keyword_value(call, key)?;
    let inner = value.strip_prefix('[')?;
    let end = inner.find(']')?;
    let mut items = Vec::new();
    for item in inner[..end].split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let quote = item.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        items.push(item.strip_prefix(quote)?.strip_suffix(quote)?.to_string());
    }
    Some(items)
}

/// The text after `key =` in a call's keyword arguments, whitespace skipped.
fn keyword_value<'a>(call: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = call;
    while let Some(at) = rest.find(key) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + key.len()..].trim_start();
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
            if let Some(value) = after.strip_prefix('=').filter(|v| !v.starts_with('=')) {
                return Some(value.trim_start());
            }
        }
        rest = &rest[at + key.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_cfg_metadata_and_requirements() {
        let s = parse_cfg(
            "[metadata]\nname = alpha\nversion = 0.2.0\n\n[options]\npackages = find:\ninstall_requires =\n    six>=1.16\n    tabulate ; python_version >= '3.8'\n",
        );
        assert_eq!((s.name.as_deref(), s.version.as_deref()), (Some("alpha"), Some("0.2.0")));
        assert_eq!(s.install_requires, vec!["six>=1.16", "tabulate ; python_version >= '3.8'"]);
        assert_eq!(
            parse_cfg("[metadata]\nname = a\nversion = attr: a.__version__\n").version,
            None
        );
    }

    #[test]
    fn setup_py_literal_keywords() {
        let s = parse_py("from setuptools import setup\n\nsetup(\n    name=\"beta\",\n    version='0.3.0',\n    packages=['beta'],\n    install_requires=[\"six\", 'click>=8'],\n)\n").unwrap();
        assert_eq!((s.name.as_deref(), s.version.as_deref()), (Some("beta"), Some("0.3.0")));
        assert_eq!(s.install_requires, vec!["six", "click>=8"]);
        let computed = parse_py("setup(name=NAME, version=get_version())\n").unwrap();
        assert_eq!((computed.name, computed.version), (None, None));
        assert_eq!(
            parse_py("setup(package_name='x', name='y')").unwrap().name.as_deref(),
            Some("y")
        );
        assert!(parse_py("print('not a setup script')\n").is_none());
    }
}
