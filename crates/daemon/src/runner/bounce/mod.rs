//! The bounce runner: mail to `-bounces` and `-bounces+...` (Mailman's `bounce` runner). It
//! consumes the `bounces` stage.
//!
//! For each entry: if the list's `process_bounces` is off, the entry is dropped (logged).
//! Otherwise the envelope recipient is decoded as VERP (`mailcast_bounce::verp`), the message
//! is read by `mailcast_bounce::analyse`, and [`judge`] combines the two into the failed
//! addresses. Each is recorded ([`record`]: event log, Mailman's score rules of [`rules`] under
//! the member's row lock, owners' notices, probes). A message that is no bounce at all is
//! dropped; one nobody can read goes to the owners or the site owner, or nowhere, as
//! `forward_unrecognized_bounces_to` says. The entry is removed last, after every mail it
//! caused exists.
//!
//! Permanent failures at delivery time take the same [`record`] path (from
//! `runner::outgoing::retry`). The warnings, removals and stale scores are [`scheduled`].

pub(crate) mod judge;
pub(crate) mod record;
pub(crate) mod rules;
pub(crate) mod scheduled;

use jiff::Timestamp;
use mailcast_bounce::verp;
use mailcast_model::settings::UnrecognizedBounceDisposition;
use mailcast_pipeline::message::Message;
use mailcast_spool::{EntryId, Stage};
use mailcast_store::BounceContext;
use tracing::{info, warn};

use super::RunnerContext;
use super::board::Work;
use super::list_entry::{self, ListEntry};
use crate::outbox::bounces::ForwardTo;
use judge::{Judgement, judge};
use record::{Failure, record};

/// Processes the bounce entry `id`; returns the mail it queued.
pub(crate) async fn process(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<Vec<Work>> {
    let ListEntry {
        meta,
        body,
        list,
        list_ctx,
    } = list_entry::read(ctx, Stage::Bounces, id).await?;
    let Some(list_ctx) = list_ctx else {
        info!("a bounce for a list that no longer exists dropped");
        remove(ctx, id).await?;
        return Ok(Vec::new());
    };
    let admin = ctx.admin();
    let settings = list_ctx.settings();
    let mut queued = Vec::new();
    if !settings.process_bounces {
        info!("process_bounces is off; bounce dropped");
        metrics::counter!("mailcast_bounces_total", "class" => "not_processed").increment(1);
        remove(ctx, id).await?;
        return Ok(Vec::new());
    }
    let report = mailcast_bounce::analyse(&body);
    let judgement = judge(verp::decode(&list, &meta.rcpt_to), &report);
    let message_id = Message::parse(&body).ok().and_then(|m| m.message_id());
    let now = Timestamp::now();
    let probes = ctx.settings.smtp.verp_probes;
    let failure = |finding, context, index: usize| Failure {
        finding,
        context,
        at: now,
        message_id: message_id.clone(),
        key: format!("{id}/{index}"),
        origin: id.clone(),
        index,
        report: Some(&body),
    };
    match judgement {
        Judgement::NotABounce(kind) => {
            info!(?kind, "mail to the bounce address is no bounce; dropped");
            metrics::counter!("mailcast_bounces_total", "class" => "not_a_bounce").increment(1);
        }
        Judgement::Nothing => {
            info!("a delivery report with nothing to count; dropped");
            metrics::counter!("mailcast_bounces_total", "class" => "nothing").increment(1);
        }
        Judgement::Unrecognized => {
            metrics::counter!("mailcast_bounces_total", "class" => "unrecognized").increment(1);
            let to = match settings.forward_unrecognized_bounces_to {
                UnrecognizedBounceDisposition::Discard => None,
                UnrecognizedBounceDisposition::Administrators => Some(ForwardTo::Administrators),
                UnrecognizedBounceDisposition::SiteOwner => Some(ForwardTo::SiteOwner),
            };
            match to {
                None => info!("unrecognized bounce discarded (forward_unrecognized_bounces_to)"),
                Some(to) => {
                    info!(?to, "unrecognized bounce forwarded");
                    let job = id.derive("nunrec")?;
                    if let Some(job) = admin
                        .outbox
                        .unrecognized_bounce(&list_ctx, to, &body, job)
                        .await?
                    {
                        queued.push(job);
                    }
                }
            }
        }
        Judgement::ProbeBounced { token, finding } => match ctx.store.probe(&token, now).await? {
            Some(probe) if probe.list == list => {
                let finding = judge::Finding {
                    address: probe.email.as_str().to_string(),
                    ..finding
                };
                let failure = failure(finding, BounceContext::Probe, 0);
                record(&admin, &list_ctx, probes, failure).await?;
                // Used once; taken only after its bounce is recorded.
                ctx.store.take_probe(&token, now).await?;
            }
            _ => warn!(token, "the bounce of an unknown or expired probe; ignored"),
        },
        Judgement::Failed(findings) => {
            for (index, finding) in findings.into_iter().enumerate() {
                record(
                    &admin,
                    &list_ctx,
                    probes,
                    failure(finding, BounceContext::Normal, index),
                )
                .await?;
            }
        }
    }
    remove(ctx, id).await?;
    Ok(queued.into_iter().map(Work::outgoing).collect())
}

async fn remove(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<()> {
    let id = id.clone();
    ctx.on_spool(move |spool| spool.remove(Stage::Bounces, &id))
        .await
}
