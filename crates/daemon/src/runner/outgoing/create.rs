//! Creating delivery jobs: who gets the message, with which envelope sender, in which mode.
//!
//! A post's recipients are the list's regular-delivery members with delivery enabled, minus
//! the poster when their `receive_own_postings` is off (the caller passes the poster) and
//! minus members with `receive_list_copy` off who are addressed explicitly in To or Cc (Mailman's
//! avoid-duplicates handler). Owner mail goes to the owners and moderators with delivery
//! enabled, or to the site owner when there are none (Mailman's owner-recipients handler).
//! Recipient lines are sorted by domain, so that a bulk transaction carries few domains.
//!
//! The job id is derived from the parent entry, and the job is written in one durable step
//! (the outbox's `write_job`), so a caller that crashed after creating it and runs again finds it
//! ([`mailcast_spool::Error::Exists`]) and moves on. What this module does not do: deliver, or
//! decide how the post was processed.

use std::collections::HashSet;

use anyhow::Context;
use jiff::Timestamp;
use mailcast_model::{EmailAddress, ListAddress};
use mailcast_pipeline::Message;
use mailcast_spool::{EntryId, Stage};
use tracing::{debug, info};

use super::Audience;
use super::mode::{DeliveryPlan, plan_for_post};
use crate::directory::ListInfo;
use crate::outbox::job::{JobAttrs, JobKind, Mode, RcptLine, sort_by_domain};
use crate::outbox::write::{self, NewJob};
use crate::runner::RunnerContext;

/// Creates the delivery job for a processed post (or `-owner` mail) in `outgoing`, durably.
///
/// `parent` is the incoming entry; the job id is derived from it (`<parent>.out`, or
/// `<parent>.owner` for owner mail), so a re-run after a crash finds the existing job and
/// returns `Ok(None)`. `Ok(None)` also means nobody is to receive it (no enabled members).
/// For members, `body` is the handlers' output: decorated when the plan is bulk, undecorated
/// when each copy is rendered for its recipient (see [`plan_for_post`] and
/// [`DeliveryPlan::decorate_in_pipeline`], which the caller must use with the same
/// `post_number`). Owner mail is sent unmodified and in bulk, with the site owner as envelope
/// sender; posts are sent from `LIST-bounces@HOST` (VERP-encoded when the plan says so).
pub async fn create_post_job(
    ctx: &RunnerContext,
    parent: &EntryId,
    list: &ListInfo,
    body: Vec<u8>,
    audience: Audience,
    post_number: u64,
) -> anyhow::Result<Option<EntryId>> {
    let (suffix, kind, plan) = match &audience {
        Audience::Members { .. } => (
            "out",
            JobKind::Post,
            plan_for_post(&ctx.settings.smtp, &list.settings, post_number),
        ),
        Audience::OwnersAndModerators => ("owner", JobKind::Owner, DeliveryPlan::BULK),
    };
    let id = parent.derive(suffix)?;
    if write::exists(&ctx.spool, &id).await? {
        debug!(job = %id, "delivery job exists already");
        return Ok(None);
    }
    let keep_names = plan.mode == Mode::Personalized;
    let (lines, mail_from, rcpt_to) = match audience {
        Audience::Members { exclude_sender } => {
            let lines = member_lines(ctx, list, &body, exclude_sender.as_ref(), keep_names).await?;
            let bounces = list.address.sub_address("bounces");
            (lines, bounces, list.address.posting_address())
        }
        Audience::OwnersAndModerators => {
            let lines = owner_lines(ctx, &list.address).await?;
            // Loop-safe: a bounce of owner mail goes to the site owner, never to a list.
            let site_owner = ctx.settings.site_owner.clone();
            (lines, site_owner, list.address.sub_address("owner"))
        }
    };
    if lines.is_empty() {
        info!(list = %list.address, parent = %parent, "nobody to deliver to");
        return Ok(None);
    }
    let received_at = parent_received_at(ctx, parent).await?;
    let message_id = Message::parse(&body).ok().and_then(|m| m.message_id());
    let attrs = JobAttrs::new(
        kind,
        plan.mode,
        plan.verp,
        ctx.outbox.limits().deadline(received_at),
        id.clone(),
        message_id,
    );
    let job = NewJob {
        id,
        list: list.address.posting_address(),
        mail_from,
        rcpt_to,
        received_at,
        attrs,
        lines,
        body,
    };
    write::write_job(&ctx.spool, ctx.outbox.limits(), job, Stage::Outgoing, None).await
}

