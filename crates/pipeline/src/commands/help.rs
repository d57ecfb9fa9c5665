//! The `help` command: with no topic, every command word with a one-line description in
//! Mailman's layout (names padded to the longest, ` - `, the description); with a topic,
//! that command's usage line, its description and, for `join`, `leave` and `who`, a longer
//! explanation wrapped to 70 columns.
//!
//! The descriptions are mailcast's wording; the usage lines and error texts are Mailman's.
//! Mailman 3.3.10 ships a `help` template but never uses it; mailcast uses it when a site,
//! domain or list has set one (with `$commands` the command table, `$administrator` the
//! owner address, `$version` mailcast's version), and answers exactly like Mailman otherwise.

use super::{Flow, WORDS};
use crate::context::ListContext;
use crate::templates::{self, Overrides, expand};

/// A command word's usage and descriptions.
struct Usage {
    word: &'static str,
    arguments: &'static str,
    short: &'static str,
    long: Option<&'static str>,
}

const JOIN_ARGUMENTS: &str = "[digest=<no|mime|plain>] [address=user@example.com]";

const USAGES: &[Usage] = &[
    Usage {
        word: "confirm",
        arguments: "token",
        short: "Confirm a pending request: a subscription or a held message.",
        long: None,
    },
    Usage {
        word: "echo",
        arguments: "[args]",
        short: "Send your arguments back to you.",
        long: None,
    },
    Usage {
        word: "end",
        arguments: "",
        short: "Stop reading commands here.",
        long: None,
    },
    Usage {
        word: "help",
        arguments: "[command]",
        short: "Describe the email commands.",
        long: None,
    },
    Usage {
        word: "join",
        arguments: JOIN_ARGUMENTS,
        short: "Subscribe to this mailing list.",
        long: Some(
            "You will get a message asking you to confirm the subscription.\n\n\
             With the 'digest' option you choose between digests and one message per post; \
             without it you get one message per post. With the 'address' option you can ask \
             to subscribe an address other than the one you are writing from.\n",
        ),
    },
    Usage {
        word: "leave",
        arguments: "",
        short: "Unsubscribe from this mailing list.",
        long: Some("Unsubscribe from this mailing list.\n\nYou may be asked to confirm."),
    },
    Usage {
        word: "stop",
        arguments: "",
        short: "Another name for 'end'.",
        long: None,
    },
    Usage {
        word: "subscribe",
        arguments: JOIN_ARGUMENTS,
        short: "Another name for 'join'.",
        long: None,
    },
    Usage {
        word: "unsubscribe",
        arguments: "",
        short: "Another name for 'leave'.",
        long: None,
    },
    Usage {
        word: "who",
        arguments: "[delivery=<enabled|disabled>] [mode=<digest|regular>]",
        short: "List the members of this mailing list.",
        long: Some(
            "Sends you the names and addresses of the list's members.\n\n\
             The delivery= and mode= options limit the list to members whose delivery is \
             enabled or disabled, or who get digests or regular delivery. When an option is \
             given more than once, the last one counts.\n",
        ),
    },
];

/// The text `help` answers with (its result lines, without a final line break): the command
/// table when `topic` is `None`, else the topic's usage, or Mailman's
/// `help: no such command: <topic>`.
pub fn help_text(topic: Option<&str>, list: &ListContext, overrides: &Overrides) -> String {
    match topic {
        None => {
            let table = command_table();
            match overrides.get("help") {
                Some(template) => expand(
                    template,
                    list,
                    &[
                        ("commands", table),
                        ("administrator", list.address().sub_address("owner")),
                        ("version", env!("CARGO_PKG_VERSION").to_string()),
                    ],
                ),
                None => table,
            }
        }
        Some(topic) => {
            let topic = topic.to_lowercase();
            match USAGES.iter().find(|u| u.word == topic) {
                Some(usage) => {
                    let mut text = format!("{} {}\n{}", usage.word, usage.arguments, usage.short);
                    if let Some(long) = usage.long {
                        text.push('\n');
                        text.push_str(&templates::wrap(long, 70));
                    }
                    text
                }
                None => format!("help: no such command: {topic}"),
            }
        }
    }
}

