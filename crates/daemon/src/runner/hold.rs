//! Putting a post on hold: the held entry in the spool, the row in the store, and the
//! notices. The moderators' decisions on held posts are the admin layer's
//! ([`crate::admin::held`]).
//!
//! A held post is a spool entry in `held` (`<parent>.held`, the post as the hold chain left it,
//! with `X-Mailman-Rule-Hits`) plus a row in the store with the facts a moderator sees, the
//! token of the `confirm <token>` message in the moderators' notice, and this node's name.
//! Its `attrs` keep `held_at`, `reasons`, `sender` and the `token`.

use jiff::Timestamp;
use mailcast_pipeline::ListContext;
use mailcast_pipeline::message::Message;
use mailcast_spool::{EntryId, EntryMeta, Stage};
use mailcast_store::HeldMessage;
use serde_json::Value;
use tracing::info;

use super::RunnerContext;
use super::board::Work;
use crate::admin::held::TOKEN;
use crate::outbox::notices::About;

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
        token: token.clone(),
        node: ctx.settings.site.node.clone(),
    };
    let request_id = ctx.store.hold(list.address(), &record).await?;
    info!(request_id, entry = %held_id, reasons = ?hold.reasons, "post held for moderation");
    let about = About {
        post: &hold.message,
        envelope_sender: &hold.parent.mail_from,
        poster: hold.sender.as_deref(),
        reasons: &hold.reasons,
    };
    let jobs = ctx
        .outbox
        .held_notices(&hold.parent.id, list, &about, &token)
        .await?;
    Ok(jobs.into_iter().map(Work::outgoing).collect())
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
    // The DMARC policy found at LMTP time, for the approved post's mitigation.
    if let Some(found) = parent.attrs.get(crate::dns::dmarc::carry::ATTR) {
        attrs.insert(crate::dns::dmarc::carry::ATTR.into(), found.clone());
    }
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
