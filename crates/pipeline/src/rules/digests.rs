//! `digests`: with the site's `hold_digest` on, a post whose Subject looks like a digest
//! (`... Digest, Vol N, Issue N`) is held. Mailman also counts quoted masthead lines; that
//! needs the digest templates, which the pipeline does not have.

use regex::Regex;
use std::sync::OnceLock;

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    static DIGEST_SUBJECT: OnceLock<Regex> = OnceLock::new();
    if !ctx.list.site().hold_digest {
        return RuleOutcome::miss();
    }
    // The pattern is a literal and always compiles.
    let pattern = DIGEST_SUBJECT
        .get_or_init(|| Regex::new(r"(?i)\bDigest, Vol \d+, Issue \d+\s*$").expect("valid regex"));
    match ctx.message.subject() {
        Some(subject) if pattern.is_match(&subject) => {
            RuleOutcome::hit(ctx, "Message has a digest subject")
        }
        _ => RuleOutcome::miss(),
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn digest_subjects_hit_only_when_the_site_holds_them() {
        let raw = "From: a@example.com\nSubject: Re: Ant Digest, Vol 3, Issue 12\n\nhi\n";
        assert!(!Scenario::new(raw).check(Rule::Digests).hit);
        assert!(
            Scenario::new(raw)
                .site(|s| s.hold_digest = true)
                .check(Rule::Digests)
                .hit
        );
        let plain = Scenario::new("Subject: my digest\n\nhi\n").site(|s| s.hold_digest = true);
        assert!(!plain.check(Rule::Digests).hit);
    }
}
