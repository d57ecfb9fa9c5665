//! The incoming runner: what happens to a post or `-owner` mail in `incoming` (Mailman's `in`
//! and `pipeline` runners).
//!
//! For each entry: resolve the list (gone: shunt), apply the intake fix-ups if the entry was
//! adopted without them (`attrs.fixed_up == false`, Maildir), validate its authenticity when
//! `[arc]` is on ([`crate::arc::Authenticity`]: our `Authentication-Results` on top), then
//! - `-owner` mail: Mailman's owner chain accepts it; it is forwarded unmodified to the
//!   owners and moderators (job `<id>.owner`, envelope sender the site owner);
//! - a post: run the posting chain (skipped for a post a moderator approved, which gets
//!   `X-Mailman-Approved-At`) and act on its decision:
//!   - accept: content filtering (`incoming/filtered.rs` when it takes the whole post
//!     away), then take a post number, run the handlers, and create the delivery job to the
//!     members (`<id>.out`; the poster is left out when their `receive_own_postings` is off);
//!     when `dmarc-mitigation` flagged the post (or the list mitigates unconditionally), the
//!     members' copy alone is munged or wrapped (`handlers::dmarc`, with the poster's roster
//!     name when From has none); the archive and digest copies keep the author's From;
//!   - hold: see [`super::hold`] (entry `<id>.held`, a store row, notices);
//!   - reject: the rejection notice to the poster (`<id>.nreject`);
//!   - discard: nothing (logged).
//!
//! The entry is removed only after everything it leads to exists durably.
//!
//! # Crash safety and the duplicate window
//!
//! Every child (job, notice, held entry, hold row) has an id derived from the entry's, and is
//! created idempotently before the entry is removed; the post number is stored in the
//! entry's `attrs.post_number` before the handlers use it. A crash at any point therefore
//! re-runs the entry, which finds its children and creates none twice. A child is never sent
//! while its parent is still in `incoming` (the scheduler waits), so a child finished and
//! removed before the crash cannot be re-created and sent again. What remains: the spool's
//! own window (after a power loss, removals of the last checkpoint interval, about a second,
//! may be undone), and a post number taken but not yet stored (a gap in the numbering).
//!
//! An accepted post that goes to the list's archivers also gets its archive entry
//! (`<id>.arch`, [`super::archive::enqueue`]), created the same way, and a post to a list
//! with digest members joins its next digest ([`crate::digest::collect`], idempotent by the
//! entry's id); a digest that fills up is queued at once ([`crate::digest::send`]).
//!
//! Not here: `command` and `bounces` entries (their own runners).

use std::sync::Arc;

use jiff::Timestamp;
use mailcast_model::settings::ResponseAction;
use mailcast_model::{EmailAddress, ListAddress, MemberRole};
use mailcast_pipeline::chain::{self, Disposition};
use mailcast_pipeline::encoded_word::Value as HeaderValue;
use mailcast_pipeline::handlers::mime_delete::{self, Outcome};
use mailcast_pipeline::handlers::{self, ProcessOptions};
use mailcast_pipeline::message::Message;
use mailcast_pipeline::rewrite::Rewrite;
use mailcast_pipeline::rules::RuleContext;
use mailcast_pipeline::{ListContext, MessageFacts, intake};
use mailcast_spool::{Durability, EntryId, EntryMeta, Stage};
use mailcast_store::ResponseKind;
use serde_json::Value;
use tracing::{Span, info};

use super::RunnerContext;
use super::board::Work;
use super::failure::Unprocessable;
use super::hold::{self, NewHold};
use super::outgoing::{self, Audience};
use crate::admin::held::{APPROVED, APPROVED_AT};
use crate::directory::ListInfo;
use crate::outbox::notices::About;

mod dmarc;
mod filtered;

/// `attrs` key: false when the entry was adopted without the intake fix-ups.
pub const FIXED_UP: &str = "fixed_up";
/// `attrs` key: the post number this post was given.
pub const POST_NUMBER: &str = "post_number";

/// One incoming entry, loaded.
struct Entry {
    meta: EntryMeta,
    list: Arc<ListInfo>,
    /// The message, with the intake fix-ups applied.
    body: Vec<u8>,
}

