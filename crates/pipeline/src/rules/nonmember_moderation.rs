//! `nonmember-moderation`: the post comes from someone who is not a member. The first sender
//! decides: the legacy `accept/hold/reject/discard_these_nonmembers` lists first (literal
//! addresses, `^regex`, `@list`), then the address's own moderation action, then
//! `default_nonmember_action`. `defer` means the other rules decide. A post without any sender
//! gets the default action.
//!
//! Misses when any sender is banned or is a member. (Mailman also registers each sender as a
//! nonmember here; the daemon does that when it gathers the [`crate::SenderFacts`].)

use mailcast_model::Action;

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    if ctx.any_banned() {
        return RuleOutcome::miss();
    }
    let settings = ctx.list.settings();
    let Some(first) = ctx.senders.first() else {
        return decided(
            settings.default_nonmember_action,
            None,
            "No sender was found in the message",
        );
    };
    if ctx.senders.iter().any(|s| s.is_member()) {
        return RuleOutcome::miss();
    }
    let compiled = &ctx.list.compiled;
    for (patterns, action, name) in [
        (&compiled.accept_nonmembers, Action::Accept, "accept"),
        (&compiled.hold_nonmembers, Action::Hold, "hold"),
        (&compiled.reject_nonmembers, Action::Reject, "reject"),
        (&compiled.discard_nonmembers, Action::Discard, "discard"),
    ] {
        if patterns.matches(&first.address, &first.member_of) {
            let reason = format!("The sender is in the nonmember {name} list");
            return decided(action, Some(&first.address), &reason);
        }
    }
    let action = first
        .moderation_action
        .unwrap_or(settings.default_nonmember_action);
    if action == Action::Defer {
        return RuleOutcome::miss();
    }
    decided(
        action,
        Some(&first.address),
        "The message is not from a list member",
    )
}

fn decided(action: Action, sender: Option<&str>, reason: &str) -> RuleOutcome {
    if action == Action::Defer {
        return RuleOutcome::miss();
    }
    RuleOutcome {
        hit: true,
        reasons: vec![reason.to_string()],
        moderation_sender: sender.map(str::to_string),
        moderation_action: Some(action),
        ..RuleOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;
    use mailcast_model::{Action, MemberRole};

    const RAW: &str = "From: nobody@example.net\n\nhi\n";

    fn action(s: Scenario) -> Option<Action> {
        s.check(Rule::NonmemberModeration).moderation_action
    }

    #[test]
    fn default_and_own_actions() {
        assert_eq!(action(Scenario::new(RAW)), Some(Action::Hold));
        assert_eq!(
            action(Scenario::new(RAW).settings(|s| s.default_nonmember_action = Action::Reject)),
            Some(Action::Reject)
        );
        assert_eq!(
            action(Scenario::new(RAW).sender(
                "nobody@example.net",
                &[MemberRole::Nonmember],
                Some(Action::Accept),
                false
            )),
            Some(Action::Accept)
        );
        assert_eq!(
            action(Scenario::new(RAW).sender(
                "nobody@example.net",
                &[],
                Some(Action::Defer),
                false
            )),
            None
        );
    }

    #[test]
    fn legacy_lists_come_first_in_mailman_order() {
        let s = Scenario::new(RAW).settings(|s| {
            s.hold_these_nonmembers = vec!["^.*@example\\.net$".into()];
            s.discard_these_nonmembers = vec!["nobody@example.net".into()];
        });
        let out = s.check(Rule::NonmemberModeration);
        assert_eq!(out.moderation_action, Some(Action::Hold));
        assert_eq!(
            out.reasons,
            vec!["The sender is in the nonmember hold list"]
        );
        let listed = Scenario::new(RAW)
            .settings(|s| s.accept_these_nonmembers = vec!["@friends@example.com".into()])
            .sender("nobody@example.net", &[], Some(Action::Discard), false);
        assert_eq!(action(listed), Some(Action::Discard));
        let mut friend = Scenario::new(RAW)
            .settings(|s| s.accept_these_nonmembers = vec!["@friends@example.com".into()]);
        friend = friend.sender("nobody@example.net", &[], None, false);
        let out = friend.with_ctx(|ctx| {
            let mut ctx = ctx.clone();
            ctx.senders[0].member_of = vec!["friends@example.com".into()];
            super::check(&ctx)
        });
        assert_eq!(out.moderation_action, Some(Action::Accept));
    }

    #[test]
    fn members_bans_and_missing_senders() {
        let member = Scenario::new("From: nobody@example.net\nReply-To: m@example.com\n\nhi\n")
            .member("m@example.com");
        assert!(!member.check(Rule::NonmemberModeration).hit);
        let banned = Scenario::new(RAW).sender("nobody@example.net", &[], None, true);
        assert!(!banned.check(Rule::NonmemberModeration).hit);
        let nobody = Scenario::new("Subject: x\n\nhi\n").check(Rule::NonmemberModeration);
        assert_eq!(nobody.moderation_action, Some(Action::Hold));
        assert_eq!(nobody.moderation_sender, None);
    }

    #[test]
    fn only_the_first_sender_decides() {
        let out = Scenario::new("From: first@example.net\nReply-To: second@example.net\n\nhi\n")
            .sender("first@example.net", &[], Some(Action::Defer), false)
            .sender("second@example.net", &[], Some(Action::Reject), false)
            .check(Rule::NonmemberModeration);
        assert!(!out.hit);
    }
}
