//! `member-moderation`: the post comes from a member whose moderation action (its own, or the
//! list's `default_member_action`) is not `defer`; the chain then applies that action.
//!
//! Misses when any sender is banned (banned-address decides those) or no sender is a member.

use mailcast_model::Action;

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    if ctx.any_banned() {
        return RuleOutcome::miss();
    }
    let Some(member) = ctx.senders.iter().find(|s| s.is_member()) else {
        return RuleOutcome::miss();
    };
    let action = member
        .moderation_action
        .unwrap_or(ctx.list.settings().default_member_action);
    if action == Action::Defer {
        return RuleOutcome::miss();
    }
    RuleOutcome {
        hit: true,
        reasons: vec!["The message comes from a moderated member".to_string()],
        moderation_sender: Some(member.address.clone()),
        moderation_action: Some(action),
        ..RuleOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;
    use mailcast_model::{Action, MemberRole};

    const RAW: &str = "From: anne@example.com\nReply-To: bart@example.com\n\nhi\n";

    #[test]
    fn action_table() {
        let member = [MemberRole::Member];
        for (own, default, want) in [
            (None, Action::Defer, None),
            (None, Action::Hold, Some(Action::Hold)),
            (Some(Action::Accept), Action::Hold, Some(Action::Accept)),
            (Some(Action::Defer), Action::Hold, None),
            (Some(Action::Discard), Action::Defer, Some(Action::Discard)),
            (Some(Action::Reject), Action::Defer, Some(Action::Reject)),
        ] {
            let out = Scenario::new(RAW)
                .settings(|s| s.default_member_action = default)
                .sender("anne@example.com", &member, own, false)
                .check(Rule::MemberModeration);
            assert_eq!(
                out.moderation_action, want,
                "own {own:?} default {default:?}"
            );
            assert_eq!(out.hit, want.is_some());
            if out.hit {
                assert_eq!(out.moderation_sender.as_deref(), Some("anne@example.com"));
            }
        }
    }

    #[test]
    fn any_sender_may_be_the_member_and_bans_win() {
        let out = Scenario::new(RAW)
            .sender(
                "bart@example.com",
                &[MemberRole::Member],
                Some(Action::Hold),
                false,
            )
            .check(Rule::MemberModeration);
        assert_eq!(out.moderation_sender.as_deref(), Some("bart@example.com"));
        let banned = Scenario::new(RAW)
            .sender(
                "bart@example.com",
                &[MemberRole::Member],
                Some(Action::Hold),
                false,
            )
            .sender("anne@example.com", &[], None, true)
            .check(Rule::MemberModeration);
        assert!(!banned.hit);
        // An owner who is not subscribed is not a member (Mailman's behaviour).
        let owner = Scenario::new(RAW)
            .sender(
                "anne@example.com",
                &[MemberRole::Owner],
                Some(Action::Hold),
                false,
            )
            .check(Rule::MemberModeration);
        assert!(!owner.hit);
    }
}
