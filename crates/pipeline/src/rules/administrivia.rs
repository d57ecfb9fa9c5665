//! `administrivia`: the post looks like an email command sent to the posting address by
//! mistake: the Subject, or one of the first `email_commands_max_lines` non-blank lines of the
//! first `text/plain` part, starts with a command word followed by a plausible number of
//! arguments.

use super::{RuleContext, RuleOutcome};
use crate::mime::leaves;

/// Command words and their (minimum, maximum) argument counts, as Mailman lists them.
const COMMANDS: &[(&str, usize, usize)] = &[
    ("confirm", 1, 1),
    ("help", 0, 0),
    ("info", 0, 0),
    ("lists", 0, 0),
    ("options", 0, 0),
    ("password", 2, 2),
    ("remove", 0, 0),
    ("set", 3, 3),
    ("subscribe", 0, 3),
    ("unsubscribe", 0, 1),
    ("who", 0, 2),
];

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    if !ctx.list.settings().administrivia {
        return RuleOutcome::miss();
    }
    let mut lines: Vec<String> = ctx.message.subject().into_iter().collect();
    let raw = ctx.message.raw();
    if let Some(text) = leaves(raw)
        .into_iter()
        .find(|l| l.mime_type == "text/plain")
    {
        let content = text.encoding.decode(&raw[text.body.clone()]);
        let content = String::from_utf8_lossy(&content);
        lines.extend(
            content
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .take(ctx.list.site().email_commands_max_lines)
                .map(str::to_string),
        );
    }
    if lines.iter().any(|line| looks_like_command(line)) {
        RuleOutcome::hit(ctx, "Message contains administrivia")
    } else {
        RuleOutcome::miss()
    }
}

fn looks_like_command(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else {
        return false;
    };
    let args = words.count();
    COMMANDS
        .iter()
        .any(|&(word, min, max)| first.eq_ignore_ascii_case(word) && (min..=max).contains(&args))
}

#[cfg(test)]
mod tests {
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;

    #[test]
    fn command_lines_table() {
        for (subject, body, hit) in [
            ("unsubscribe", "", true),
            ("Unsubscribe me please now", "", false),
            ("hello", "\n\nsubscribe\n", true),
            ("hello", "confirm abc123\n", true),
            ("hello", "confirm\n", false),
            ("hello", "help me with this\n", false),
            ("hello", "set digest on plain\n", true),
            ("", "who\n", true),
            ("hello", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\nhelp\n", false),
        ] {
            let raw = format!("From: a@example.com\nSubject: {subject}\n\n{body}");
            assert_eq!(
                Scenario::new(&raw).check(Rule::Administrivia).hit,
                hit,
                "{subject:?} {body:?}"
            );
        }
        let off = Scenario::new("Subject: help\n\n").settings(|s| s.administrivia = false);
        assert!(!off.check(Rule::Administrivia).hit);
    }
}
