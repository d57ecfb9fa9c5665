//! `news-moderation`: the list gateways a moderated newsgroup, so every post is held.

use mailcast_model::settings::NewsgroupModeration;

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    if ctx.list.settings().newsgroup_moderation == NewsgroupModeration::Moderated {
        RuleOutcome::hit(ctx, "Post to a moderated newsgroup gateway")
    } else {
        RuleOutcome::miss()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;
    use mailcast_model::settings::NewsgroupModeration;

    #[test]
    fn only_moderated_gateways_hit() {
        let raw = "From: a@example.com\n\nhi\n";
        assert!(!Scenario::new(raw).check(Rule::NewsModeration).hit);
        let open = Scenario::new(raw)
            .settings(|s| s.newsgroup_moderation = NewsgroupModeration::OpenModerated);
        assert!(!open.check(Rule::NewsModeration).hit);
        let moderated = Scenario::new(raw)
            .settings(|s| s.newsgroup_moderation = NewsgroupModeration::Moderated);
        assert!(moderated.check(Rule::NewsModeration).hit);
    }
}
