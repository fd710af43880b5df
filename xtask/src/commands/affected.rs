//! `cargo xtask affected --since <rev>`: the projects a change touches, each with its reasons.

use anyhow::Result;
use serde::Serialize;

use crate::cli::AffectedArgs;
use crate::pipeline::affected::{compute, Affected};
use crate::session::Session;

#[derive(Serialize)]
struct AffectedJson<'a> {
    affected: &'a [Affected],
}

pub fn run(session: &Session, args: &AffectedArgs) -> Result<()> {
    let list = compute(&session.sh, session.repo()?, &args.since, args.dirty)?;
    if args.json {
        return session.ui.print_json(&AffectedJson { affected: &list });
    }
    if list.is_empty() {
        println!("no project is affected by the changes since {}", args.since);
    }
    for a in &list {
        let first = &a.reasons[0];
        let why =
            if first.chain.is_empty() { "repo-wide".to_string() } else { first.chain.join(" -> ") };
        let more = if a.reasons.len() > 1 {
            format!(" (+{} more)", a.reasons.len() - 1)
        } else {
            String::new()
        };
        println!("{}  ({}: {why}){more}", a.path, first.changed);
    }
    Ok(())
}
