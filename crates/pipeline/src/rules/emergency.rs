//! `emergency`: the list is in emergency moderation and a moderator has not approved the post.

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    if ctx.list.settings().emergency && !ctx.facts.moderator_approved {
        RuleOutcome::hit(ctx, "Emergency moderation is in effect for this list")
    } else {
        RuleOutcome::miss()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn hits_only_in_emergency_without_approval() {
        let base = || Scenario::new("From: a@example.com\n\nhi\n");
        assert!(!base().check(Rule::Emergency).hit);
        assert!(
            base()
                .settings(|s| s.emergency = true)
                .check(Rule::Emergency)
                .hit
        );
        let approved = base()
            .settings(|s| s.emergency = true)
            .facts(|f| f.moderator_approved = true);
        assert!(!approved.check(Rule::Emergency).hit);
    }
}
