//! Which run of xtask started a container or a scratch folder, and whether that run is still
//! alive, so that what a run killed with `kill -9` left behind (containers still running,
//! half-filled folders) is removed by a later run, and never what a live run uses.
//!
//! A run that starts containers or makes scratch folders holds a lock on a file of its own in
//! the cache's `runs/` folder until it ends (the kernel releases it when the process dies, with
//! or without cleanup). Liveness is that lock: it holds across PID namespaces, containers and
//! machines sharing the cache, where process ids do not. A run whose lock file is not in this
//! cache (another cache, another host) is never taken for dead.

use std::sync::OnceLock;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use fs_err as fs;

use crate::files::open_lock;

/// The label xtask puts on every container it starts.
pub const LABEL: &str = "xtask.run";

/// This run's id: `<pid>-<nanoseconds>`, unique on this machine.
pub fn this_run() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| format!("{}-{}", std::process::id(), crate::files::nanos()))
}

/// Registers this run in `dir` (once per process): its lock file, held until the process ends.
pub fn register(dir: &Utf8Path) -> Result<()> {
    if HELD.get().is_some() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.lock", this_run()));
    let file = open_lock(&path)?;
    file.file().lock()?;
    let _ = HELD.set((path, file));
    Ok(())
}

/// This run's lock file and its open handle, once registered.
static HELD: OnceLock<(Utf8PathBuf, fs::File)> = OnceLock::new();

/// Called when the run ends without being killed: every container it started has been waited
/// for, so its lock file goes unless it left a scratch folder behind. Later runs then find no
/// dead run and skip the sweep (a `ps` call on the engine) altogether.
pub fn finish() {
    let Some((path, _)) = HELD.get() else { return };
    let Some(dir) = path.parent() else { return };
    if !leftovers(dir).iter().any(|run| run == this_run()) {
        let _ = fs::remove_file(path);
    }
}

/// Whether a run registered in `dir` has died: only such a run can have left containers or
/// folders behind.
pub fn any_dead(dir: &Utf8Path) -> bool {
    let Ok(entries) = dir.read_dir_utf8() else { return false };
    entries
        .filter_map(Result::ok)
        .any(|e| e.file_name().strip_suffix(".lock").is_some_and(|run| !alive(dir, run)))
}

/// Whether `run` may still be alive: its lock in `dir` is held, or it never registered here.
pub fn alive(dir: &Utf8Path, run: &str) -> bool {
    if run == this_run() {
        return true;
    }
    let path = dir.join(format!("{run}.lock"));
    if !path.is_file() || run.contains(['/', '\0']) {
        return true;
    }
    let Ok(file) = open_lock(&path) else { return true };
    file.file().try_lock().is_err()
}

/// Removes the lock files of dead runs that left nothing behind in the cache's `tmp/` (a
/// sibling of `dir`). Called after the containers of dead runs are removed: a lock file
/// removed earlier would make the run look as if it never registered here.
pub fn forget_dead(dir: &Utf8Path) {
    let Ok(entries) = dir.read_dir_utf8() else { return };
    let leftovers = leftovers(dir);
    for entry in entries.filter_map(Result::ok) {
        let Some(run) = entry.file_name().strip_suffix(".lock") else { continue };
        if !leftovers.iter().any(|l| l == run) && !alive(dir, run) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The runs that own a folder in the cache's `tmp/` (a sibling of `dir`).
fn leftovers(dir: &Utf8Path) -> Vec<String> {
    dir.parent()
        .and_then(|cache| cache.join("tmp").read_dir_utf8().ok())
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.ok()?.file_name().rsplit_once('~')?.1.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_run_is_alive_and_a_dead_one_is_not() {
        let dir = crate::testing::temp_dir("runs");
        register(&dir).unwrap();
        assert!(alive(&dir, this_run()));
        assert!(!any_dead(&dir), "only this live run is registered: nothing to sweep");
        // A lock file nobody holds: a run that died.
        fs::write(dir.join("123-456.lock"), "").unwrap();
        assert!(!alive(&dir, "123-456"));
        assert!(any_dead(&dir));
        forget_dead(&dir);
        assert!(!any_dead(&dir));
        assert!(!dir.join("123-456.lock").exists(), "a dead run's lock file is removed");
        assert!(dir.join(format!("{}.lock", this_run())).exists(), "a live one's is not");
        // A run that never registered here (another cache, another host) is left alone.
        assert!(alive(&dir, "999-1"));
        fs::remove_dir_all(dir).unwrap();
    }
}
