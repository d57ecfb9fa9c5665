//! Sending closed digests: claim one, build its MIME and plain digests, queue one job per
//! kind through the outbox, record it sent; until none is left.
//!
//! Recipients are the enabled members on a digest mode plus the one-last-digest rows
//! (`mailcast_store::Store::digest_recipients`): `mime_digests` and `summary_digests` get the
//! MIME digest (Mailman treats summary as MIME), `plaintext_digests` the plain one. The
//! envelope sender is the list's `-bounces` address, VERP-encoded as for a post
//! ([`plan_for_digest`]), and failures are scored as member bounces. The Message-ID, Date
//! and boundary derive from the issue, so building it again gives the same digests.

use anyhow::Context;
use jiff::SignedDuration;
use mailcast_model::DeliveryMode;
use mailcast_model::settings::{ListSettings, Personalization};
use mailcast_pipeline::digest::{self, Issue};
use mailcast_pipeline::notice::NoticeIds;
use mailcast_spool::EntryId;
use mailcast_store::DigestIssue;
use tracing::{info, warn};

use crate::admin::Admin;
use crate::config::SmtpSettings;
use crate::outbox::Mail;
use crate::outbox::job::Mode;

/// How long a node's claim on a digest holds before another node takes it over.
pub const CLAIM_LEASE: SignedDuration = SignedDuration::from_secs(600);

/// Sends every closed digest no live node has claimed; returns the jobs queued.
pub async fn send_closed(admin: &Admin) -> anyhow::Result<Vec<EntryId>> {
    let node = admin.settings().site.node.clone();
    let mut queued = Vec::new();
    while let Some(issue) = admin.store.claim_digest(&node, CLAIM_LEASE).await? {
        queued.extend(send_issue(admin, &issue).await?);
        admin.store.digest_sent(&issue).await?;
    }
    Ok(queued)
}

/// Builds and queues one claimed digest; returns the jobs created now.
async fn send_issue(admin: &Admin, issue: &DigestIssue) -> anyhow::Result<Vec<EntryId>> {
    let list = admin
        .list_info(&issue.list)
        .await
        .with_context(|| format!("the list of digest {} is gone", issue.id))?;
    let context = admin.list_context(&issue.list).await?;
    let templates = admin.outbox.overrides(&issue.list).await?;
    let posts = admin.store.digest_posts(issue.id).await?;
    let key = issue.id.simple().to_string();
    let message_id = format!("<digest.{key}@{}>", admin.settings().hostname);
    let boundary = format!("===============mailcast{key}==");
    let built = Issue {
        list: &context,
        templates: &templates,
        volume: issue.volume,
        number: issue.number,
        ids: NoticeIds {
            message_id: &message_id,
            date: issue.closed_at.as_second(),
            boundary: &boundary,
        },
    };
    let refs: Vec<&[u8]> = posts.iter().map(Vec::as_slice).collect();
    let started = std::time::Instant::now();
    let digests = digest::build(&built, &refs);
    metrics::histogram!("mailcast_digest_build_seconds").record(started.elapsed().as_secs_f64());
    let Some(digests) = digests else {
        warn!(digest = %issue.id, "no post of the digest could be read; nothing to send");
        return Ok(Vec::new());
    };
    let (mut mime, mut plain) = (Vec::new(), Vec::new());
    for recipient in admin.store.digest_recipients(issue).await? {
        let address = recipient.address.original().to_string();
        match recipient.mode {
            DeliveryMode::PlaintextDigests => plain.push(address),
            DeliveryMode::MimeDigests | DeliveryMode::SummaryDigests => mime.push(address),
            DeliveryMode::Regular => {}
        }
    }
    let (mode, verp) = plan_for_digest(&admin.settings().smtp, &list.settings);
    let stem = job_stem(issue)?;
    let mut queued = Vec::new();
    for (kind, rcpts, body) in [
        ("mime", mime, digests.mime),
        ("plain", plain, digests.plain),
    ] {
        if rcpts.is_empty() {
            continue;
        }
        let count = rcpts.len();
        let mail = Mail {
            id: stem.derive(kind)?,
            list: issue.list.clone(),
            mail_from: issue.list.sub_address("bounces"),
            rcpts,
            body,
        };
        if let Some(id) = admin.outbox.queue_digest(mail, mode, verp).await? {
            info!(list = %issue.list, volume = issue.volume, number = issue.number, kind,
                recipients = count, job = %id, "digest queued");
            queued.push(id);
        }
    }
    metrics::counter!("mailcast_digests_total").increment(1);
    Ok(queued)
}

/// The spool id the digest's jobs derive from: the time it closed and the issue's id, so it
/// sorts with the other entries and is the same on every run.
fn job_stem(issue: &DigestIssue) -> anyhow::Result<EntryId> {
    let micros = issue.closed_at.as_microsecond().max(0);
    Ok(EntryId::parse(&format!(
        "{micros:013x}-d{}",
        issue.id.simple()
    ))?)
}

/// Bulk, or one copy per recipient with VERP: as a post that `[smtp] verp_delivery_interval
/// = 1` (or a personalized list with `verp_personalized_deliveries`) would get. A digest is
/// never decorated per member, so it goes one copy per recipient only for VERP.
pub fn plan_for_digest(smtp: &SmtpSettings, list: &ListSettings) -> (Mode, bool) {
    let verp = match list.personalize {
        Personalization::None => smtp.verp_delivery_interval == 1,
        _ => smtp.verp_personalized_deliveries,
    };
    (if verp { Mode::Personalized } else { Mode::Bulk }, verp)
}
