//! `no-senders`: the post has no sender at all (no From, Reply-To, Sender or envelope sender).

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    if ctx.senders.is_empty() {
        RuleOutcome::hit(ctx, "The message has no sender")
    } else {
        RuleOutcome::miss()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn hits_without_any_sender() {
        assert!(
            Scenario::new("Subject: x\n\nhi\n")
                .check(Rule::NoSenders)
                .hit
        );
        assert!(
            !Scenario::new("Subject: x\n\nhi\n")
                .envelope("e@example.com")
                .check(Rule::NoSenders)
                .hit
        );
        assert!(
            !Scenario::new("Sender: s@example.com\n\nhi\n")
                .check(Rule::NoSenders)
                .hit
        );
    }
}
