//! The incoming runner's DMARC facts (mailman3-more.md §3.2): the From domain's policy the
//! posting chain judges on — the one found at LMTP time when the entry carries it
//! ([`dns::dmarc::carry`]), else looked up now — the `dmarc-mitigation` rule alone for a post a
//! moderator approved, and the poster's roster name a munged From falls back on.

use mailcast_model::{EmailAddress, ListAddress, MemberRole};
use mailcast_pipeline::context::FromDmarc;
use mailcast_pipeline::message::Message;
use mailcast_pipeline::rules::RuleContext;
use mailcast_pipeline::rules::dmarc_mitigation::domain_to_query;
use mailcast_pipeline::{ListContext, MessageFacts};
use mailcast_spool::EntryMeta;

use super::super::RunnerContext;
use crate::dns;

/// The DMARC policy the chain judges on: the one found at LMTP time when the entry carries
/// it, else looked up now if the list's rule needs it.
pub(super) async fn facts(
    ctx: &RunnerContext,
    meta: &EntryMeta,
    message: &Message<'_>,
    list_ctx: &ListContext,
) -> FromDmarc {
    if let Some(found) = dns::dmarc::carry::from_attr(meta.attrs.get(dns::dmarc::carry::ATTR)) {
        return found;
    }
    match domain_to_query(message, list_ctx) {
        Some(domain) => dns::dmarc::facts_for(ctx.dns.as_ref(), &domain).await,
        None => FromDmarc::NotLookedUp,
    }
}

/// Whether a post a moderator approved is to be mitigated: the chain is skipped, so the
/// `dmarc-mitigation` rule alone runs again, on the policy the held entry carries (Mailman
/// keeps `msgdata['dmarc']` with the held message).
pub(super) async fn approved(
    ctx: &RunnerContext,
    meta: &EntryMeta,
    message: &Message<'_>,
    list_ctx: &ListContext,
    envelope_sender: Option<&str>,
) -> bool {
    let facts = MessageFacts {
        original_size: meta.original_size,
        dmarc: facts(ctx, meta, message, list_ctx).await,
        ..MessageFacts::default()
    };
    let rule = RuleContext::new(message, list_ctx, &[], envelope_sender, facts);
    mailcast_pipeline::rules::dmarc_mitigation::check(&rule).dmarc
}

/// The poster's display name on the list's roster (as a member, else any role), which a
/// munged From uses when the post's From has none.
pub(super) async fn roster_name(
    ctx: &RunnerContext,
    list: &ListAddress,
    sender: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let Some(address) = sender.and_then(|s| EmailAddress::parse(s).ok()) else {
        return Ok(None);
    };
    let memberships = ctx.store.member(list, &address).await?;
    let named = |m: &&mailcast_store::Member| {
        m.display_name
            .as_deref()
            .is_some_and(|n| !n.trim().is_empty())
    };
    Ok(memberships
        .iter()
        .filter(named)
        .find(|m| m.role == MemberRole::Member)
        .or_else(|| memberships.iter().find(named))
        .and_then(|m| m.display_name.clone()))
}