/// Processes the incoming entry `id`; returns the entries it created that are ready to go.
pub(crate) async fn process(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<Vec<Work>> {
    let entry = load(ctx, id).await?;
    match entry.meta.subaddress.as_deref() {
        None => post(ctx, entry).await,
        Some("owner") => forward_to_owners(ctx, entry).await,
        Some(other) => Err(Unprocessable::error(format!(
            "mail to the -{other} address does not belong in incoming"
        ))),
    }
}

async fn load(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<Entry> {
    let read_id = id.clone();
    let (meta, body) = ctx
        .on_spool(move |spool| spool.read_entry(Stage::Incoming, &read_id))
        .await?;
    Span::current().record("list", meta.list.as_str());
    let list = resolve_list(ctx, &meta.list).await?;
    let body = if meta.attrs.get(FIXED_UP) == Some(&Value::Bool(false)) {
        // A Message-ID derived from the entry id, so a re-run generates the same one.
        // Maildir deliveries carry the delivery agent's fields and Unix line ends.
        let generated = format!("<{id}@{}>", ctx.settings.hostname);
        let received = intake::crlf_line_ends(intake::strip_delivery_fields(&body)).into_owned();
        intake::fix_message_in_place(received, &meta.mail_from, &generated)
            .map_err(|e| Unprocessable::error(e.to_string()))?
    } else {
        body
    };
    // Mailman's validate-authenticity, before anything reads the message: our
    // Authentication-Results on top, the untrusted ones gone (`crate::arc`).
    let body = match &ctx.arc {
        Some(arc) => arc.authenticity.validate(&body, &meta.mail_from).await,
        None => body,
    };
    let message = Message::parse(&body)
        .map_err(|e| Unprocessable::error(format!("the message cannot be parsed: {e}")))?;
    if let Some(message_id) = message.message_id() {
        Span::current().record("message_id", message_id.as_str());
    }
    Ok(Entry { meta, list, body })
}

/// The list of an entry, from the directory (reloaded once if the list is not in it: the
/// CLI may have created it a moment ago).
async fn resolve_list(ctx: &RunnerContext, list: &str) -> anyhow::Result<Arc<ListInfo>> {
    let address = ListAddress::parse(list)
        .map_err(|e| Unprocessable::error(format!("bad list address {list:?}: {e}")))?;
    if let Some(info) = ctx.directory.snapshot().list(&address) {
        return Ok(info);
    }
    ctx.directory.refresh(&ctx.store).await?;
    ctx.directory
        .snapshot()
        .list(&address)
        .ok_or_else(|| Unprocessable::error(format!("the list {address} no longer exists")))
}

async fn forward_to_owners(ctx: &RunnerContext, entry: Entry) -> anyhow::Result<Vec<Work>> {
    let id = entry.meta.id.clone();
    let (mut queued, discard) = autorespond(ctx, &entry, ResponseKind::Owner).await?;
    if discard {
        remove(ctx, &id).await?;
        info!("owner mail answered and discarded (autorespond_owner)");
        return Ok(queued);
    }
    let job = outgoing::create_post_job(
        ctx,
        &id,
        &entry.list,
        entry.body,
        Audience::OwnersAndModerators,
        0,
    )
    .await?;
    remove(ctx, &id).await?;
    info!("owner mail forwarded to the owners and moderators");
    metrics::counter!("mailcast_owner_mail_total").increment(1);
    queued.extend(job.into_iter().map(Work::outgoing));
    Ok(queued)
}

/// Mailman's replybot for posts and owner mail (`autorespond_postings`,
/// `autorespond_owner`): the autoresponse, and whether the message is then discarded.
async fn autorespond(
    ctx: &RunnerContext,
    entry: &Entry,
    kind: ResponseKind,
) -> anyhow::Result<(Vec<Work>, bool)> {
    let settings = &entry.list.settings;
    let action = match kind {
        ResponseKind::Owner => settings.autorespond_owner,
        _ => settings.autorespond_postings,
    };
    if action == ResponseAction::None || entry.meta.attrs.get(APPROVED) == Some(&Value::Bool(true))
    {
        return Ok((Vec::new(), false));
    }
    let message = Message::parse(&entry.body)?;
    let envelope = Some(entry.meta.mail_from.as_str()).filter(|s| !s.is_empty());
    let sender = message
        .senders(envelope)
        .into_iter()
        .find_map(|s| EmailAddress::parse(&s).ok());
    let mut queued = Vec::new();
    if let Some(sender) = sender
        && ctx
            .outbox
            .may_answer(&message, &entry.meta.mail_from, sender.as_str())
        && message
            .text("X-Ack")
            .is_none_or(|v| !v.trim().eq_ignore_ascii_case("no"))
    {
        let snapshot = ctx.directory.snapshot();
        let list_ctx = ctx
            .posting
            .context(&entry.list, snapshot.change_counter)
            .await?;
        let id = entry.meta.id.derive("autoreply")?;
        queued.extend(
            ctx.outbox
                .autoresponse(&list_ctx, kind, &message, &sender, id)
                .await?
                .map(Work::outgoing),
        );
    }
    Ok((queued, action == ResponseAction::RespondAndDiscard))
}

/// What the posting chain decided, with what each outcome needs.
enum Decision {
    Accept {
        message: Vec<u8>,
        /// `dmarc-mitigation` flagged it: the members' copy may be munged or wrapped.
        dmarc: bool,
    },
    Hold {
        message: Vec<u8>,
        reasons: Vec<String>,
    },
    Reject {
        reasons: Vec<String>,
    },
    Discard {
        reasons: Vec<String>,
    },
}

async fn post(ctx: &RunnerContext, entry: Entry) -> anyhow::Result<Vec<Work>> {
    let (mut answered, discard) = autorespond(ctx, &entry, ResponseKind::Postings).await?;
    if discard {
        remove(ctx, &entry.meta.id).await?;
        info!("post answered and discarded (autorespond_postings)");
        metrics::counter!("mailcast_posts_total", "result" => "autoresponded").increment(1);
        return Ok(answered);
    }
    let snapshot = ctx.directory.snapshot();
    let list_ctx = ctx
        .posting
        .context(&entry.list, snapshot.change_counter)
        .await?;
    let envelope_sender = Some(entry.meta.mail_from.as_str()).filter(|s| !s.is_empty());
    let message = Message::parse(&entry.body)?;
    let sender = message.senders(envelope_sender).into_iter().next();
    let decision = if entry.meta.attrs.get(APPROVED) == Some(&Value::Bool(true)) {
        Decision::Accept {
            message: mark_approved(&message, &entry.meta),
            dmarc: dmarc::approved(ctx, &entry.meta, &message, &list_ctx, envelope_sender).await,
        }
    } else {
        let senders = message.senders(envelope_sender);
        let facts = ctx
            .posting
            .sender_facts(&entry.list.address, &senders, snapshot.change_counter)
            .await?;
        let msg_facts = MessageFacts {
            original_size: entry.meta.original_size,
            dmarc: dmarc::facts(ctx, &entry.meta, &message, &list_ctx).await,
            ..MessageFacts::default()
        };
        let result = chain::run(&RuleContext::new(
            &message,
            &list_ctx,
            &facts,
            envelope_sender,
            msg_facts,
        ));
        let reasons = result.reasons.clone();
        match result.disposition {
            Disposition::Accept => Decision::Accept {
                message: result.annotate(&entry.body),
                dmarc: result.dmarc,
            },
            Disposition::Hold => Decision::Hold {
                message: result.annotate(&entry.body),
                reasons,
            },
            Disposition::Reject(_) => Decision::Reject { reasons },
            Disposition::Discard => Decision::Discard { reasons },
        }
    };
    drop(message);
    let id = entry.meta.id.clone();
    let (result, children) = match decision {
        // Content filtering (Mailman's mime-delete) first: it may take the whole post away.
        Decision::Accept { message, dmarc } => match mime_delete::run(&message, &list_ctx)
            .map_err(|e| Unprocessable::error(e.to_string()))?
        {
            outcome @ (Outcome::Unchanged | Outcome::Filtered(_)) => {
                let message = match outcome {
                    Outcome::Filtered(filtered) => filtered,
                    _ => message,
                };
                (
                    "accepted",
                    accept(ctx, &entry, &list_ctx, message, sender, dmarc).await?,
                )
            }
            Outcome::Disposed(disposal) => {
                let disposed = filtered::dispose(
                    ctx,
                    &entry.meta,
                    &list_ctx,
                    &message,
                    sender.as_deref(),
                    disposal,
                )
                .await?;
                if disposed.preserved {
                    metrics::counter!("mailcast_posts_total", "result" => "filtered").increment(1);
                    answered.extend(disposed.children);
                    return Ok(answered);
                }
                ("filtered", disposed.children)
            }
        },
        Decision::Hold { message, reasons } => {
            let hold = NewHold {
                parent: &entry.meta,
                message,
                sender,
                reasons,
            };
            ("held", hold::hold(ctx, &list_ctx, hold).await?)
        }
        Decision::Reject { reasons } => {
            let about = About {
                post: &entry.body,
                envelope_sender: &entry.meta.mail_from,
                poster: sender.as_deref(),
                reasons: &reasons,
            };
            let notice = ctx.outbox.rejected_notice(&id, &list_ctx, &about).await?;
            info!(?reasons, "post rejected");
            ("rejected", notice.into_iter().map(Work::outgoing).collect())
        }
        Decision::Discard { reasons } => {
            info!(?reasons, "post discarded by list policy");
            let forwarded = if list_ctx.settings().forward_auto_discards {
                ctx.outbox
                    .forward_discarded(&id, &list_ctx, &entry.body, &reasons)
                    .await?
            } else {
                None
            };
            (
                "discarded",
                forwarded.into_iter().map(Work::outgoing).collect(),
            )
        }
    };
    remove(ctx, &id).await?;
    metrics::counter!("mailcast_posts_total", "result" => result).increment(1);
    answered.extend(children);
    Ok(answered)
}

/// An accepted post: number it, run the handlers, create the delivery job.
async fn accept(
    ctx: &RunnerContext,
    entry: &Entry,
    list_ctx: &ListContext,
    message: Vec<u8>,
    sender: Option<String>,
    dmarc: bool,
) -> anyhow::Result<Vec<Work>> {
    let post_number = post_number(ctx, entry).await?;
    let plan = outgoing::mode::plan_for_post(&ctx.settings.smtp, &entry.list.settings, post_number);
    let anonymous_id = format!("<{}@{}>", entry.meta.id, entry.list.address.domain());
    let options = ProcessOptions {
        post_number,
        decorate: plan.decorate_in_pipeline(),
        anonymous_message_id: &anonymous_id,
        remove_dkim_headers: ctx.settings.mta.remove_dkim_headers,
    };
    // Mailman's dmarc handler: the members' copy munged or wrapped; archive and digest get
    // the post as it is.
    let wrapper_id = format!("<{}.dmarc@{}>", entry.meta.id, entry.list.address.domain());
    let member_name = match handlers::dmarc::treatment(list_ctx, dmarc) {
        Some(_) => dmarc::roster_name(ctx, &entry.list.address, sender.as_deref()).await?,
        None => None,
    };
    let mitigation = handlers::dmarc::Mitigation {
        flagged: dmarc,
        original_sender: sender.as_deref().unwrap_or(&entry.meta.mail_from),
        member_name: member_name.as_deref(),
        message_id: &wrapper_id,
    };
    let processed = handlers::process_for_members(&message, list_ctx, &options, Some(&mitigation))
        .map_err(|e| Unprocessable::error(format!("the handlers cannot parse the post: {e}")))?;
    // Mailman's to-archive: the copy after the header handlers, a sibling of the delivery job.
    let archive =
        super::archive::enqueue::create(ctx, &entry.meta, &entry.list, &processed.headed).await?;
    // Mailman's to-digest: the same copy joins the list's next digest, which may close now.
    let digest =
        crate::digest::collect::collect(&ctx.store, &entry.list, &entry.meta.id, &processed.headed)
            .await?;
    let digest_jobs = match digest {
        Some(_) => crate::digest::send::send_closed(&ctx.admin()).await?,
        None => Vec::new(),
    };
    let processed = processed.distributed();
    let exclude_sender = excluded_poster(ctx, &entry.list.address, sender.as_deref()).await?;
    let audience = Audience::Members { exclude_sender };
    let job = outgoing::create_post_job(
        ctx,
        &entry.meta.id,
        &entry.list,
        processed,
        audience,
        post_number,
    )
    .await?;
    let job_id = job
        .as_ref()
        .map_or("none (exists, or no recipients)", |j| j.as_str());
    info!(post_number, job = job_id, "post accepted");
    let mut queued: Vec<Work> = job.into_iter().map(Work::outgoing).collect();
    queued.extend(archive.map(Work::archive));
    queued.extend(digest_jobs.into_iter().map(Work::outgoing));
    queued.extend(acknowledge(ctx, entry, list_ctx, &message, sender.as_deref()).await?);
    Ok(queued)
}

/// The post acknowledgement to a member whose `acknowledge_posts` is on (Mailman's
/// `acknowledge` handler; the membership's own preference, unset meaning no).
async fn acknowledge(
    ctx: &RunnerContext,
    entry: &Entry,
    list_ctx: &ListContext,
    post: &[u8],
    sender: Option<&str>,
) -> anyhow::Result<Option<Work>> {
    let Some(address) = sender.and_then(|s| EmailAddress::parse(s).ok()) else {
        return Ok(None);
    };
    let memberships = ctx.store.member(&entry.list.address, &address).await?;
    let Some(member) = memberships
        .iter()
        .find(|m| m.role == MemberRole::Member && m.preferences.acknowledge_posts == Some(true))
    else {
        return Ok(None);
    };
    let subject = Message::parse(post)
        .ok()
        .and_then(|m| m.subject())
        .unwrap_or_else(|| "(no subject)".into());
    let poster = mailcast_model::Mailbox {
        display_name: member.display_name.clone(),
        address,
    };
    let id = entry.meta.id.derive("ack")?;
    Ok(ctx
        .outbox
        .post_acknowledgement(list_ctx, &poster, &subject, id)
        .await?
        .map(Work::outgoing))
}

/// The post's number: the one stored in the entry by an earlier run, or the next one of the
/// list, stored in the entry before it is used.
async fn post_number(ctx: &RunnerContext, entry: &Entry) -> anyhow::Result<u64> {
    if let Some(n) = entry.meta.attrs.get(POST_NUMBER).and_then(Value::as_u64) {
        return Ok(n);
    }
    let n = ctx.store.next_post_number(&entry.list.address).await?;
    let id = entry.meta.id.clone();
    ctx.on_spool(move |spool| {
        spool.move_entry(
            &id,
            Stage::Incoming,
            Stage::Incoming,
            Durability::Lazy,
            |m| {
                m.attrs.insert(POST_NUMBER.into(), n.into());
            },
        )
    })
    .await?;
    Ok(n)
}

/// The poster, if they are a member who does not want their own posts back. Only the
/// membership's own `receive_own_postings` is consulted (unset means yes).
async fn excluded_poster(
    ctx: &RunnerContext,
    list: &ListAddress,
    sender: Option<&str>,
) -> anyhow::Result<Option<EmailAddress>> {
    let Some(address) = sender.and_then(|s| EmailAddress::parse(s).ok()) else {
        return Ok(None);
    };
    let memberships = ctx.store.member(list, &address).await?;
    let opted_out = memberships
        .iter()
        .any(|m| m.role == MemberRole::Member && m.preferences.receive_own_postings == Some(false));
    Ok(opted_out.then_some(address))
}

/// The approved post with `X-Mailman-Approved-At` (Mailman adds it on approval).
fn mark_approved(message: &Message<'_>, meta: &EntryMeta) -> Vec<u8> {
    let approved_at = meta
        .attrs
        .get(APPROVED_AT)
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok())
        .unwrap_or_else(Timestamp::now);
    let date = approved_at
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    let mut rewrite = Rewrite::new(message);
    rewrite.set("X-Mailman-Approved-At", HeaderValue::Raw(&date));
    rewrite.finish()
}

async fn remove(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<()> {
    let id = id.clone();
    ctx.on_spool(move |spool| spool.remove(Stage::Incoming, &id))
        .await
}
