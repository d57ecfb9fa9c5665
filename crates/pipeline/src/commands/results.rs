//! The body of the reply to a command message, in Mailman 3.3.10's exact shape: an opening
//! line, the original's From, Subject, Date and Message-ID, the result lines, then the
//! unprocessed and ignored lines when there are any, and `- Done.`. As in Mailman, the
//! results start with [`NON_TEXT_IGNORED`] when the message is not a single `text/plain`
//! part.
//!
//! The reply goes from the list's `-bounces` address to the sender, with
//! [`RESULTS_SUBJECT`]; the original is not attached (Mailman's guard against backscatter).
//! Building the mail is [`crate::generated`]'s.

use super::script::ignores_non_text;
use crate::message::Message;
use crate::pytext::strip;

/// The first result line when the command message is not one `text/plain` part.
pub const NON_TEXT_IGNORED: &str = "Ignoring non-text/plain MIME parts";

/// The Subject of the results reply.
pub const RESULTS_SUBJECT: &str = "The results of your email commands";

/// The results body. `results` are what the commands printed, one entry per printed text
/// (a line break is added after each); `unprocessed` are the command lines left after a
/// command stopped the run, `ignored` the body lines past `email_commands_max_lines`
/// ([`super::Script::ignored`]). Of those two, empty entries are skipped and the others
/// stripped, as Mailman does.
pub fn results_text(
    original: &Message<'_>,
    results: &[String],
    unprocessed: &[String],
    ignored: &[String],
) -> String {
    let decoded = |name: &str| original.text(name).unwrap_or_else(|| "n/a".to_string());
    let raw = |name: &str| {
        original
            .fields_named(name)
            .next()
            .map_or_else(|| "n/a".to_string(), |f| original.unfolded(f))
    };
    let mut out = String::from("The results of your email command are provided below.\n\n");
    out.push_str("- Original message details:\n");
    out.push_str(&format!("    From: {}\n", decoded("From")));
    out.push_str(&format!("    Subject: {}\n", decoded("Subject")));
    out.push_str(&format!("    Date: {}\n", raw("Date")));
    out.push_str(&format!("    Message-ID: {}\n", raw("Message-ID")));
    out.push_str("\n- Results:\n");
    if ignores_non_text(original) {
        out.push_str(NON_TEXT_IGNORED);
        out.push('\n');
    }
    for result in results {
        out.push_str(result);
        out.push('\n');
    }
    for (heading, lines) in [("Unprocessed", unprocessed), ("Ignored", ignored)] {
        let lines: Vec<&str> = lines
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| strip(l))
            .collect();
        if !lines.is_empty() {
            out.push_str(&format!("\n- {heading}:\n"));
            for line in lines {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.push_str("\n- Done.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMANDS: &str = "From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\n\
Subject: help\r\n\
Date: Fri, 01 Aug 2025 10:00:00\r\n +0000\r\n\
Message-ID: <cmd.1@example.com>\r\n\
\r\n\
echo hi\r\n";

    #[test]
    fn golden_results_body() {
        let message = Message::parse(COMMANDS.as_bytes()).unwrap();
        let text = results_text(
            &message,
            &[
                "echo hi".to_string(),
                "No such command: frobnicate".to_string(),
            ],
            &["  join  ".to_string(), String::new(), "   ".to_string()],
            &["eleventh line".to_string()],
        );
        assert_eq!(
            text,
            "The results of your email command are provided below.\n\
             \n\
             - Original message details:\n    \
             From: Zoë <zoe@example.com>\n    \
             Subject: help\n    \
             Date: Fri, 01 Aug 2025 10:00:00 +0000\n    \
             Message-ID: <cmd.1@example.com>\n\
             \n\
             - Results:\n\
             echo hi\n\
             No such command: frobnicate\n\
             \n\
             - Unprocessed:\n\
             join\n\
             \n\
             \n\
             - Ignored:\n\
             eleventh line\n\
             \n\
             - Done.\n"
        );
    }

    #[test]
    fn empty_sections_are_left_out_and_missing_fields_are_na() {
        let message = Message::parse(b"From: a@example.com\r\n\r\n").unwrap();
        let text = results_text(&message, &[], &[String::new()], &[]);
        assert!(
            text.contains("    Subject: n/a\n    Date: n/a\n    Message-ID: n/a\n"),
            "{text}"
        );
        assert!(text.ends_with("\n- Results:\n\n- Done.\n"), "{text}");
        assert!(
            !text.contains("Unprocessed") && !text.contains("Ignored"),
            "{text}"
        );
    }

    #[test]
    fn multipart_commands_note_the_ignored_parts_first() {
        let raw = "From: a@example.com\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nhelp\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>help</p>\r\n--B--\r\n";
        let message = Message::parse(raw.as_bytes()).unwrap();
        let text = results_text(&message, &["echo".to_string()], &[], &[]);
        assert!(
            text.contains("\n- Results:\nIgnoring non-text/plain MIME parts\necho\n\n- Done.\n"),
            "{text}"
        );
    }
}
