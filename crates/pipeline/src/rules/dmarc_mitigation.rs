//! `dmarc-mitigation`: the first rule of Mailman's posting chain (mailman3-more.md §3.2).
//!
//! The rule is pure: the daemon asks [`domain_to_query`] whether a DNS lookup is needed and
//! for which domain, does it, and passes what it found as [`FromDmarc`] in the message facts.
//! The post is to be mitigated when the first From address matches `dmarc_addresses` (exact,
//! or `^regex` searched case-insensitively) or its domain publishes `p=reject` or
//! `p=quarantine` ([`FromDmarc::Strict`]); a failed lookup ([`FromDmarc::Failed`]) counts as
//! strict, as in Mailman (mitigate when in doubt).
//!
//! What a mitigated post gets depends on `dmarc_mitigate_action`:
//! - `reject`: a hit with the list's `dmarc_moderation_notice` or Mailman's default text,
//!   wrapped to 70 columns (the chain rejects; at LMTP time a `550 5.7.1`);
//! - `discard`: a hit with the reason "DMARC moderation" (the chain discards);
//! - `munge_from`, `wrap_message`: no hit, but [`RuleOutcome::dmarc`] is set so that the
//!   DMARC handler ([`crate::handlers::dmarc`]) changes the members' copy.
//!
//! `dmarc_mitigate_unconditionally` is the handler's business: with it, `munge_from` and
//! `wrap_message` need no lookup, and `reject` and `discard` still depend on the policy.

use mailcast_model::settings::DmarcMitigateAction;

use super::{RuleContext, RuleOutcome};
use crate::context::{FromDmarc, ListContext};
use crate::message::Message;
use crate::templates::wrap;

/// Mailman's reason for a discarded post.
pub const DISCARD_REASON: &str = "DMARC moderation";

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    let list = ctx.list;
    let action = list.settings().dmarc_mitigate_action;
    if action == DmarcMitigateAction::NoMitigation {
        return RuleOutcome::miss();
    }
    let address = first_from(ctx.message).unwrap_or_default();
    let mitigate =
        listed(list, &address) || matches!(ctx.facts.dmarc, FromDmarc::Strict | FromDmarc::Failed);
    if !mitigate {
        return RuleOutcome::miss();
    }
    let reason = match action {
        DmarcMitigateAction::Discard => DISCARD_REASON.to_string(),
        DmarcMitigateAction::Reject => rejection_text(list),
        // Munge and wrap: no hit, the handler acts on the flag.
        _ => {
            return RuleOutcome {
                dmarc: true,
                ..RuleOutcome::miss()
            };
        }
    };
    RuleOutcome {
        hit: true,
        reasons: vec![reason],
        moderation_sender: Some(address),
        moderation_action: Some(match action {
            DmarcMitigateAction::Discard => mailcast_model::Action::Discard,
            _ => mailcast_model::Action::Reject,
        }),
        rewritten: None,
        dmarc: true,
    }
}

