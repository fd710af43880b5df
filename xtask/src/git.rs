//! Every git call xtask makes. Paths are read with `-z`, so names with spaces, newlines or
//! non-ASCII letters come through as they are, never quoted; `core.fsmonitor` is off, so a
//! repository's config cannot make git run a program of its choosing.

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::{cmd, Shell};

/// The work tree at `root`, checked to be a git repository.
pub struct Git<'a> {
    sh: &'a Shell,
    root: &'a Utf8Path,
}

impl<'a> Git<'a> {
    /// Fails with what to do when `root` is not inside a git work tree.
    pub fn open(sh: &'a Shell, root: &'a Utf8Path) -> Result<Git<'a>> {
        let inside =
            cmd!(sh, "git -C {root} -c core.fsmonitor=false rev-parse --is-inside-work-tree")
                .quiet()
                .ignore_stderr()
                .read();
        if inside.map_or(true, |s| s.trim() != "true") {
            bail!(
                "{root} is not a git repository, and this command compares revisions; run it in \
                 a clone (`git init` and a first commit for a new repo)"
            );
        }
        Ok(Git { sh, root })
    }

    /// A commit that `rev` names, or an error saying whether the history is too shallow.
    pub fn verify_commit(&self, rev: &str) -> Result<()> {
        let (sh, root) = (self.sh, self.root);
        let commit = format!("{rev}^{{commit}}");
        if cmd!(sh, "git -C {root} -c core.fsmonitor=false rev-parse --verify --quiet {commit}")
            .quiet()
            .ignore_stdout()
            .run()
            .is_ok()
        {
            return Ok(());
        }
        let shallow =
            cmd!(sh, "git -C {root} -c core.fsmonitor=false rev-parse --is-shallow-repository")
                .quiet()
                .read();
        if shallow.unwrap_or_default().trim() == "true" {
            bail!(
                "revision {rev:?} is not in this shallow clone; fetch more history (`git fetch \
                 --deepen=50`, or `fetch-depth: 0` in actions/checkout) and run again"
            );
        }
        bail!("revision {rev:?} does not exist in this repository; pass a commit, branch or tag");
    }

    pub fn merge_base(&self, a: &str, b: &str) -> Result<String> {
        let (sh, root) = (self.sh, self.root);
        let out =
            cmd!(sh, "git -C {root} -c core.fsmonitor=false merge-base {a} {b}").quiet().read();
        out.with_context(|| format!("find the merge base of {a} and {b}"))
    }

    /// Files that differ between two commits (renames as a deletion and an addition).
    pub fn changed(&self, from: &str, to: &str) -> Result<Vec<String>> {
        let (sh, root) = (self.sh, self.root);
        split_z(
            &cmd!(sh, "git -C {root} -c core.fsmonitor=false diff --name-only --no-renames -z {from} {to}")
                .quiet()
                .output()?
                .stdout,
        )
    }

    /// Files of the work tree that differ from HEAD, tracked or not (ignored files left out).
    pub fn dirty(&self) -> Result<Vec<String>> {
        let (sh, root) = (self.sh, self.root);
        let mut out = split_z(
            &cmd!(
                sh,
                "git -C {root} -c core.fsmonitor=false diff --name-only --no-renames -z HEAD"
            )
            .quiet()
            .output()?
            .stdout,
        )?;
        let untracked = cmd!(
            sh,
            "git -C {root} -c core.fsmonitor=false ls-files --others --exclude-standard -z"
        )
        .quiet()
        .output()?;
        out.extend(split_z(&untracked.stdout)?);
        Ok(out)
    }

    /// Every file of `rev` with its blob id: `(path, object id)`.
    pub fn tree(&self, rev: &str) -> Result<Vec<(String, String)>> {
        let (sh, root) = (self.sh, self.root);
        let out =
            cmd!(sh, "git -C {root} -c core.fsmonitor=false ls-tree -r -z {rev}").quiet().output();
        let out = out.with_context(|| format!("list the files of {rev}"))?;
        let mut files = Vec::new();
        for entry in split_z(&out.stdout)? {
            // `<mode> <type> <object>\t<path>`
            let (meta, path) =
                entry.split_once('\t').with_context(|| format!("git ls-tree: {entry:?}"))?;
            let mut parts = meta.split(' ');
            if let (Some(_), Some("blob"), Some(id)) = (parts.next(), parts.next(), parts.next()) {
                files.push((path.to_string(), id.to_string()));
            }
        }
        Ok(files)
    }

    /// The contents of blobs, by object id, in one git call.
    pub fn blobs(&self, ids: &[&str]) -> Result<Vec<Vec<u8>>> {
        let (sh, root) = (self.sh, self.root);
        let request: String = ids.iter().map(|id| format!("{id}\n")).collect();
        let out = cmd!(sh, "git -C {root} -c core.fsmonitor=false cat-file --batch")
            .stdin(request)
            .quiet()
            .output()?;
        let mut bytes = out.stdout.as_slice();
        let mut blobs = Vec::with_capacity(ids.len());
        for _ in ids {
            let header_end =
                bytes.iter().position(|&b| b == b'\n').context("truncated git cat-file output")?;
            let header = String::from_utf8_lossy(&bytes[..header_end]).to_string();
            let size: usize = header
                .rsplit(' ')
                .next()
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("git cat-file: {header}"))?;
            let body = bytes
                .get(header_end + 1..header_end + 1 + size)
                .context("truncated git cat-file output")?;
            blobs.push(body.to_vec());
            bytes = bytes.get(header_end + 2 + size..).unwrap_or_default();
        }
        Ok(blobs)
    }

    /// `HEAD`'s commit id, `n` digits long (all of it when `None`).
    pub fn head(&self, short: Option<usize>) -> Result<String> {
        let (sh, root) = (self.sh, self.root);
        let out = match short {
            Some(n) => {
                let short = format!("--short={n}");
                cmd!(sh, "git -C {root} -c core.fsmonitor=false rev-parse {short} HEAD")
                    .quiet()
                    .read()
            }
            None => cmd!(sh, "git -C {root} -c core.fsmonitor=false rev-parse HEAD").quiet().read(),
        };
        out.context("read the commit HEAD names")
    }

    /// The last tag reachable from `HEAD` that looks like a version, the commits since it,
    /// `HEAD`'s id, and whether the work tree has changes.
    pub fn describe(&self) -> Result<(Option<String>, u64, String, bool)> {
        let (sh, root) = (self.sh, self.root);
        let head = self.head(None)?;
        // As setuptools-scm sees it: changes to tracked files only.
        let status = cmd!(
            sh,
            "git -C {root} -c core.fsmonitor=false status --porcelain --untracked-files=no"
        )
        .quiet()
        .read()?;
        let dirty = !status.trim().is_empty();
        let described = cmd!(
            sh,
            "git -C {root} -c core.fsmonitor=false describe --tags --long --match *[0-9]*"
        )
        .quiet()
        .ignore_stderr()
        .read();
        if let Ok(text) = described {
            // `<tag>-<distance>-g<hash>`; the tag itself may hold dashes.
            let mut parts = text.trim().rsplitn(3, '-');
            let (_, distance, tag) = (parts.next(), parts.next(), parts.next());
            if let (Some(tag), Some(distance)) = (tag, distance.and_then(|d| d.parse().ok())) {
                return Ok((Some(tag.to_string()), distance, head, dirty));
            }
        }
        let count = cmd!(sh, "git -C {root} -c core.fsmonitor=false rev-list --count HEAD")
            .quiet()
            .read()?;
        Ok((None, count.trim().parse().unwrap_or(0), head, dirty))
    }

    /// When `HEAD` was committed (seconds since the epoch).
    pub fn head_time(&self) -> Result<u64> {
        let (sh, root) = (self.sh, self.root);
        let out = cmd!(sh, "git -C {root} -c core.fsmonitor=false log -1 --format=%ct HEAD")
            .quiet()
            .read();
        out.context("read when HEAD was committed")?.trim().parse().context("a commit time")
    }

    /// The branch checked out, if any.
    pub fn branch(&self) -> Option<String> {
        let (sh, root) = (self.sh, self.root);
        cmd!(sh, "git -C {root} -c core.fsmonitor=false rev-parse --abbrev-ref HEAD")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()
    }

    /// A config value (`remote.origin.url`), if set.
    pub fn config(&self, key: &str) -> Option<String> {
        let (sh, root) = (self.sh, self.root);
        let out = cmd!(sh, "git -C {root} -c core.fsmonitor=false config --get {key}")
            .quiet()
            .ignore_stderr()
            .read();
        out.ok().filter(|s| !s.is_empty())
    }
}

/// NUL-separated git output as paths; git writes them raw with `-z`.
fn split_z(bytes: &[u8]) -> Result<Vec<String>> {
    bytes
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8(p.to_vec()).context("git printed a path that is not UTF-8"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn nul_separated_paths_keep_newlines_and_accents() {
        let out = b"libs/a/donn\xc3\xa9es.py\0libs/a/two\nlines.py\0";
        assert_eq!(super::split_z(out).unwrap(), vec!["libs/a/données.py", "libs/a/two\nlines.py"]);
    }
}
