//! What becomes of an archive entry that HyperKitty did not take: it stays in the `archive`
//! stage with the attempt counted, the error and the time of the next attempt in its
//! envelope (`attempts`, `last_error`, `not_before`, written durably before the runner lets
//! go of it, so a restart keeps the schedule), and the archivers already done in
//! `attrs.archived`. The delay is the runners' backoff (10 s doubling to 10 min).
//!
//! - A **transient** failure (no connection, a timeout, 5xx, 408, 429) is tried again until
//!   `[archiver.hyperkitty] max_attempts`; a **permanent** one (another 4xx) only
//!   [`PERMANENT_ATTEMPTS`] times in all, for a HyperKitty that is being reconfigured.
//! - Then the entry is **shunted** (the dead letters: `mailcast queue list shunt` shows it with
//!   its error, `mailcast queue retry <id>` sends it back to `archive` with the count reset;
//!   the archivers done stay done).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mailcast_spool::{Durability, EntryId, EntryMeta, Stage};
use serde_json::Value;
use tracing::{error, warn};

use crate::archive::hyperkitty::{Failure, FailureKind};
use crate::config::HyperKittySettings;
use crate::runner::RunnerContext;
use crate::runner::failure::{WHICHQ, backoff};

/// The attribute listing the archivers an entry has been archived by.
pub const ARCHIVED: &str = "archived";
/// Attempts in all for a post HyperKitty refuses (4xx other than 408 and 429).
pub const PERMANENT_ATTEMPTS: u32 = 3;

/// What became of an archive entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archived {
    /// Every archiver has it; the entry is removed.
    Done,
    /// An archiver did not take it yet: look at it again at this time.
    RetryAt(Instant),
    /// Moved to `shunt` for an operator.
    Shunted,
}

/// The archivers recorded as done for the entry.
pub fn done(meta: &EntryMeta) -> BTreeSet<String> {
    match meta.attrs.get(ARCHIVED) {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn done_value(done: &BTreeSet<String>) -> Value {
    Value::Array(done.iter().cloned().map(Value::String).collect())
}

/// When the entry may be tried again, if that is later than now (an entry found by a scan,
/// or after a restart, before its backoff ended).
pub fn not_yet(meta: &EntryMeta) -> Option<Instant> {
    let now = Timestamp::now();
    let at = meta.not_before.filter(|at| *at > now)?;
    let ahead = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
    Some(Instant::now() + ahead.min(Duration::from_secs(366 * 24 * 3600)))
}

/// Records `done` in the entry, durably (before the runner's failure path retries it).
pub async fn record_done(
    ctx: &RunnerContext,
    id: &EntryId,
    done: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let (id, value) = (id.clone(), done_value(done));
    ctx.on_spool(move |spool| {
        spool
            .move_entry(&id, Stage::Archive, Stage::Archive, Durability::Sync, |m| {
                m.attrs.insert(ARCHIVED.into(), value);
            })
            .map(drop)
    })
    .await
}

/// Counts a HyperKitty failure of the entry `id`, records `done`, and schedules the next
/// attempt or shunts the entry.
pub async fn defer(
    ctx: &RunnerContext,
    id: &EntryId,
    done: &BTreeSet<String>,
    failure: Failure,
    settings: &HyperKittySettings,
) -> anyhow::Result<Archived> {
    let limit = match failure.kind {
        FailureKind::Transient => settings.max_attempts,
        FailureKind::Permanent => PERMANENT_ATTEMPTS.min(settings.max_attempts),
    };
    let (id, value, reason) = (id.clone(), done_value(done), failure.to_string());
    let text = reason.clone();
    let (attempts, shunt) = ctx
        .on_spool(move |spool| {
            let attempts = spool
                .read_meta(Stage::Archive, &id)?
                .attempts
                .saturating_add(1);
            let shunt = attempts >= limit;
            let to = if shunt { Stage::Shunt } else { Stage::Archive };
            let retry_at = Timestamp::now()
                .checked_add(
                    SignedDuration::try_from(backoff(attempts)).unwrap_or(SignedDuration::MAX),
                )
                .ok();
            spool.move_entry(&id, Stage::Archive, to, Durability::Sync, |m| {
                m.attempts = attempts;
                m.last_error = Some(reason);
                m.attrs.insert(ARCHIVED.into(), value);
                if shunt {
                    m.not_before = None;
                    m.attrs
                        .insert(WHICHQ.into(), Stage::Archive.as_str().into());
                } else {
                    m.not_before = retry_at;
                }
            })?;
            Ok((attempts, shunt))
        })
        .await?;
    let kind = match failure.kind {
        FailureKind::Transient => "transient",
        FailureKind::Permanent => "permanent",
    };
    metrics::counter!("mailcast_archive_failures_total", "archiver" => "hyperkitty", "kind" => kind)
        .increment(1);
    if shunt {
        error!(error = %text, attempts, "HyperKitty did not take the post; entry shunted");
        return Ok(Archived::Shunted);
    }
    let delay = backoff(attempts);
    warn!(error = %text, attempts, retry_in = ?delay, "HyperKitty did not take the post; will retry");
    Ok(Archived::RetryAt(Instant::now() + delay))
}