/// Runs `help` with its arguments: no argument or one is [`help_text`]; an unknown topic,
/// or more than one argument (`help: too many arguments: ...`), stops the run, as in Mailman.
pub fn help_reply(args: &[&str], list: &ListContext, overrides: &Overrides) -> (String, Flow) {
    match args {
        [] => (help_text(None, list, overrides), Flow::Continue),
        [topic] => {
            let known = WORDS.iter().any(|(w, _)| w.eq_ignore_ascii_case(topic));
            let flow = if known { Flow::Continue } else { Flow::Stop };
            (help_text(Some(topic), list, overrides), flow)
        }
        many => (
            format!(
                "help: too many arguments: {}",
                many.join(" ").to_lowercase()
            ),
            Flow::Stop,
        ),
    }
}

/// `<word padded to the longest> - <short description>`, one line per command word.
fn command_table() -> String {
    let width = USAGES.iter().map(|u| u.word.len()).max().unwrap_or(0);
    USAGES
        .iter()
        .map(|u| format!("{:<width$} - {}", u.word, u.short))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list;

    #[test]
    fn every_command_word_has_a_usage_in_help_order() {
        let words: Vec<&str> = USAGES.iter().map(|u| u.word).collect();
        let registered: Vec<&str> = WORDS.iter().map(|(w, _)| *w).collect();
        assert_eq!(words, registered);
    }

    #[test]
    fn help_without_topic_lists_the_commands_like_mailman() {
        let list = testing_list::list(|_| {});
        let text = help_text(None, &list, &Overrides::new());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10, "{text}");
        assert!(lines[0].starts_with("confirm     - "), "{text}");
        assert!(lines[8].starts_with("unsubscribe - "), "{text}");
        assert!(lines[9].starts_with("who         - "), "{text}");
        assert!(!text.ends_with('\n'));
        assert_eq!(help_reply(&[], &list, &Overrides::new()).1, Flow::Continue);
    }

    #[test]
    fn help_topics_table() {
        let list = testing_list::list(|_| {});
        let none = Overrides::new();
        for (args, first_line, flow) in [
            (
                &["join"][..],
                "join [digest=<no|mime|plain>] [address=user@example.com]",
                Flow::Continue,
            ),
            (
                &["SUBSCRIBE"],
                "subscribe [digest=<no|mime|plain>] [address=user@example.com]",
                Flow::Continue,
            ),
            (&["end"], "end ", Flow::Continue),
            (&["confirm"], "confirm token", Flow::Continue),
            (
                &["who"],
                "who [delivery=<enabled|disabled>] [mode=<digest|regular>]",
                Flow::Continue,
            ),
            (&["Lists"], "help: no such command: lists", Flow::Stop),
            (
                &["join", "Leave"],
                "help: too many arguments: join leave",
                Flow::Stop,
            ),
        ] {
            let (text, got) = help_reply(args, &list, &none);
            assert_eq!(text.lines().next(), Some(first_line), "{args:?}");
            assert_eq!(got, flow, "{args:?}");
        }
        let join = help_text(Some("join"), &list, &none);
        assert_eq!(join.lines().nth(1), Some("Subscribe to this mailing list."));
        assert!(join.lines().all(|l| l.chars().count() <= 70), "{join}");
        assert!(join.contains("\n\nWith the 'digest' option"), "{join}");
        assert_eq!(help_text(Some("echo"), &list, &none).lines().count(), 2);
    }

    #[test]
    fn a_help_template_override_frames_the_table() {
        let list = testing_list::list(|_| {});
        let overrides: Overrides = [(
            "help",
            "Commands for $listname:\n$commands\nAsk $administrator.",
        )]
        .into_iter()
        .collect();
        let text = help_text(None, &list, &overrides);
        assert!(
            text.starts_with("Commands for ant@example.com:\nconfirm     - "),
            "{text}"
        );
        assert!(text.ends_with("\nAsk ant-owner@example.com."), "{text}");
        // Topics are not templated.
        assert_eq!(
            help_text(Some("echo"), &list, &overrides).lines().next(),
            Some("echo [args]")
        );
    }
}
