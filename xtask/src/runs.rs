//! Which run of xtask started a container or a scratch folder, so that what a run killed with
//! `kill -9` left behind (containers still running, half-filled folders) can be removed by a
//! later run, and never what a live run uses.

use std::sync::OnceLock;

use fs_err as fs;

/// The label xtask puts on every container it starts.
pub const LABEL: &str = "xtask.run";

/// This process as `<pid>.<start time>`: the start time (in clock ticks since boot, from
/// /proc) tells a reused pid apart.
pub fn this_run() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}.{}", start_time(pid).unwrap_or(0))
    })
}

/// Whether the run `<pid>.<start time>` is still alive.
pub fn alive(run: &str) -> bool {
    let Some((pid, start)) = run.split_once('.') else { return true };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else { return true };
    start_time(pid).is_some_and(|s| s == start)
}

/// Field 22 of /proc/<pid>/stat, after the command name (which may hold spaces).
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_run_is_alive_and_a_gone_one_is_not() {
        assert!(alive(this_run()));
        assert!(!alive("4194304999.1"), "no such pid");
        let (pid, start) = this_run().split_once('.').unwrap();
        assert!(!alive(&format!("{pid}.{}", start.parse::<u64>().unwrap() + 1)), "a reused pid");
        assert!(alive("not-a-run"), "anything else is left alone");
    }
}
