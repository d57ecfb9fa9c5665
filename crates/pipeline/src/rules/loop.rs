//! `loop`: the post has already been through this list: it carries this list's `List-Post`
//! or `List-Id`, or an `X-BeenThere` naming the posting address.
//!
//! mailcast refuses such a post at LMTP time (`550 5.4.6`); Mailman discards it.

use super::{RuleContext, RuleOutcome};

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    let posting = ctx.list.address().posting_address();
    let list_id = format!("<{}>", ctx.list.address().list_id());
    let message = ctx.message;
    let mentions = |name: &str, needle: &str| {
        message
            .fields_named(name)
            .any(|f| message.unfolded(f).to_ascii_lowercase().contains(needle))
    };
    let list_post = mentions("List-Post", &format!("<mailto:{posting}>"));
    let list_id_seen = mentions("List-Id", &list_id);
    let been_there = message.fields_named("X-BeenThere").any(|f| {
        let value = message.unfolded(f);
        value
            .trim_matches(|c| c == '<' || c == '>' || c == ' ')
            .eq_ignore_ascii_case(&posting)
    });
    if list_post || list_id_seen || been_there {
        RuleOutcome::hit(
            ctx,
            "The message has already been distributed by this list (mail loop)",
        )
    } else {
        RuleOutcome::miss()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn loop_markers_table() {
        for (header, hit) in [
            ("List-Post: <mailto:ant@example.com>", true),
            ("List-Post: <mailto:ANT@Example.com>", true),
            ("List-Post: <mailto:bee@example.com>", false),
            ("List-Id: Ant list <ant.example.com>", true),
            ("List-Id: <other.example.com>", false),
            ("X-BeenThere: ant@example.com", true),
            ("X-BeenThere: <ant@example.com>", true),
            ("X-BeenThere: bee@example.com", false),
            ("X-Other: <ant.example.com>", false),
        ] {
            let raw = format!("From: a@example.com\n{header}\n\nhi\n");
            assert_eq!(Scenario::new(&raw).check(Rule::Loop).hit, hit, "{header}");
        }
    }
}
