//! docker/toolchain.lock: every build environment (a Python minor and a set of build
//! requirements), resolved by the pinned uv and pinned to files by hash, and the uv itself.

use serde::{Deserialize, Serialize};

use crate::hash::Sha256;
use crate::model::names::{normalize, parse_requirement};

/// Bumped when the format changes; an older lock is refused with the fix.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolchainLock {
    pub version: u32,
    /// The uv wheel `lock --toolchain` and `lock` ran, pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uv: Option<LockedFile>,
    #[serde(default, rename = "env")]
    pub envs: Vec<LockedEnv>,
}

/// One build environment: a venv in the build image of its Python.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedEnv {
    /// `3.11`.
    pub python: String,
    /// The requirements it satisfies, canonical and sorted (see [`canonical`]).
    pub requires: Vec<String>,
    /// Who needs it, for people reading the lock: package folders, sdists, `tools`.
    #[serde(default)]
    pub used_by: Vec<String>,
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedDist>,
}

/// A pinned distribution and the files of it the lock allows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedDist {
    pub name: String,
    pub version: String,
    #[serde(rename = "file")]
    pub files: Vec<LockedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockedFile {
    pub name: String,
    pub url: String,
    pub sha256: String,
}

impl LockedEnv {
    /// Its id: the folder of its venv in the build image (`/opt/xtask-envs/<id>`).
    pub fn id(&self) -> String {
        env_id(&self.python, &self.requires)
    }
}

/// The id of the environment for `python` and `requires` (canonical).
pub fn env_id(python: &str, requires: &[String]) -> String {
    let text = format!("{python}\n{}", requires.join("\n"));
    Sha256::of(text.as_bytes()).short(12).to_string()
}

/// Requirements as one text per meaning: names normalized, spaces dropped from specifiers,
/// sorted and deduplicated, so `poetry-core >= 1.0` and `poetry_core>=1.0` are one env.
pub fn canonical(requires: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for text in requires {
        let r = parse_requirement(text)?;
        let mut s = normalize(&r.name);
        if !r.extras.is_empty() {
            s += &format!("[{}]", r.extras.join(","));
        }
        s += &r.spec.replace(' ', "");
        if let Some(m) = &r.markers {
            s += &format!("; {m}");
        }
        out.push(s);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

impl ToolchainLock {
    pub fn parse(text: &str) -> Result<ToolchainLock, String> {
        let lock: ToolchainLock =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        if lock.version != FORMAT {
            return Err(format!(
                "it is format {} and this xtask reads format {FORMAT}",
                lock.version
            ));
        }
        Ok(lock)
    }

    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("the toolchain lock serializes");
        format!(
            "# The build toolchain, pinned by hash: each environment is a venv in the build image of\n\
             # its Python, made offline from exactly these files. Written by `cargo xtask lock\n\
             # --toolchain`; run it again after changing a [build-system] or [toolchain].\n{body}"
        )
    }

    /// The environment for `python` and canonical `requires`.
    pub fn env(&self, python: &str, requires: &[String]) -> Option<&LockedEnv> {
        self.envs.iter().find(|e| e.python == python && e.requires == requires)
    }

    /// The environments of one Python, in id order (the build image's content).
    pub fn envs_of(&self, python: &str) -> Vec<&LockedEnv> {
        let mut envs: Vec<&LockedEnv> = self.envs.iter().filter(|e| e.python == python).collect();
        envs.sort_by_key(|e| e.id());
        envs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_requirements_are_one_env_and_the_lock_round_trips() {
        let a = canonical(&["poetry-core >= 1.0.0".into(), "wheel".into()]).unwrap();
        let b = canonical(&["wheel".into(), "Poetry_Core>=1.0.0".into()]).unwrap();
        assert_eq!(a, b);
        let lock = ToolchainLock {
            version: FORMAT,
            uv: None,
            envs: vec![LockedEnv {
                python: "3.11".into(),
                requires: a.clone(),
                used_by: vec!["libs/a".into()],
                packages: vec![LockedDist {
                    name: "poetry-core".into(),
                    version: "2.2.1".into(),
                    files: vec![LockedFile {
                        name: "poetry_core-2.2.1-py3-none-any.whl".into(),
                        url: "https://files.example/p.whl".into(),
                        sha256: "a".repeat(64),
                    }],
                }],
            }],
        };
        let again = ToolchainLock::parse(&lock.to_text()).unwrap();
        assert_eq!(again, lock);
        assert!(again.env("3.11", &b).is_some());
        assert!(ToolchainLock::parse("version = 0\n").unwrap_err().contains("format 0"));
    }
}
