//! The mails a list sends about a post: the held-post notice to the moderators, the held and
//! rejected notices to the poster. The texts come from `mailcast_pipeline::notice`; this
//! module decides who may get them, generates their ids, and queues them as delivery jobs.
//!
//! Who may be answered (RFC 3834 §2, and Mailman's `can_acknowledge` for held posts): never
//! the null sender, never a message marked `Auto-Submitted` (other than `no`), `Precedence:
//! bulk | junk | list` or carrying a `List-Id` (list traffic), and never an address that
//! looks automatic (`MAILER-DAEMON`, `owner-*`, `*-request`, `*-bounces`) or is one of our
//! own list addresses. Answers to posters go out from the null sender (RFC 3834 §3.3), so
//! that they cannot bounce back; the moderators' notice comes from the site owner, as
//! Mailman's owner notifications do.
//!
//! Each notice's job id derives from the entry it is about, so a re-run finds it. Not here:
//! Mailman's per-day limit on answers to one poster (`max_autoresponses_per_day`), which
//! needs a table in the store.

use std::collections::HashSet;

use anyhow::Context;
use mailcast_model::{DeliveryStatus, EmailAddress, ListAddress};
use mailcast_pipeline::ListContext;
use mailcast_pipeline::message::Message;
use mailcast_pipeline::notice::{self, NoticeIds};
use mailcast_spool::EntryId;
use tracing::debug;

use super::RunnerContext;
use super::board::Work;
use super::outgoing;

/// Ids and date of one notice, generated when it is built.
struct Generated {
    message_id: String,
    date: i64,
    boundary: String,
}

impl Generated {
    fn new(ctx: &RunnerContext) -> Generated {
        Generated {
            message_id: crate::ids::message_id(&ctx.settings.hostname),
            date: jiff::Timestamp::now().as_second(),
            boundary: crate::ids::boundary(),
        }
    }

    fn ids(&self) -> NoticeIds<'_> {
        NoticeIds {
            message_id: &self.message_id,
            date: self.date,
            boundary: &self.boundary,
        }
    }
}

/// What a notice is about: the post, its envelope sender, and the address to answer.
pub(crate) struct About<'a> {
    /// The post (as held, or as received).
    pub post: &'a [u8],
    /// The post's envelope sender (empty for the null sender).
    pub envelope_sender: &'a str,
    /// The poster (the first of the post's senders), if any.
    pub poster: Option<&'a str>,
    /// Why it is held or rejected.
    pub reasons: &'a [String],
}

/// Queues the notices about a held post: to the moderators when the list wants them
/// (`admin_immed_notify`), to the poster when the list answers held posts and RFC 3834
/// allows it. Job ids are `<parent>.nmod` and `<parent>.nposter`.
pub(crate) async fn held(
    ctx: &RunnerContext,
    parent: &EntryId,
    list: &ListContext,
    about: &About<'_>,
    token: &str,
) -> anyhow::Result<Vec<Work>> {
    let mut queued = Vec::new();
    let address = list.address();
    let poster_text = about.poster.unwrap_or("(unknown sender)");
    if list.settings().admin_immed_notify {
        let generated = Generated::new(ctx);
        let body = notice::held_for_moderators(
            list,
            about.post,
            poster_text,
            about.reasons,
            token,
            &generated.ids(),
        );
        let rcpts = staff(ctx, address).await?;
        let id = parent.derive("nmod")?;
        outgoing::create_notice_job(
            ctx,
            id.clone(),
            address,
            &ctx.settings.site_owner,
            rcpts,
            body,
        )
        .await?;
        queued.push(Work::outgoing(id));
    }
    if let Some(poster) = about.poster
        && may_answer(ctx, about, poster)
        && Message::parse(about.post)
            .is_ok_and(|m| notice::poster_may_be_told(&m, list, &Default::default()))
    {
        let generated = Generated::new(ctx);
        let body =
            notice::held_for_poster(list, about.post, poster, about.reasons, &generated.ids());
        let id = parent.derive("nposter")?;
        outgoing::create_notice_job(ctx, id.clone(), address, "", vec![poster.to_string()], body)
            .await?;
        queued.push(Work::outgoing(id));
    } else {
        debug!("the poster is not told about the hold");
    }
    Ok(queued)
}

