//! Finishing a complete job: bounces for the permanent failures, a retry job for the deferred
//! recipients, then removing the job.
//!
//! Mailman's rules (mailman3.md §6): a permanent failure of a post to the members is a bounce,
//! recorded and scored by the bounce runner's rules (`runner::bounce::record`: probes,
//! disabling and the owners' notices follow from it); notices and owner mail are not scored. Deferred recipients are tried again in a retry job `<origin>.r<n>` in the
//! `deferred` stage, due after an exponential backoff (`[smtp] retry_initial_delay`, doubling,
//! at most `retry_max_delay`, never later than the deadline) and carrying the original deadline
//! (reception + `delivery_retry_period`). Once the deadline has passed, deferred recipients are
//! given up and treated like permanent failures.
//!
//! Every step can run again after a crash: failures are marked as recorded in the envelope
//! (`attrs.failures_recorded`) before the next step, so at worst the bounces of one job are
//! offered twice if the process dies between the store commit and that mark, and the events'
//! keys (`<job>/<index>`) make the second time a no-op; the retry job has a derived id, so creating it
//! again finds it; removal is last.

use std::time::Duration;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use mailcast_model::ListAddress;
use mailcast_spool::{Durability, EntryMeta, Outcome, OutcomeStatus, Progress, Stage};
use mailcast_store::BounceContext;

use crate::runner::bounce::judge::Finding;
use crate::runner::bounce::record::{Failure, record};
use serde_json::Value;
use tracing::{info, warn};

use crate::outbox::job::{FAILURES_RECORDED_KEY, JobAttrs, RcptLine};
use crate::outbox::write::{self, NewJob};
use crate::runner::RunnerContext;

/// What finishing a job decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Finished {
    /// Permanent failures (including deferrals given up at the deadline).
    pub failed: usize,
    /// Recipients handed to a retry job.
    pub retried: usize,
    /// Deferred recipients given up because the deadline passed.
    pub given_up: usize,
}

/// Finishes the job described by `meta`, whose `progress` is complete, at time `now`.
pub(super) async fn finish(
    ctx: &RunnerContext,
    meta: &EntryMeta,
    job: &JobAttrs,
    progress: Progress,
    now: Timestamp,
) -> anyhow::Result<Finished> {
    let past_deadline = now >= job.deadline()?;
    let mut failed: Vec<Outcome> = Vec::new();
    let mut deferred: Vec<String> = Vec::new();
    for (_, outcome) in progress.outcomes {
        match outcome.status {
            OutcomeStatus::Deferred { .. } if !past_deadline => deferred.push(outcome.recipient),
            _ => failed.push(outcome),
        }
    }
    let given_up = failed
        .iter()
        .filter(|o| matches!(o.status, OutcomeStatus::Deferred { .. }))
        .count();
    log_failures(meta, &failed);
    let already = meta.attrs.get(FAILURES_RECORDED_KEY) == Some(&Value::Bool(true));
    if job.scores_bounces() && !failed.is_empty() && !already {
        record_bounces(ctx, meta, job, &failed, now).await?;
        let (spool, id) = (ctx.spool.clone(), meta.id.clone());
        tokio::task::spawn_blocking(move || {
            spool.move_entry(
                &id,
                Stage::Outgoing,
                Stage::Outgoing,
                Durability::Sync,
                |m| {
                    m.attrs
                        .insert(FAILURES_RECORDED_KEY.to_owned(), Value::Bool(true));
                },
            )
        })
        .await
        .context("marking bounces as recorded panicked")??;
    }
    let retried = deferred.len();
    if !deferred.is_empty() {
        schedule_retry(ctx, meta, job, deferred, now).await?;
    }
    let (spool, id) = (ctx.spool.clone(), meta.id.clone());
    tokio::task::spawn_blocking(move || spool.remove(Stage::Outgoing, &id))
        .await
        .context("removing a finished job panicked")?
        .with_context(|| format!("cannot remove finished job {}", meta.id))?;
    Ok(Finished {
        failed: failed.len(),
        retried,
        given_up,
    })
}

/// The delay before retry number `retry` (1 for the first): `initial`, doubling each time, at
/// most `max`.
pub(super) fn backoff(retry: u32, initial: Duration, max: Duration) -> Duration {
    let doublings = retry.saturating_sub(1).min(31);
    initial.saturating_mul(1 << doublings).min(max)
}

