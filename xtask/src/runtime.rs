//! The runtime: the facts of a runtime image's own Python (version, platform, libc) that lock
//! markers and wheel tags are judged by. Pure data; `pipeline::probe` reads it from an image.

use serde::{Deserialize, Serialize};

/// What a runtime image's Python is, as markers and wheel tags see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runtime {
    pub python_full_version: String,
    pub implementation_name: String,
    pub platform_python_implementation: String,
    pub sys_platform: String,
    pub platform_system: String,
    pub platform_machine: String,
    /// The kernel's, as seen in a container: the build machine's.
    pub platform_release: String,
    pub platform_version: String,
    pub os_name: String,
    /// `glibc-2.36`, or empty where the C library is not glibc.
    pub libc: String,
}

impl Runtime {
    /// CPython 3.11 on glibc x86_64 Linux, as `python:3.11-slim` (bookworm) is: what a dry run
    /// assumes before the image has been read once.
    pub fn assumed() -> Runtime {
        Runtime {
            python_full_version: "3.11.2".into(),
            implementation_name: "cpython".into(),
            platform_python_implementation: "CPython".into(),
            sys_platform: "linux".into(),
            platform_system: "Linux".into(),
            platform_machine: "x86_64".into(),
            platform_release: "6.1.0".into(),
            platform_version: "#1 SMP".into(),
            os_name: "posix".into(),
            libc: "glibc-2.36".into(),
        }
    }

    /// What a dry run assumes of an image it has never read: the Python its `python:<X.Y>`
    /// tag names (its first release), else [`Runtime::assumed`].
    pub fn assumed_for(image: &str) -> Runtime {
        let tag = image.rsplit('/').next().and_then(|last| last.strip_prefix("python:"));
        let minor = tag.and_then(|t| t.strip_prefix("3.")).and_then(|t| {
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        match minor {
            Some(minor) => {
                Runtime { python_full_version: format!("3.{minor}.0"), ..Runtime::assumed() }
            }
            None => Runtime::assumed(),
        }
    }

    /// `3.11` of `3.11.2`: the venv layout and wheel tags use it.
    pub fn python_version(&self) -> String {
        self.python_full_version.split('.').take(2).collect::<Vec<_>>().join(".")
    }

    /// `11` of `3.11.2`.
    pub fn python_minor(&self) -> u32 {
        self.python_full_version.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0)
    }

    /// The glibc version as (major, minor), `None` for another C library.
    pub fn glibc(&self) -> Option<(u32, u32)> {
        let version = self.libc.strip_prefix("glibc-")?;
        let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
        Some((parts.next()??, parts.next()??))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_libc() {
        let r = Runtime::assumed();
        assert_eq!((r.python_version().as_str(), r.python_minor()), ("3.11", 11));
        assert_eq!(r.glibc(), Some((2, 36)));
        assert_eq!(Runtime { libc: "-".into(), ..r }.glibc(), None);
    }
}