/// Queues the rejection notice to the poster (job id `<about>.nreject`), unless RFC 3834
/// forbids answering. Mailman sends it whatever `respond_to_post_requests` says.
pub(crate) async fn rejected(
    ctx: &RunnerContext,
    about_id: &EntryId,
    list: &ListContext,
    about: &About<'_>,
) -> anyhow::Result<Option<Work>> {
    let Some(poster) = about.poster.filter(|p| may_answer(ctx, about, p)) else {
        debug!("the poster is not told about the rejection");
        return Ok(None);
    };
    let generated = Generated::new(ctx);
    let body = notice::rejected(list, about.post, poster, about.reasons, &generated.ids());
    let id = about_id.derive("nreject")?;
    outgoing::create_notice_job(
        ctx,
        id.clone(),
        list.address(),
        "",
        vec![poster.to_string()],
        body,
    )
    .await?;
    Ok(Some(Work::outgoing(id)))
}

/// The owners and moderators with delivery enabled, each once; the site owner when there are
/// none (Mailman's owner-recipients handler). Notices and owner mail go to them.
pub(super) async fn staff(ctx: &RunnerContext, list: &ListAddress) -> anyhow::Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut rcpts: Vec<String> = ctx
        .store
        .owners_and_moderators(list)
        .await
        .with_context(|| format!("cannot read the owners and moderators of {list}"))?
        .into_iter()
        .filter(|m| m.delivery_status == DeliveryStatus::Enabled)
        .filter(|m| seen.insert(m.address.as_str().to_string()))
        .map(|m| m.address.original().to_string())
        .collect();
    if rcpts.is_empty() {
        rcpts.push(ctx.settings.site_owner.clone());
    }
    Ok(rcpts)
}

/// Whether an automatic answer about `about` may go to `poster` (see the module docs).
fn may_answer(ctx: &RunnerContext, about: &About<'_>, poster: &str) -> bool {
    let Ok(message) = Message::parse(about.post) else {
        return false;
    };
    may_answer_message(&message, about.envelope_sender)
        && may_answer_address(poster, |address| {
            mailcast_model::recipient::resolve(address, &*ctx.directory.snapshot()).is_ok()
        })
}

/// RFC 3834's rules about the message: not from the null sender, not automatic, not list
/// traffic.
fn may_answer_message(message: &Message<'_>, envelope_sender: &str) -> bool {
    let value = |name: &str| message.text(name).map(|v| v.trim().to_ascii_lowercase());
    !envelope_sender.trim().is_empty()
        && matches!(value("Auto-Submitted").as_deref(), None | Some("no"))
        && !matches!(
            value("Precedence").as_deref(),
            Some("bulk" | "junk" | "list")
        )
        && !message.has("List-Id")
}

/// RFC 3834's rules about the address: a real, non-automatic mailbox that is not one of our
/// lists (`is_list`).
fn may_answer_address(poster: &str, is_list: impl Fn(&str) -> bool) -> bool {
    let Ok(address) = EmailAddress::parse(poster) else {
        return false;
    };
    let local = address.local_part();
    !(local == "mailer-daemon"
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.ends_with("-bounces")
        || local.contains("-bounces+")
        || is_list(address.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_and_list_mail_is_not_answered() {
        for (headers, sender, answer) in [
            ("", "anne@example.com", true),
            ("", "", false),
            (
                "Auto-Submitted: auto-replied\r\n",
                "anne@example.com",
                false,
            ),
            ("Auto-Submitted: No\r\n", "anne@example.com", true),
            ("Precedence: Bulk\r\n", "anne@example.com", false),
            ("Precedence: first-class\r\n", "anne@example.com", true),
            (
                "List-Id: <other.example.org>\r\n",
                "anne@example.com",
                false,
            ),
        ] {
            let raw = format!("From: anne@example.com\r\n{headers}Subject: x\r\n\r\nbody\r\n");
            let message = Message::parse(raw.as_bytes()).unwrap();
            assert_eq!(
                may_answer_message(&message, sender),
                answer,
                "{headers:?} <{sender}>"
            );
        }
    }

    #[test]
    fn automatic_addresses_and_our_lists_are_not_answered() {
        let ours = |a: &str| a == "ant@lists.example.org";
        for (poster, answer) in [
            ("anne@example.com", true),
            ("Anne.Lee@Example.com", true),
            ("MAILER-DAEMON@example.com", false),
            ("owner-foo@example.com", false),
            ("foo-request@example.com", false),
            ("foo-bounces+x=y@example.com", false),
            ("ant@lists.example.org", false),
            ("not an address", false),
        ] {
            assert_eq!(may_answer_address(poster, ours), answer, "{poster}");
        }
    }
}
