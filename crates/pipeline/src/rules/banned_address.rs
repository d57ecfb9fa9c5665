//! `banned-address`: one of the post's senders matches a list or site ban (the daemon
//! resolves bans, literal or `^regex`, into [`crate::SenderFacts::banned`]).
//!
//! mailcast refuses such a post at LMTP time (`550 5.7.1`); Mailman discards it.

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    match ctx.senders.iter().find(|s| s.banned) {
        Some(banned) => RuleOutcome {
            moderation_sender: Some(banned.address.clone()),
            ..RuleOutcome::hit(
                ctx,
                format!(
                    "The sender address {} is banned from this list",
                    banned.address
                ),
            )
        },
        None => RuleOutcome::miss(),
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn any_banned_sender_hits() {
        let raw = "From: a@example.com\nReply-To: b@example.com\n\nhi\n";
        assert!(!Scenario::new(raw).check(Rule::BannedAddress).hit);
        let out = Scenario::new(raw)
            .sender("b@example.com", &[], None, true)
            .check(Rule::BannedAddress);
        assert!(out.hit);
        assert_eq!(out.moderation_sender.as_deref(), Some("b@example.com"));
        // Facts for an address that is not a sender of this message do not count.
        let out = Scenario::new(raw)
            .sender("c@example.com", &[], None, true)
            .check(Rule::BannedAddress);
        assert!(!out.hit);
    }
}
