//! The outgoing runner: delivery jobs, fan-out to the relay, retries, and crash-safe progress.
//!
//! A delivery job (DESIGN.md §5) is one body, a file of recipient lines and a progress log in
//! the spool, with what this runner needs to know in `attrs.job` ([`crate::outbox::job`]). Its life:
//!
//! 1. **Created** in `outgoing` by [`create_post_job`] (a processed post to the members, or
//!    `-owner` mail to the owners and moderators) or by the [`crate::outbox`] (mail mailcast
//!    generated), under an id derived from its parent so that a re-run finds it.
//! 2. **Sent** by [`process`]: the batches not yet recorded go out concurrently ([`fanout`]),
//!    as bulk transactions ([`bulk`]: `[smtp] max_recipients` per batch, envelope sender
//!    `LIST-bounces@HOST`) or one rendered copy per recipient ([`personalized`]: lists with
//!    `personalize`, and VERP, [`mode`] decides), each batch recorded durably when complete.
//! 3. **Finished** ([`retry`]): permanent failures of posts become member bounces, deferred
//!    recipients a retry job `<origin>.r<n>` in `deferred` (exponential backoff, original
//!    deadline), given up after `delivery_retry_period`; then the job is removed.
//!
//! Outcomes follow Mailman (the outbound crate's `trouble` module classifies them): 2xx
//! delivered; 4xx, 552 and connection trouble deferred; other 5xx failed.
//!
//! **Crash safety.** After `kill -9`, [`process`] resumes with the batches whose progress line
//! is not durable. The duplicates are the batches in flight at the crash: at most one per
//! connection (`[smtp] max_connections`), see [`fanout`]. Finishing is idempotent (see
//! [`retry`]); the scheduler does not send a job while its parent entry is still in
//! `incoming` or `held`.
//!
//! Metrics: `mailcast_recipients_total{result=delivered|deferred|failed}`,
//! `mailcast_delivery_job_seconds` (per [`process`] call) and
//! `mailcast_delivery_transaction_seconds`; one `delivery` tracing span per job.
//!
//! Not here: choosing which entries to process and when (the scheduler), bounce *processing*
//! (probes, disabling members: the bounce runner), MX lookups. ARC sealing
//! ([`crate::arc::Sealer`]) and DKIM signing ([`crate::dkim`]) happen here, after all
//! decoration, seal first: once per bulk job, per copy for personalized jobs.

mod bulk;
mod create;
mod fanout;
pub mod mode;
mod personalized;
mod retry;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use jiff::Timestamp;
use mailcast_model::{EmailAddress, ListAddress};
use mailcast_pipeline::personalize::Personalizer;
use mailcast_spool::{EntryId, EntryMeta, Stage};
use tracing::{Instrument, info, info_span, warn};

use crate::outbox::job::{JobAttrs, JobKind, Mode};
use crate::runner::RunnerContext;
use bulk::Bulk;
use fanout::Copies;
use personalized::Personalized;

pub use create::create_post_job;
pub use mode::{DeliveryPlan, plan_for_post};

/// Who a post or owner mail goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The list's regular-delivery members with delivery enabled, except `exclude_sender`
    /// (the poster, when their `receive_own_postings` is off).
    Members {
        /// The poster to leave out, if any.
        exclude_sender: Option<EmailAddress>,
    },
    /// The owners and moderators with delivery enabled (the site owner if there are none).
    OwnersAndModerators,
}

