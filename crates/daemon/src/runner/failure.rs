//! What happens when processing an entry fails: count the attempt, remember the error, retry
//! after a backoff, and after `[runner] max_attempts` move the entry to `shunt` for an
//! operator (`mailcast queue retry` moves it back to the stage named in `attrs.whichq`).
//!
//! An [`Unprocessable`] error (the list is gone, the message cannot be parsed) is shunted at
//! once: retrying cannot help. An entry the spool found corrupt has already been moved to
//! `corrupt`; an entry that vanished meanwhile (an operator deleted it) is left alone. This
//! module does not decide whether an error happened; the runners report it.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mailcast_spool::{Durability, EntryId, Stage};
use tracing::{error, warn};

use super::RunnerContext;
use super::board::Work;
use super::schedule::Verdict;

/// The attribute naming the stage a shunted entry came from (Mailman's `whichq`).
pub const WHICHQ: &str = "whichq";
/// The delay before the first retry; it doubles with each failed attempt.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// The longest delay between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// An entry that can never be processed as it is: it is shunted at once, with this reason.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Unprocessable {
    /// Why, for the operator (`last_error`).
    pub reason: String,
}

impl Unprocessable {
    /// The error for `reason`, ready for `?`.
    pub fn error(reason: impl Into<String>) -> anyhow::Error {
        Unprocessable {
            reason: reason.into(),
        }
        .into()
    }
}

/// The delay before retrying an entry that has failed `attempts` times (at least 1).
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    INITIAL_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// Records a failure of the entry `id` in `stage` and says what the scheduler does next.
pub(crate) async fn record(
    ctx: &RunnerContext,
    stage: Stage,
    id: &EntryId,
    err: &anyhow::Error,
) -> Verdict {
    let text = one_line(err);
    if let Some(mailcast_spool::Error::Corrupt { reason, .. }) = spool_error(err) {
        error!(%reason, "unreadable entry moved to the corrupt stage");
        return Verdict::Gone;
    }
    let permanent = err.chain().any(|e| e.is::<Unprocessable>());
    let max_attempts = ctx.settings.runner.max_attempts;
    let (id2, text2) = (id.clone(), text.clone());
    let moved = ctx
        .on_spool(move |spool| {
            let meta = spool.read_meta(stage, &id2)?;
            let attempts = meta.attempts.saturating_add(1);
            let shunt = permanent || attempts >= max_attempts;
            let retry_at = Timestamp::now()
                .checked_add(
                    SignedDuration::try_from(backoff(attempts)).unwrap_or(SignedDuration::MAX),
                )
                .ok();
            let to = if shunt { Stage::Shunt } else { stage };
            spool.move_entry(&id2, stage, to, Durability::Sync, |m| {
                m.attempts = attempts;
                m.last_error = Some(text2);
                if shunt {
                    m.not_before = None;
                    m.attrs.insert(WHICHQ.into(), stage.as_str().into());
                } else {
                    m.not_before = retry_at;
                }
            })?;
            Ok((attempts, shunt))
        })
        .await;
    match moved {
        Ok((attempts, true)) => {
            error!(error = %text, attempts, "entry moved to the shunt stage");
            count(stage, "shunted");
            Verdict::Gone
        }
        Ok((attempts, false)) => {
            let delay = backoff(attempts);
            warn!(error = %text, attempts, retry_in = ?delay, "processing failed; will retry");
            count(stage, "retry");
            Verdict::Wait(
                Work {
                    stage,
                    id: id.clone(),
                },
                Instant::now() + delay,
            )
        }
        Err(e) if spool_error(&e).is_some_and(mailcast_spool::Error::is_not_found) => {
            warn!(error = %text, "processing failed, and the entry is gone");
            Verdict::Gone
        }
        Err(e) => {
            // The failure could not even be recorded (a failing disk): try again later, without
            // counting, rather than lose track of the entry.
            let record_error = one_line(&e);
            error!(error = %text, %record_error, "cannot record a processing failure");
            Verdict::Wait(
                Work {
                    stage,
                    id: id.clone(),
                },
                Instant::now() + MAX_BACKOFF,
            )
        }
    }
}

fn count(stage: Stage, result: &'static str) {
    let stage = stage.as_str();
    metrics::counter!("mailcast_runner_failures_total", "stage" => stage, "result" => result)
        .increment(1);
}

fn spool_error(err: &anyhow::Error) -> Option<&mailcast_spool::Error> {
    err.chain()
        .find_map(|e| e.downcast_ref::<mailcast_spool::Error>())
}

fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let delays: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(backoff(0), INITIAL_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn unprocessable_is_found_through_context() {
        let err = Unprocessable::error("the list is gone").context("processing entry x");
        assert!(err.chain().any(|e| e.is::<Unprocessable>()));
        assert_eq!(one_line(&err), "processing entry x: the list is gone");
    }
}