/// When the parent entry was received (the retry deadline counts from there); now if the
/// parent is gone.
async fn parent_received_at(ctx: &RunnerContext, parent: &EntryId) -> anyhow::Result<Timestamp> {
    let (spool, parent) = (ctx.spool.clone(), parent.clone());
    let received = tokio::task::spawn_blocking(move || -> mailcast_spool::Result<_> {
        match spool.find(&parent)? {
            Some(stage) => Ok(Some(spool.read_meta(stage, &parent)?.received_at)),
            None => Ok(None),
        }
    })
    .await
    .context("reading the parent entry panicked")??;
    Ok(received.unwrap_or_else(Timestamp::now))
}

/// The recipient lines of a post to the members.
///
/// One query: the store's keyset paging (`recipients_page`) re-sorts the remaining members for
/// every page, which made a 100,000-member list five times slower to read.
async fn member_lines(
    ctx: &RunnerContext,
    list: &ListInfo,
    body: &[u8],
    exclude: Option<&EmailAddress>,
    keep_names: bool,
) -> anyhow::Result<Vec<String>> {
    let recipients = ctx
        .store
        .recipients(&list.address)
        .await
        .with_context(|| format!("cannot read the recipients of {}", list.address))?;
    let mut addressed: Option<HashSet<String>> = None;
    let mut lines: Vec<String> = Vec::with_capacity(recipients.len());
    for r in recipients {
        if exclude.is_some_and(|e| e.as_str() == r.address.as_str()) {
            continue;
        }
        if !r.receive_list_copy
            && addressed
                .get_or_insert_with(|| explicitly_addressed(body))
                .contains(r.address.as_str())
        {
            continue;
        }
        let name = r.display_name.as_deref().filter(|_| keep_names);
        lines.push(RcptLine::encode(r.address.original(), name));
    }
    sort_by_domain(&mut lines);
    Ok(lines)
}

/// The lower-cased addresses in the post's To and Cc (and their Resent- forms).
fn explicitly_addressed(body: &[u8]) -> HashSet<String> {
    let Ok(message) = Message::parse(body) else {
        return HashSet::new();
    };
    ["To", "Cc", "Resent-To", "Resent-Cc"]
        .into_iter()
        .flat_map(|field| message.addresses(field))
        .map(|a| a.email)
        .collect()
}

/// The recipient lines of owner mail: owners and moderators with delivery enabled, each once,
/// or the site owner.
async fn owner_lines(ctx: &RunnerContext, list: &ListAddress) -> anyhow::Result<Vec<String>> {
    let mut lines = ctx.outbox.staff(list).await?;
    sort_by_domain(&mut lines);
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_recipients_come_from_to_cc_and_resent_fields() {
        let body = b"From: a@x.org\r\nTo: List <ant@example.org>, Bob <BOB@x.org>\r\n\
            Cc: carol@y.org\r\nResent-To: dan@z.org\r\nBcc: eve@x.org\r\nSubject: s\r\n\r\nhi\r\n";
        let found = explicitly_addressed(body);
        for address in ["ant@example.org", "bob@x.org", "carol@y.org", "dan@z.org"] {
            assert!(found.contains(address), "{address} in {found:?}");
        }
        assert!(!found.contains("eve@x.org"));
        assert!(explicitly_addressed(b"no header section").is_empty());
    }
}
