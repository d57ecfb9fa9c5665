//! `max-recipients`: To and Cc together name `max_num_recipients` addresses or more (0: no
//! limit).

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    let limit = ctx.list.settings().max_num_recipients.0;
    if limit == 0 {
        return RuleOutcome::miss();
    }
    let count = (ctx.message.addresses("To").len() + ctx.message.addresses("Cc").len()) as u64;
    if count >= limit {
        RuleOutcome::hit(
            ctx,
            format!(
                "Message has {count} recipients; the list allows at most {}",
                limit - 1
            ),
        )
    } else {
        RuleOutcome::miss()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;
    use mailcast_model::settings::Count;

    #[test]
    fn counts_to_and_cc() {
        let raw = "From: a@example.com\nTo: ant@example.com, b@example.com\nCc: c@example.com\nCc: d@example.com\n\nhi\n";
        for (limit, hit) in [(0, false), (4, true), (5, false), (3, true)] {
            let s = Scenario::new(raw).settings(|s| s.max_num_recipients = Count(limit));
            assert_eq!(s.check(Rule::MaxRecipients).hit, hit, "limit {limit}");
        }
    }
}
