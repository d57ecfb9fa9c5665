//! `no-subject`: the post has no `Subject`, or only white space in it.

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    match ctx.message.subject() {
        Some(subject) if !subject.trim().is_empty() => RuleOutcome::miss(),
        _ => RuleOutcome::hit(ctx, "Message has no subject"),
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn missing_or_blank_subjects_hit() {
        for (raw, hit) in [
            ("From: a@example.com\n\nhi\n", true),
            ("Subject:   \n\nhi\n", true),
            ("Subject: =?utf-8?q?_?=\n\nhi\n", true),
            ("Subject: hello\n\nhi\n", false),
        ] {
            assert_eq!(
                Scenario::new(raw).check(Rule::NoSubject).hit,
                hit,
                "{raw:?}"
            );
        }
    }
}