/// The From domain whose DMARC policy the daemon must look up before running the chain, or
/// `None` when no lookup is needed: the list does not mitigate, `dmarc_addresses` already
/// names the author, `munge_from`/`wrap_message` apply unconditionally, or the first From
/// address has no domain. The domain is lower-cased.
pub fn domain_to_query(message: &Message<'_>, list: &ListContext) -> Option<String> {
    let settings = list.settings();
    match settings.dmarc_mitigate_action {
        DmarcMitigateAction::NoMitigation => return None,
        DmarcMitigateAction::MungeFrom | DmarcMitigateAction::WrapMessage
            if settings.dmarc_mitigate_unconditionally =>
        {
            return None;
        }
        _ => {}
    }
    let address = first_from(message)?;
    if listed(list, &address) {
        return None;
    }
    // Scan from the right: a quoted local part may contain an `@`.
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// The first address of the first From field, lower-cased (Mailman's `parseaddr`).
fn first_from(message: &Message<'_>) -> Option<String> {
    let field = message.fields_named("From").next()?;
    crate::message::parse_addresses(field.raw_value(message.raw()))
        .into_iter()
        .next()
        .map(|a| a.email)
}

/// Whether `dmarc_addresses` names the (lower-cased) address.
fn listed(list: &ListContext, address: &str) -> bool {
    list.compiled.dmarc_addresses.matches(address, &[])
}

/// The reason of a rejection: the list's `dmarc_moderation_notice` or Mailman's default
/// text naming the owner address, wrapped to 70 columns.
pub fn rejection_text(list: &ListContext) -> String {
    let notice = list.settings().dmarc_moderation_notice.0.trim();
    let text = if notice.is_empty() {
        format!(
            "You are not allowed to post to this mailing list From: a domain which publishes a \
             DMARC policy of reject or quarantine, and your message has been automatically \
             rejected.  If you think that your messages are being rejected in error, contact \
             the mailing list owner at {}.",
            list.address().sub_address("owner")
        )
    } else {
        notice.to_string()
    };
    wrap(&text, 70)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    const POST: &str =
        "From: Jane Doe <Jane@Yahoo.COM>\nTo: ant@example.com\nSubject: hi\n\nhello\n";

    fn scenario(action: DmarcMitigateAction) -> Scenario {
        Scenario::new(POST).settings(|s| s.dmarc_mitigate_action = action)
    }

    #[test]
    fn default_rejection_text_is_mailmans_wrapped_to_70_columns() {
        let s = scenario(DmarcMitigateAction::Reject).facts(|f| f.dmarc = FromDmarc::Strict);
        let outcome = s.check(Rule::DmarcMitigation);
        assert!(outcome.hit && outcome.dmarc);
        assert_eq!(
            outcome.reasons,
            vec![
                "You are not allowed to post to this mailing list From: a domain which\n\
                 publishes a DMARC policy of reject or quarantine, and your message has\n\
                 been automatically rejected.  If you think that your messages are\n\
                 being rejected in error, contact the mailing list owner at\n\
                 ant-owner@example.com."
            ]
        );
        assert_eq!(outcome.moderation_sender.as_deref(), Some("jane@yahoo.com"));
    }

    #[test]
    fn the_lookup_is_asked_only_when_it_can_decide() {
        let query = |edit: fn(&mut mailcast_model::settings::ListSettings), raw: &str| {
            let s = Scenario::new(raw).settings(edit);
            let list = s.list();
            let raw = raw.replace('\n', "\r\n");
            let message = Message::parse(raw.as_bytes()).unwrap();
            domain_to_query(&message, &list)
        };
        let munge = |s: &mut mailcast_model::settings::ListSettings| {
            s.dmarc_mitigate_action = DmarcMitigateAction::MungeFrom
        };
        assert_eq!(query(munge, POST).as_deref(), Some("yahoo.com"));
        assert_eq!(query(|_| {}, POST), None);
        assert_eq!(
            query(
                |s| {
                    s.dmarc_mitigate_action = DmarcMitigateAction::WrapMessage;
                    s.dmarc_mitigate_unconditionally = true;
                },
                POST
            ),
            None
        );
        assert_eq!(
            query(
                |s| {
                    s.dmarc_mitigate_action = DmarcMitigateAction::Reject;
                    s.dmarc_mitigate_unconditionally = true;
                },
                POST
            )
            .as_deref(),
            Some("yahoo.com")
        );
        assert_eq!(
            query(
                |s| {
                    s.dmarc_mitigate_action = DmarcMitigateAction::Discard;
                    s.dmarc_addresses = vec!["^jane@".into()];
                },
                POST
            ),
            None
        );
        assert_eq!(query(munge, "From: nobody\nSubject: x\n\nb\n"), None);
        assert_eq!(
            query(
                munge,
                "From: a@Sub.Example.ORG, b@other.example\nSubject: x\n\nb\n"
            )
            .as_deref(),
            Some("sub.example.org")
        );
    }
}
