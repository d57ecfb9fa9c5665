//! `max-size`: the post as received is larger than `max_message_size` kilobytes (0: no limit).

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    let limit_kb = ctx.list.settings().max_message_size.0;
    if limit_kb > 0 && ctx.facts.original_size > limit_kb.saturating_mul(1024) {
        RuleOutcome::hit(
            ctx,
            format!("The message is larger than the {limit_kb} KB maximum size"),
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
    fn size_limit_table() {
        for (size, limit, hit) in [
            (40 * 1024, 40, false),
            (40 * 1024 + 1, 40, true),
            (10_000_000, 0, false),
        ] {
            let s = Scenario::new("From: a@example.com\n\nhi\n")
                .settings(|s| s.max_message_size = Count(limit))
                .facts(|f| f.original_size = size);
            assert_eq!(s.check(Rule::MaxSize).hit, hit, "{size} vs {limit} KB");
        }
    }
}
