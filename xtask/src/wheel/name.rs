//! Distribution file names: wheels (PEP 427, with their tags) and sdists, parsed once.

use std::fmt;

use crate::model::names::PackageName;
use crate::runtime::Runtime;

/// A parsed wheel file name: `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`,
/// each tag field a `.`-separated set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub name: PackageName,
    pub version: String,
    pub build: Option<String>,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
    file: String,
}

impl WheelName {
    /// `None` for anything that is not a wheel file name.
    pub fn parse(file: &str) -> Option<WheelName> {
        let stem = file.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build) = match parts.len() {
            5 => (parts[0], parts[1], None),
            6 => (parts[0], parts[1], Some(parts[2].to_string())),
            _ => return None,
        };
        let tags = |i: usize| parts[i].split('.').map(str::to_string).collect::<Vec<_>>();
        let n = parts.len();
        Some(WheelName {
            name: PackageName::new(name),
            version: version.to_string(),
            build,
            python: tags(n - 3),
            abi: tags(n - 2),
            platform: tags(n - 1),
            file: file.to_string(),
        })
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// Whether the runtime's Python can install this wheel: its Python and ABI tags, and a
    /// platform tag of its machine whose glibc is not newer than the runtime's.
    pub fn fits(&self, runtime: &Runtime) -> bool {
        let (minor, machine) = (runtime.python_minor(), runtime.platform_machine.as_str());
        let glibc = runtime.glibc();
        let cp = format!("cp3{minor}");
        let abi3 = self.abi.iter().any(|a| a == "abi3");
        let py_ok = self.python.iter().any(|t| {
            t == "py3"
                || *t == format!("py3{minor}")
                || *t == cp
                || (abi3
                    && t.strip_prefix("cp3")
                        .and_then(|m| m.parse::<u32>().ok())
                        .is_some_and(|m| m <= minor))
        });
        let abi_ok = self.abi.iter().any(|a| a == "none" || a == "abi3" || *a == cp);
        let plat_ok = self.platform.iter().any(|p| {
            p == "any"
                || *p == format!("linux_{machine}")
                || (p.starts_with("manylinux") && p.ends_with(machine) && glibc_ok(p, glibc))
        });
        py_ok && abi_ok && plat_ok
    }

    /// How specific a fitting wheel is for its runtime, for choosing as pip does (its tag
    /// order puts `cp3X` before `abi3` before `py3`, and newer manylinux before older).
    pub fn specificity(&self, runtime: &Runtime) -> (u8, (u32, u32)) {
        let cp = format!("cp3{}", runtime.python_minor());
        let python = if self.abi.contains(&cp) {
            3
        } else if self.abi.iter().any(|a| a == "abi3") {
            2
        } else if self.platform.iter().any(|p| p != "any") {
            1
        } else {
            0
        };
        let glibc = self.platform.iter().filter_map(|p| glibc_needed(p)).max().unwrap_or((0, 0));
        (python, glibc)
    }
}

impl fmt::Display for WheelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)
    }
}

/// A manylinux tag the runtime's glibc can run: the legacy aliases need 2.5, 2.12 and 2.17;
/// `manylinux_X_Y` needs X.Y. None of them fits a runtime without glibc.
fn glibc_ok(plat: &str, glibc: Option<(u32, u32)>) -> bool {
    let Some(have) = glibc else { return false };
    glibc_needed(plat).is_some_and(|needs| needs <= have)
}

/// The glibc a manylinux platform tag needs.
fn glibc_needed(plat: &str) -> Option<(u32, u32)> {
    if plat.starts_with("manylinux1_") {
        Some((2, 5))
    } else if plat.starts_with("manylinux2010_") {
        Some((2, 12))
    } else if plat.starts_with("manylinux2014_") {
        Some((2, 17))
    } else {
        let mut it = plat.strip_prefix("manylinux_").unwrap_or_default().split('_');
        it.next().and_then(|m| m.parse().ok()).zip(it.next().and_then(|m| m.parse().ok()))
    }
}

/// Name and version of a source distribution file name (`name-1.0.tar.gz`, `.zip`).
pub fn sdist(file: &str) -> Option<(PackageName, String)> {
    let stem = file.strip_suffix(".tar.gz").or_else(|| file.strip_suffix(".zip"))?;
    let (name, version) = stem.rsplit_once('-')?;
    Some((PackageName::new(name), version.to_string()))
}

/// Name and version of a wheel or sdist file name.
pub fn dist(file: &str) -> Option<(PackageName, String)> {
    match WheelName::parse(file) {
        Some(w) => Some((w.name, w.version)),
        None => sdist(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(file: &str) -> bool {
        WheelName::parse(file).is_some_and(|w| w.fits(&Runtime::assumed()))
    }

    #[test]
    fn parses_names_versions_builds_and_tags() {
        let w = WheelName::parse("jaraco.classes-3.4.0-1-py3-none-any.whl").unwrap();
        assert_eq!((w.name.as_str(), w.version.as_str()), ("jaraco-classes", "3.4.0"));
        assert_eq!(w.build.as_deref(), Some("1"));
        let w = WheelName::parse("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(w.python, vec!["py2", "py3"]);
        assert!(WheelName::parse("six-1.16.0.tar.gz").is_none());
        assert!(WheelName::parse("six-py3-none-any.whl").is_none());
    }

    #[test]
    fn accepts_what_cpython_311_on_linux_installs() {
        assert!(fits("click-8.1.7-py3-none-any.whl"));
        assert!(fits("six-1.16.0-py2.py3-none-any.whl"));
        assert!(fits("numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"));
        assert!(fits("cryptography-43.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"));
    }

    #[test]
    fn rejects_other_pythons_platforms_and_newer_glibc() {
        assert!(!fits("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl"));
        assert!(!fits("numpy-2.1.0-cp311-cp311-win_amd64.whl"));
        assert!(!fits("numpy-2.1.0-cp311-cp311-musllinux_1_1_x86_64.whl"));
        assert!(!fits("numpy-2.1.0-cp311-cp311-manylinux_2_38_x86_64.whl"));
        assert!(!fits("numpy-2.1.0-cp311-cp311-manylinux_2_17_aarch64.whl"));
        assert!(!fits("numpy-2.1.0.tar.gz"));
    }

    #[test]
    fn sdist_and_any_dist_names() {
        let dist = |f: &str| dist(f).map(|(n, v)| (n.to_string(), v));
        assert_eq!(
            dist("poetry_core-2.5.0-py3-none-any.whl"),
            Some(("poetry-core".into(), "2.5.0".into()))
        );
        assert_eq!(dist("docopt-0.6.2.tar.gz"), Some(("docopt".into(), "0.6.2".into())));
        assert_eq!(dist("README"), None);
    }
}
