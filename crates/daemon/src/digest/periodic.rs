//! The built-in periodic digests: what Mailman sites get from a cron job running `mailman
//! digests --periodic`. Once a day at `[digests] send_time` (UTC), each list with
//! `digest_send_periodic` on sends the posts that were waiting at that time.
//!
//! Stateless, so restarts and several nodes need no bookkeeping: a list is due when a post
//! has waited since before the latest send time, and the store closes its digest only if
//! that still holds under the list's row lock ([`DigestTrigger::WaitingSince`]). A daemon
//! that was down at the send time sends when it comes back.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use mailcast_store::{DigestIssue, DigestTrigger};
use tracing::warn;

use crate::admin::Admin;

/// The latest time of day `send_time` (UTC) at or before `now`.
pub fn latest_send_time(send_time: Time, now: Timestamp) -> Timestamp {
    let today = now
        .to_zoned_datetime(TimeZone::UTC)
        .date()
        .to_datetime(send_time);
    let at = today
        .to_zoned_datetime(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(now);
    if at <= now {
        at
    } else {
        at.checked_sub(SignedDuration::from_hours(24)).unwrap_or(at)
    }
}

/// Closes the digests due at the latest send time before `now`; returns them.
pub async fn close_due(admin: &Admin, now: Timestamp) -> anyhow::Result<Vec<DigestIssue>> {
    let since = latest_send_time(admin.settings().digests.send_time, now);
    let mut closed = Vec::new();
    for list in admin.store.lists_with_digest_waiting_since(since).await? {
        // The settings as stored now, not as this node's directory last saw them: a list
        // that has just turned its schedule off is not closed by a stale snapshot.
        let record = match admin.store.list(&list).await {
            Ok(record) => record,
            Err(e) => {
                warn!(%list, error = %e, "cannot read the list for its periodic digest");
                continue;
            }
        };
        if !record.settings.digest_send_periodic {
            continue;
        }
        let frequency = record.settings.digest_volume_frequency;
        let issue = admin
            .store
            .close_digest(&list, DigestTrigger::WaitingSince(since), |n, at| {
                super::bumped(frequency, n, at)
            })
            .await?;
        closed.extend(issue);
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_send_time_is_today_or_yesterday() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let six = Time::constant(6, 0, 0, 0);
        assert_eq!(
            latest_send_time(six, at("2026-12-07T12:00:00Z")),
            at("2026-12-07T06:00:00Z")
        );
        assert_eq!(
            latest_send_time(six, at("2026-12-07T05:59:59Z")),
            at("2026-12-06T06:00:00Z")
        );
        assert_eq!(
            latest_send_time(six, at("2026-12-07T06:00:00Z")),
            at("2026-12-07T06:00:00Z")
        );
        assert_eq!(
            latest_send_time(Time::midnight(), at("2027-01-01T00:30:00Z")),
            at("2027-01-01T00:00:00Z")
        );
    }
}
