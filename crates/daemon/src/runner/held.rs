//! Held posts: putting a post on hold, and the moderator's decisions (`mailcast held`, and
//! the REST API later).
//!
//! A held post is a spool entry in `held` (`<parent>.held`, the post as the hold chain left it,
//! with `X-Mailman-Rule-Hits`) plus a row in the store with the facts a moderator sees and
//! Mailman's request id. Its `attrs` keep `held_at`, `reasons`, `sender` and the `token` of the
//! `confirm <token>` message in the moderators' notice (approval by email reply comes later).
//!
//! The decisions, each safe to repeat after a crash:
//! - **approve**: move the entry back to `incoming` with `attrs.approved = true` (a running
//!   daemon picks it up at its next scan; the posting chain is skipped and the handlers run
//!   as for any accepted post), then remove the row;
//! - **reject**: queue the rejection notice to the poster (job `<held>.nreject`), then remove
//!   the entry and the row;
//! - **discard**: remove the entry, then the row.
//!
//! The row goes last, so a crash leaves at most a row whose entry has gone; the next decision
//! on it removes the row and reports [`HeldError::Gone`]. If a rejection is repeated after
//! such a crash and the first notice was already delivered, the poster gets it twice.

use jiff::Timestamp;
use mailcast_model::ListAddress;
use mailcast_pipeline::ListContext;
use mailcast_pipeline::message::Message;
use mailcast_spool::{Durability, EntryId, EntryMeta, Stage};
use mailcast_store::{HeldMessage, HeldRecord};
use serde_json::Value;
use tracing::info;

use super::RunnerContext;
use super::board::Work;
use super::notify::{self, About};

/// `attrs` key: a moderator approved the entry; the posting chain is skipped.
pub const APPROVED: &str = "approved";
/// `attrs` key: when it was approved (RFC 3339), for `X-Mailman-Approved-At`.
pub const APPROVED_AT: &str = "approved_at";
/// `attrs` key of a held entry: the token of its `confirm <token>` message.
pub const TOKEN: &str = "token";

/// Why a moderator's decision could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum HeldError {
    /// The list has no held post with this request id.
    #[error("{list} has no held message {request_id}")]
    NotFound {
        /// The list.
        list: ListAddress,
        /// The request id asked for.
        request_id: u64,
    },
    /// The record existed but its spool entry had gone (an operator removed it, or an earlier
    /// decision was interrupted); the record has been removed.
    #[error(
        "held message {request_id} of {list} is no longer in the spool; its record was removed"
    )]
    Gone {
        /// The list.
        list: ListAddress,
        /// The request id.
        request_id: u64,
    },
}

/// The held posts of a list, oldest first.
pub async fn list(ctx: &RunnerContext, list: &ListAddress) -> anyhow::Result<Vec<HeldRecord>> {
    Ok(ctx.store.held(list).await?)
}

/// Approves a held post: it continues down the pipeline. Returns its spool id.
pub async fn approve(
    ctx: &RunnerContext,
    list: &ListAddress,
    request_id: u64,
) -> anyhow::Result<EntryId> {
    let (record, id) = find(ctx, list, request_id).await?;
    let now = Timestamp::now().to_string();
    let moved_id = id.clone();
    let moved = ctx
        .on_spool(move |spool| {
            spool.move_entry(
                &moved_id,
                Stage::Held,
                Stage::Incoming,
                Durability::Sync,
                |m| {
                    m.attrs.insert(APPROVED.into(), Value::Bool(true));
                    m.attrs.insert(APPROVED_AT.into(), Value::String(now));
                    m.attempts = 0;
                    m.last_error = None;
                },
            )
        })
        .await;
    gone_if_missing(ctx, list, &record, moved).await?;
    ctx.store.remove_held(list, request_id).await?;
    info!(%list, request_id, entry = %id, "held post approved");
    Ok(id)
}

/// Rejects a held post: the poster gets a notice with `reason` (unless RFC 3834 forbids an
/// answer), and the post is dropped. Returns whether a notice was queued.
pub async fn reject(
    ctx: &RunnerContext,
    list: &ListAddress,
    request_id: u64,
    reason: Option<&str>,
) -> anyhow::Result<bool> {
    let (record, id) = find(ctx, list, request_id).await?;
    let read_id = id.clone();
    let read = ctx
        .on_spool(move |spool| {
            let meta = spool.read_meta(Stage::Held, &read_id)?;
            let body = spool.read_body_of(&meta)?;
            Ok((meta, body))
        })
        .await;
    let (meta, body) = gone_if_missing(ctx, list, &record, read).await?;
    let list_ctx = list_context(ctx, list).await?;
    let reasons = vec![reason.map_or_else(|| "No reason given".to_string(), str::to_string)];
    let about = About {
        post: &body,
        envelope_sender: &meta.mail_from,
        poster: Some(record.message.sender.as_str()).filter(|s| !s.is_empty()),
        reasons: &reasons,
    };
    let notice = notify::rejected(ctx, &id, &list_ctx, &about).await?;
    remove_entry(ctx, &id).await?;
    ctx.store.remove_held(list, request_id).await?;
    info!(%list, request_id, entry = %id, notice = notice.is_some(), "held post rejected");
    Ok(notice.is_some())
}

/// Discards a held post silently.
pub async fn discard(
    ctx: &RunnerContext,
    list: &ListAddress,
    request_id: u64,
) -> anyhow::Result<()> {
    let (record, id) = find(ctx, list, request_id).await?;
    let removed = remove_entry(ctx, &id).await;
    gone_if_missing(ctx, list, &record, removed).await?;
    ctx.store.remove_held(list, request_id).await?;
    info!(%list, request_id, entry = %id, "held post discarded");
    Ok(())
}

