//! `implicit-dest`: with `require_explicit_destination`, neither the posting address nor an
//! `acceptable_aliases` entry (literal or `^regex`) appears in To, Cc, Resent-To or Resent-Cc.
//! Posts from the news gateway are never checked.

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    if !ctx.list.settings().require_explicit_destination || ctx.facts.from_usenet {
        return RuleOutcome::miss();
    }
    let posting = ctx.list.address().posting_address();
    let aliases = &ctx.list.compiled.acceptable_aliases;
    let explicit = ["To", "Cc", "Resent-To", "Resent-Cc"]
        .iter()
        .flat_map(|name| ctx.message.addresses(name))
        .any(|a| a.email == posting || aliases.matches(&a.email, &[]));
    if explicit {
        RuleOutcome::miss()
    } else {
        RuleOutcome::hit(ctx, "Message has implicit destination")
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn destination_table() {
        for (headers, aliases, hit) in [
            ("To: ant@example.com", vec![], false),
            ("To: Ant List <ANT@example.com>", vec![], false),
            ("Cc: x@example.com, ant@example.com", vec![], false),
            ("Resent-To: ant@example.com", vec![], false),
            ("To: x@example.com", vec![], true),
            ("To: undisclosed-recipients:;", vec![], true),
            (
                "To: ants@lists.example.com",
                vec!["ants@lists.example.com"],
                false,
            ),
            (
                "To: ants@old.example.com",
                vec!["^ants@.*\\.example\\.com$"],
                false,
            ),
            ("To: bees@old.example.com", vec!["^ants@"], true),
        ] {
            let raw = format!("From: a@example.com\n{headers}\n\nhi\n");
            let s = Scenario::new(&raw).settings(|s| {
                s.acceptable_aliases = aliases.iter().map(|a| a.to_string()).collect()
            });
            assert_eq!(s.check(Rule::ImplicitDest).hit, hit, "{headers}");
        }
        let off = Scenario::new("To: x@example.com\n\n")
            .settings(|s| s.require_explicit_destination = false);
        assert!(!off.check(Rule::ImplicitDest).hit);
        let news = Scenario::new("To: x@example.com\n\n").facts(|f| f.from_usenet = true);
        assert!(!news.check(Rule::ImplicitDest).hit);
    }
}