/// Writes the retry job for `deferred` recipient lines into the `deferred` stage.
async fn schedule_retry(
    ctx: &RunnerContext,
    meta: &EntryMeta,
    job: &JobAttrs,
    deferred: Vec<String>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let next = job.next_retry();
    let id = job.next_retry_id()?;
    let smtp = &ctx.settings.smtp;
    let delay = backoff(next.retry, smtp.retry_initial_delay, smtp.retry_max_delay);
    let due = now
        .checked_add(SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
        .min(job.deadline()?);
    let (spool, job_id) = (ctx.spool.clone(), meta.id.clone());
    let snapshot = meta.clone();
    let body = tokio::task::spawn_blocking(move || spool.read_body_of(&snapshot))
        .await
        .context("reading a job's body panicked")?
        .with_context(|| format!("cannot read the body of job {job_id}"))?;
    let count = deferred.len();
    let new = NewJob {
        id: id.clone(),
        list: meta.list.clone(),
        mail_from: meta.mail_from.clone(),
        rcpt_to: meta.rcpt_to.clone(),
        received_at: meta.received_at,
        attrs: next,
        lines: deferred,
        body,
    };
    if write::write_job(
        &ctx.spool,
        ctx.outbox.limits(),
        new,
        Stage::Deferred,
        Some(due),
    )
    .await?
    .is_some()
    {
        info!(job = %meta.id, retry = %id, recipients = count, due = %due, "deferred recipients scheduled for retry");
    }
    Ok(())
}

/// Records each permanent failure of a post as a bounce of that address on the list, through
/// the bounce runner's rules (a refusal for the poster's domain policy is logged, not counted).
async fn record_bounces(
    ctx: &RunnerContext,
    meta: &EntryMeta,
    job: &JobAttrs,
    failed: &[Outcome],
    now: Timestamp,
) -> anyhow::Result<()> {
    let list = ListAddress::parse(&meta.list)
        .with_context(|| format!("job {} names no valid list ({:?})", meta.id, meta.list))?;
    let admin = ctx.admin();
    let list_ctx = match admin.list_context(&list).await {
        Ok(list_ctx) => list_ctx,
        // The list was removed since: there is nobody left to score.
        Err(crate::admin::AdminError::NoSuchList(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for (index, outcome) in failed.iter().enumerate() {
        let (code, text) = match &outcome.status {
            OutcomeStatus::Failed { code, text } | OutcomeStatus::Deferred { code, text } => {
                (*code, text.as_str())
            }
        };
        let reply = format!("{code} {text}");
        let finding = Finding {
            address: RcptLine::parse(&outcome.recipient).address.to_string(),
            class: mailcast_bounce::Class::Permanent,
            status: enhanced_status(text),
            policy: mailcast_bounce::poster_policy(&reply),
            diagnostic: Some(reply.chars().take(500).collect()),
            source: "smtp",
        };
        let failure = Failure {
            finding,
            context: BounceContext::Normal,
            at: now,
            message_id: job.message_id.clone(),
            key: format!("{}/{index}", meta.id),
            origin: meta.id.clone(),
            index,
            report: None,
        };
        record(&admin, &list_ctx, ctx.settings.smtp.verp_probes, failure)
            .await
            .with_context(|| format!("cannot record the bounce of {}", outcome.recipient))?;
    }
    Ok(())
}

/// The RFC 3463 status at the start of an SMTP reply text (`5.1.1 User unknown`).
fn enhanced_status(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    mailcast_bounce::classify_status(word).map(|_| word.to_string())
}

/// Mailman's `[logging.smtp] refused` line, one per recipient that will not get the message.
fn log_failures(meta: &EntryMeta, failed: &[Outcome]) {
    for outcome in failed {
        let (code, text) = match &outcome.status {
            OutcomeStatus::Failed { code, text } | OutcomeStatus::Deferred { code, text } => {
                (code, text)
            }
        };
        warn!(
            job = %meta.id,
            list = %meta.list,
            recipient = RcptLine::parse(&outcome.recipient).address,
            code,
            reply = %text,
            "delivery failed permanently"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let (initial, max) = (Duration::from_secs(60), Duration::from_secs(3600));
        let delays: Vec<u64> = (1..=9)
            .map(|n| backoff(n, initial, max).as_secs())
            .collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(0, initial, max).as_secs(), 60);
        assert_eq!(backoff(u32::MAX, initial, max).as_secs(), 3600);
    }
}
