//! `suspicious-header`: a header matches one of the `bounce_matching_headers` lines
//! (`Header: regex`, searched case-insensitively in each unfolded value).

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    for pattern in &ctx.list.compiled.bounce_matching {
        for field in ctx.message.fields_named(&pattern.header) {
            let value = ctx.message.unfolded(field);
            if pattern.regex.is_match(&value) {
                let name = ctx.message.name_of(field);
                return RuleOutcome::hit(
                    ctx,
                    format!("Header \"{name}: {value}\" matched a bounce_matching_headers line"),
                );
            }
        }
    }
    RuleOutcome::miss()
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn mailman_default_lines_match() {
        for (headers, hit) in [
            ("To: friend@public.com", true),
            ("To: Friend@Public.com", true),
            ("From: someone@uplinkpro.com", true),
            ("Message-ID: <x.relay.comanche.denmark.eu>", true),
            ("To: ant@example.com", false),
        ] {
            let raw = format!("{headers}\n\nhi\n");
            assert_eq!(
                Scenario::new(&raw).check(Rule::SuspiciousHeader).hit,
                hit,
                "{headers}"
            );
        }
        let off = Scenario::new("To: friend@public.com\n\n")
            .settings(|s| s.bounce_matching_headers.0.clear());
        assert!(!off.check(Rule::SuspiciousHeader).hit);
    }
}