/// Delivers the rest of job `id`, which is in the `outgoing` stage, and finishes it (bounces,
/// retry job, removal). When the daemon shuts down mid-way it returns `Ok(())` with the job
/// still in `outgoing`; the next start resumes it. Delivery failures are data, not errors:
/// `Err` means the spool or the store failed, and the scheduler retries the job later.
pub async fn process(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<()> {
    let started = Instant::now();
    let meta = {
        let job_id = id.clone();
        ctx.on_spool(move |spool| spool.read_meta(Stage::Outgoing, &job_id))
            .await
            .with_context(|| format!("cannot read delivery job {id}"))?
    };
    let job = JobAttrs::from_attrs(&meta.attrs).with_context(|| format!("delivery job {id}"))?;
    let span = info_span!(
        "delivery",
        job = %id,
        list = %meta.list,
        kind = ?job.kind,
        mode = ?job.mode,
        retry = job.retry,
    );
    let result = deliver(ctx, &meta, &job).instrument(span).await;
    metrics::histogram!("mailcast_delivery_job_seconds").record(started.elapsed().as_secs_f64());
    result
}

async fn deliver(ctx: &RunnerContext, meta: &EntryMeta, job: &JobAttrs) -> anyhow::Result<()> {
    let started = Instant::now();
    let body: Arc<[u8]> = {
        let snapshot = meta.clone();
        ctx.on_spool(move |spool| spool.read_body_of(&snapshot))
            .await
            .with_context(|| format!("cannot read the body of job {}", meta.id))?
            .into()
    };
    let copies = copies(ctx, meta, job, body).await?;
    let workers = ctx.relay.config().max_connections;
    let tally = fanout::deliver_pending(
        &ctx.spool,
        &ctx.relay,
        &meta.id,
        copies,
        workers,
        &ctx.shutdown,
    )
    .await?;
    let progress = {
        let id = meta.id.clone();
        ctx.on_spool(move |spool| spool.progress(&id)).await?
    };
    if !progress.is_complete() {
        if ctx.shutdown.is_cancelled() {
            info!(
                ?tally,
                pending = progress.pending().len(),
                "delivery interrupted by shutdown; the job resumes at the next start"
            );
            return Ok(());
        }
        anyhow::bail!("job {} still has pending batches after delivery", meta.id);
    }
    let finished = retry::finish(ctx, meta, job, progress, Timestamp::now()).await?;
    info!(
        delivered = tally.delivered,
        deferred = tally.deferred,
        failed = tally.failed,
        transactions = tally.transactions,
        retried = finished.retried,
        given_up = finished.given_up,
        seconds = started.elapsed().as_secs_f64(),
        "delivery job finished"
    );
    Ok(())
}

/// How the copies of this job are made.
async fn copies(
    ctx: &RunnerContext,
    meta: &EntryMeta,
    job: &JobAttrs,
    body: Arc<[u8]>,
) -> anyhow::Result<Copies> {
    let list = ListAddress::parse(&meta.list)
        .with_context(|| format!("job {} names no valid list ({:?})", meta.id, meta.list));
    // `d=` is the list's domain; mail of a domain without a key goes out unsigned.
    let dkim = list
        .as_ref()
        .ok()
        .and_then(|list| ctx.dkim.for_domain(list.domain().as_str()));
    // ARC seals forwarded mail (posts, owner mail) that validation marked as ours; the seal
    // comes after all decoration and before the DKIM signature.
    let arc = match job.kind {
        JobKind::Post | JobKind::Owner => ctx.arc.as_ref().map(|arc| arc.sealer.clone()),
        JobKind::Notice | JobKind::Digest => None,
    };
    if job.mode == Mode::Bulk {
        // One seal and one signature for the whole job: every batch sends these bytes.
        let body = match arc.map(|sealer| sealer.seal(&body)) {
            Some(Ok(Some(sealed))) => sealed.into(),
            Some(Err(err)) => {
                warn!(error = %err, "sending the job without an ARC seal");
                body
            }
            Some(Ok(None)) | None => body,
        };
        let body = match dkim.map(|signer| signer.sign(&body)) {
            Some(Ok(signed)) => signed.into(),
            Some(Err(err)) => {
                warn!(error = %err, "sending the job unsigned");
                body
            }
            None => body,
        };
        return Ok(Copies::Bulk(Bulk {
            mail_from: meta.mail_from.clone(),
            body,
        }));
    }
    let list = list?;
    // A digest has its own footer and is never decorated per member (Mailman's
    // `isdigest`): its copies differ only in their VERP envelope sender.
    let personalizer = match job.kind {
        JobKind::Digest => None,
        _ => personalizer(ctx, &list, &body).await?,
    };
    Ok(Copies::Personalized(Box::new(Personalized {
        list,
        mail_from: meta.mail_from.clone(),
        verp: job.verp,
        personalizer,
        body,
        // Only a post's copies go to members who can be unsubscribed by it.
        one_click: (job.kind == JobKind::Post)
            .then(|| ctx.one_click.clone())
            .flatten(),
        arc,
        dkim,
    })))
}

/// The renderer for a personalized job, or `None` (copies go out as stored) when the list is
/// gone or the body does not parse.
async fn personalizer(
    ctx: &RunnerContext,
    list: &ListAddress,
    body: &[u8],
) -> anyhow::Result<Option<Personalizer>> {
    let snapshot = ctx.directory.snapshot();
    let Some(info) = snapshot.list(list) else {
        warn!("the list is gone; sending the copies without per-recipient decoration");
        return Ok(None);
    };
    let context = ctx.posting.context(&info, snapshot.change_counter).await?;
    Ok(match Personalizer::new(body, &context) {
        Ok(personalizer) => Some(personalizer),
        Err(err) => {
            warn!(error = %err, "cannot prepare per-recipient copies; sending the body as stored");
            None
        }
    })
}
