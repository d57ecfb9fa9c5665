//! A post content filtering took away as a whole ([`mime_delete::Outcome::Disposed`]): what
//! `filter_action` says, as Mailman's `dispose` does it.
//!
//! - `discard`: nothing (logged);
//! - `reject`: the rejection notice with Mailman's reason to the poster (`<id>.nreject`, the
//!   same notice the posting chain's rejections use);
//! - `forward`: the post to the owners and moderators (`<id>.nfilter`), then discarded;
//! - `preserve`: the entry is moved to the `shunt` stage for the operator, with the reason as
//!   its `last_error` (`mailcast queue` shows it there). Mailman puts a copy in its `bad`
//!   queue only when the site's `filtered_messages_are_preservable` is on (off by default);
//!   mailcast has no such switch: `preserve` preserves. A preserved post sent back to
//!   `incoming` by the operator is filtered again.
//! - `hold`, `accept`, `defer`: meaningless here; discarded with a warning, as in Mailman.

use mailcast_model::settings::FilterAction;
use mailcast_pipeline::ListContext;
use mailcast_pipeline::handlers::mime_delete::{Disposal, Disposition};
use mailcast_spool::{Durability, EntryMeta, Stage};
use tracing::{info, warn};

use super::super::RunnerContext;
use super::super::board::Work;
use super::super::failure::WHICHQ;
use crate::outbox::notices::About;

/// `attrs` key of a preserved post: why content filtering preserved it.
pub const PRESERVED: &str = "preserved_by_content_filter";

/// What became of the post.
pub(super) struct Disposed {
    /// The notices created.
    pub(super) children: Vec<Work>,
    /// Whether the entry was moved to `shunt` (it must not be removed then).
    pub(super) preserved: bool,
}

/// Acts on `disposal` for the entry `meta`, whose post (as the chain accepted it) is `post`.
pub(super) async fn dispose(
    ctx: &RunnerContext,
    meta: &EntryMeta,
    list: &ListContext,
    post: &[u8],
    sender: Option<&str>,
    disposal: Disposal,
) -> anyhow::Result<Disposed> {
    let reason = disposal.reason.to_string();
    if !matches!(
        disposal.configured,
        FilterAction::Discard
            | FilterAction::Reject
            | FilterAction::Forward
            | FilterAction::Preserve
    ) {
        warn!(
            filter_action = disposal.configured.as_str(),
            "invalid filter_action for content filtering; treating as discard"
        );
    }
    let mut children = Vec::new();
    match disposal.action {
        Disposition::Discard => info!(%reason, "post discarded by content filtering"),
        Disposition::Reject => {
            let reasons = [reason.clone()];
            let about = About {
                post,
                envelope_sender: &meta.mail_from,
                poster: sender,
                reasons: &reasons,
            };
            children.extend(
                ctx.outbox
                    .rejected_notice(&meta.id, list, &about)
                    .await?
                    .map(Work::outgoing),
            );
            info!(%reason, "post rejected by content filtering");
        }
        Disposition::Forward => {
            children.extend(
                ctx.outbox
                    .forward_filtered(&meta.id, list, post)
                    .await?
                    .map(Work::outgoing),
            );
            info!(%reason, "post filtered away and forwarded to the list's owners");
        }
        Disposition::Preserve => {
            let id = meta.id.clone();
            let why = format!("preserved by content filtering: {reason}");
            ctx.on_spool(move |spool| {
                spool.move_entry(&id, Stage::Incoming, Stage::Shunt, Durability::Sync, |m| {
                    m.last_error = Some(why);
                    m.not_before = None;
                    m.attrs
                        .insert(WHICHQ.into(), Stage::Incoming.as_str().into());
                    m.attrs.insert(PRESERVED.into(), true.into());
                })
            })
            .await?;
            info!(%reason, "post filtered away and preserved in the shunt stage");
            return Ok(Disposed {
                children,
                preserved: true,
            });
        }
    }
    Ok(Disposed {
        children,
        preserved: false,
    })
}
