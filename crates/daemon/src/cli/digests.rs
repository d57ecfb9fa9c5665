//! `mailcast digests [-l LIST]... [--send] [--bump] [--periodic] [--dry-run] [--verbose]`,
//! as Mailman's `mailman digests`: lists are named by posting address or List-Id, every list
//! when none is named; an unknown list is reported and skipped. Mailman prints only with
//! `--verbose`; without any action flag, mailcast prints each list's numbers and backlog.

use mailcast_model::ListAddress;

use super::DigestsArgs;
use crate::config::Settings;
use crate::digest::manual::{self, Request};

/// Runs `mailcast digests`.
pub async fn run(settings: Settings, args: DigestsArgs) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    let snapshot = admin.directory.snapshot();
    let mut lists = Vec::new();
    if args.lists.is_empty() {
        lists.extend(snapshot.lists().iter().map(|l| l.address.clone()));
    }
    for spec in &args.lists {
        let found = snapshot.lists().into_iter().find(|l| {
            let address: &ListAddress = &l.address;
            address.posting_address().eq_ignore_ascii_case(spec)
                || address.list_id().eq_ignore_ascii_case(spec)
        });
        match found {
            Some(info) => lists.push(info.address.clone()),
            None => eprintln!("No such list found: {spec}"),
        }
    }
    let request = Request {
        send: args.send,
        bump: args.bump,
        periodic: args.periodic,
        dry_run: args.dry_run,
    };
    let (reports, jobs) = manual::run(&admin, &lists, request).await?;
    let quiet = args.send || args.bump || args.periodic;
    for r in &reports {
        let id = r.list.list_id();
        if !quiet {
            println!(
                "{id}: volume {}, next number {}, {} post(s) waiting",
                r.before.volume, r.before.next_number, r.waiting
            );
            continue;
        }
        if !args.verbose {
            continue;
        }
        if let Some(bumped) = r.bumped {
            println!(
                "{id} is at volume {}, number {}",
                r.before.volume, r.before.next_number
            );
            println!(
                "{id} bumped to volume {}, number {}",
                bumped.volume, bumped.next_number
            );
        }
        if let Some((volume, number)) = r.sent {
            println!("{id} sent volume {volume}, number {number}");
        }
    }
    if args.verbose && jobs > 0 {
        println!("{jobs} digest job(s) queued");
    }
    admin.store.close().await;
    Ok(())
}
