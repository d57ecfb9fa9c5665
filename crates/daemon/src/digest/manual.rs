//! Digests on request: `mailcast digests` and REST `POST /lists/<id>/digest`, with the
//! semantics of Mailman's `mailman digests` (`commands/cli_digests.py`).
//!
//! - `bump`: the numbers move on as when a digest is sent (Mailman's same function, so the
//!   volume rolls only when the period changed), before anything is sent.
//! - `send`: every list's waiting posts go out now, whatever the size threshold.
//! - `periodic`: the same, only for lists with `digest_send_periodic`; with `send`, refused.
//! - `dry_run`: report what would happen and change nothing.
//!
//! The digests closed here are queued by this process; a running daemon sends the jobs.

use jiff::Timestamp;
use mailcast_model::ListAddress;
use mailcast_store::{DigestNumbers, DigestTrigger};

use crate::admin::{Admin, AdminError};

/// What to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// Send whatever waits.
    pub send: bool,
    /// Bump the numbers first.
    pub bump: bool,
    /// Send whatever waits on lists with `digest_send_periodic`.
    pub periodic: bool,
    /// Change nothing.
    pub dry_run: bool,
}

/// What happened to one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The list.
    pub list: ListAddress,
    /// The numbers before.
    pub before: DigestNumbers,
    /// The numbers after the bump, when bumped (or, dry, what they would be).
    pub bumped: Option<DigestNumbers>,
    /// The volume and number of the digest sent (or that would be), when one was.
    pub sent: Option<(u64, u64)>,
    /// Posts waiting before.
    pub waiting: u64,
}

/// Carries out `request` on `lists`; returns one report per list, and the jobs queued.
pub async fn run(
    admin: &Admin,
    lists: &[ListAddress],
    request: Request,
) -> Result<(Vec<Report>, usize), AdminError> {
    if request.send && request.periodic {
        return Err(AdminError::Invalid(
            "--send and --periodic flags cannot be used together".into(),
        ));
    }
    let mut reports = Vec::new();
    for list in lists {
        let info = admin.list_info(list).await?;
        let frequency = info.settings.digest_volume_frequency;
        let before = admin.store.digest_numbers(list).await?;
        let waiting = admin.store.digest_backlog(list).await?.posts;
        let mut report = Report {
            list: list.clone(),
            before,
            bumped: None,
            sent: None,
            waiting,
        };
        let mut current = before;
        if request.bump {
            let next = if request.dry_run {
                super::bumped(frequency, before, Timestamp::now())
            } else {
                admin
                    .store
                    .bump_digest(list, |n| super::bumped(frequency, n, Timestamp::now()))
                    .await?
            };
            report.bumped = Some(next);
            current = next;
        }
        let sends = request.send || (request.periodic && info.settings.digest_send_periodic);
        if sends && waiting > 0 {
            if request.dry_run {
                report.sent = Some((current.volume, current.next_number));
            } else {
                let issue = admin
                    .store
                    .close_digest(list, DigestTrigger::Force, |n, at| {
                        super::bumped(frequency, n, at)
                    })
                    .await?;
                report.sent = issue.map(|i| (i.volume, i.number));
            }
        }
        reports.push(report);
    }
    let jobs = if request.dry_run {
        0
    } else {
        super::send::send_closed(admin).await?.len()
    };
    Ok((reports, jobs))
}
