//! `administrivia`: the post looks like an email command sent to the posting address by
//! mistake: the Subject, or one of the first `email_commands_max_lines` non-blank lines of the
//! first `text/plain` part, starts with a command word followed by a plausible number of
//! arguments.
//!
//! Only those lines are read ([`super::body_lines`]): the rest of the body is never decoded.

use super::{RuleContext, RuleOutcome, body_lines};

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
    let in_subject = ctx
        .message
        .subject()
        .is_some_and(|subject| looks_like_command(&subject));
    let max_lines = ctx.list.site().email_commands_max_lines;
    if in_subject || body_lines::any_of_first(ctx.message, max_lines, looks_like_command) {
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
    use proptest::prelude::*;

    use super::*;
    use crate::mime::leaves;
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
            ("hello", "1\n\n2\n3\n4\n5\n6\n7\n8\n9\nhelp\n", true),
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
        let fewer =
            Scenario::new("Subject: x\n\n1\nhelp\n").site(|s| s.email_commands_max_lines = 1);
        assert!(!fewer.check(Rule::Administrivia).hit);
    }

    /// The rule as it was before it learnt to stop early: the whole first text/plain part
    /// decoded, then its first lines. The property below holds the two to the same answers.
    fn reference(ctx: &RuleContext<'_>) -> bool {
        if !ctx.list.settings().administrivia {
            return false;
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
        lines.iter().any(|line| looks_like_command(line))
    }

    fn header_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("Content-Type: text/plain\n".to_string()),
            Just("Content-Type: text/plain; charset=iso-8859-1\n".to_string()),
            Just("Content-Type: text/html\n".to_string()),
            Just("Content-Type: text/plain\nContent-Type: text/html\n".to_string()),
            Just("Content-Transfer-Encoding: quoted-printable\n".to_string()),
            Just("Content-Transfer-Encoding: base64\n".to_string()),
            Just("Content-Transfer-Encoding: 8bit\n".to_string()),
            Just("Content-Transfer-Encoding: x-unknown\n".to_string()),
            Just("Content-Type: multipart/mixed; boundary=B\n".to_string()),
            Just("Content-Type: multipart/alternative\n".to_string()),
            Just("Content-Type: message/rfc822\n".to_string()),
        ]
    }

    fn body_strategy() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("help".to_string()),
            Just("subscribe".to_string()),
            Just("confirm abc".to_string()),
            Just("  ".to_string()),
            Just(String::new()),
            Just("hello there".to_string()),
            Just("sub=".to_string()),
            Just("=3D help".to_string()),
            Just("aGVscAo=".to_string()),
            Just("aGVsbG8KaGVscAo=".to_string()),
            Just("--B".to_string()),
            Just("--B--".to_string()),
            Just("Content-Type: text/plain".to_string()),
            Just("caf\u{e9} \u{a0}help".to_string()),
            "[a-z =]{0,12}",
        ];
        prop::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #[test]
        fn stopping_early_changes_no_answer(
            headers in prop::collection::vec(header_strategy(), 0..3),
            body in body_strategy(),
            max in 0usize..12,
            lf_only in any::<bool>(),
        ) {
            let text = format!("From: a@example.com\nSubject: hi\n{}\n{body}", headers.concat());
            let mut scenario = Scenario::new(&text).site(|s| s.email_commands_max_lines = max);
            if lf_only {
                scenario = scenario.raw(text.into_bytes());
            }
            let (fast, slow) = scenario.with_ctx(|ctx| (check(ctx).hit, reference(ctx)));
            prop_assert_eq!(fast, slow);
        }
    }
}