/// A post to hold: what the incoming runner knows about it.
pub(crate) struct NewHold<'a> {
    /// The incoming entry.
    pub parent: &'a EntryMeta,
    /// The post as the hold chain leaves it.
    pub message: Vec<u8>,
    /// The first sender, if any.
    pub sender: Option<String>,
    /// Why it is held.
    pub reasons: Vec<String>,
}

/// Holds a post: writes the held entry, records the hold, and queues the notices. The
/// caller removes the incoming entry afterwards. Idempotent: a re-run finds the entry and the
/// row, and the notices' jobs, under the same ids.
pub(crate) async fn hold(
    ctx: &RunnerContext,
    list: &ListContext,
    hold: NewHold<'_>,
) -> anyhow::Result<Vec<Work>> {
    let held_id = hold.parent.id.derive("held")?;
    let Some(token) = write_held_entry(ctx, &held_id, &hold).await? else {
        info!(entry = %held_id, "the post was held before and has been decided since");
        return Ok(Vec::new());
    };
    let parsed = Message::parse(&hold.message)?;
    let message_id = parsed.message_id().unwrap_or_default();
    let record = HeldMessage {
        spool_id: held_id.to_string(),
        sender: hold.sender.clone().unwrap_or_default(),
        subject: parsed.subject().unwrap_or_default(),
        message_id,
        reasons: hold.reasons.clone(),
    };
    let request_id = ctx.store.hold(list.address(), &record).await?;
    info!(request_id, entry = %held_id, reasons = ?hold.reasons, "post held for moderation");
    let about = About {
        post: &hold.message,
        envelope_sender: &hold.parent.mail_from,
        poster: hold.sender.as_deref(),
        reasons: &hold.reasons,
    };
    notify::held(ctx, &hold.parent.id, list, &about, &token).await
}

/// Writes `<parent>.held` into `held` and returns its token; when it exists already (a
/// re-run), returns the token it has, or `None` if it left `held` meanwhile.
async fn write_held_entry(
    ctx: &RunnerContext,
    held_id: &EntryId,
    hold: &NewHold<'_>,
) -> anyhow::Result<Option<String>> {
    let parent = hold.parent;
    let mut meta = EntryMeta::new(
        held_id.clone(),
        Stage::Held,
        &parent.list,
        &parent.mail_from,
        &parent.rcpt_to,
    );
    meta.subaddress = parent.subaddress.clone();
    meta.extension = parent.extension.clone();
    meta.received_at = parent.received_at;
    meta.original_size = parent.original_size;
    let token = crate::ids::token();
    let attrs = &mut meta.attrs;
    attrs.insert("held_at".into(), Timestamp::now().to_string().into());
    attrs.insert("reasons".into(), hold.reasons.clone().into());
    attrs.insert(
        "sender".into(),
        hold.sender.clone().unwrap_or_default().into(),
    );
    attrs.insert(TOKEN.into(), token.clone().into());
    let (id, body) = (held_id.clone(), hold.message.clone());
    ctx.on_spool(
        move |spool| match spool.write_entry(Stage::Held, meta, &body) {
            Ok(_) => Ok(Some(token)),
            Err(mailcast_spool::Error::Exists(_)) => match spool.read_meta(Stage::Held, &id) {
                Ok(existing) => Ok(Some(
                    existing
                        .attrs
                        .get(TOKEN)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                )),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
    )
    .await
}

async fn find(
    ctx: &RunnerContext,
    list: &ListAddress,
    request_id: u64,
) -> anyhow::Result<(HeldRecord, EntryId)> {
    let record = match ctx.store.get_held(list, request_id).await {
        Ok(record) => record,
        Err(mailcast_store::Error::NotFound(_)) => {
            return Err(HeldError::NotFound {
                list: list.clone(),
                request_id,
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let id = EntryId::parse(&record.message.spool_id)?;
    Ok((record, id))
}

/// Passes `result` on; if it failed because the held entry is gone, removes the record and
/// reports [`HeldError::Gone`].
async fn gone_if_missing<T>(
    ctx: &RunnerContext,
    list: &ListAddress,
    record: &HeldRecord,
    result: anyhow::Result<T>,
) -> anyhow::Result<T> {
    let missing = match &result {
        Err(e) => e.chain().any(|c| {
            c.downcast_ref::<mailcast_spool::Error>()
                .is_some_and(|s| s.is_not_found())
        }),
        Ok(_) => false,
    };
    if !missing {
        return result;
    }
    let request_id = record.request_id;
    match ctx.store.remove_held(list, request_id).await {
        Ok(()) | Err(mailcast_store::Error::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Err(HeldError::Gone {
        list: list.clone(),
        request_id,
    }
    .into())
}

async fn remove_entry(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<()> {
    let id = id.clone();
    ctx.on_spool(move |spool| spool.remove(Stage::Held, &id))
        .await
}

async fn list_context(
    ctx: &RunnerContext,
    list: &ListAddress,
) -> anyhow::Result<std::sync::Arc<ListContext>> {
    let mut snapshot = ctx.directory.snapshot();
    if snapshot.list(list).is_none() {
        ctx.directory.refresh(&ctx.store).await?;
        snapshot = ctx.directory.snapshot();
    }
    let info = snapshot
        .list(list)
        .ok_or_else(|| anyhow::anyhow!("no such list {list}"))?;
    Ok(ctx.posting.context(&info, snapshot.change_counter))
}
