//! The command lines of a message, exactly as Mailman 3.3.10's `CommandFinder` collects
//! them: the decoded Subject with its non-ASCII characters dropped, then the lines of the
//! first `text/plain` part (depth first, attached messages included, like Python's
//! `walk()`), decoded from its transfer encoding and charset. Of the body lines the first
//! `max_lines` are commands and the rest are ignored; blank lines count, quoted lines are
//! not skipped (a `> confirm <token>` line is a `confirm`, through the second-word rule).
//!
//! Unlike Mailman, a part with an unknown charset is read as UTF-8 (Mailman fails on it and
//! shunts the message). Parsing the lines is [`super::parse_line`]'s; Mailman's note that
//! non-text parts were ignored is written by [`super::results::results_text`].

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::charset::Charset;
use crate::message::Message;
use crate::mime::TransferEncoding;
use crate::pytext::splitlines;

/// The lines of a command message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// The command lines in order: the Subject (empty when there is none), then at most
    /// `max_lines` body lines, unstripped.
    pub lines: Vec<String>,
    /// The body lines after those, reported as `- Ignored:`.
    pub ignored: Vec<String>,
}

/// Collects the command lines of `message`.
pub fn read(message: &Message<'_>, max_lines: usize) -> Script {
    let subject: String = message
        .subject()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii)
        .collect();
    let mut script = Script {
        lines: vec![subject],
        ignored: Vec::new(),
    };
    if let Some((_, text)) = first_text(message) {
        let lines = splitlines(&text, false);
        let split = max_lines.min(lines.len());
        script
            .lines
            .extend(lines[..split].iter().map(|l| l.to_string()));
        script.ignored = lines[split..].iter().map(|l| l.to_string()).collect();
    }
    script
}

/// Whether Mailman notes that it ignored non-text/plain parts: the message is not a single
/// `text/plain` part (it is multipart, even with a `text/plain` part, or of another type).
pub(crate) fn ignores_non_text(message: &Message<'_>) -> bool {
    !matches!(first_text(message), Some((true, _)))
}

/// The decoded first `text/plain` part, and whether it is the message itself.
fn first_text(message: &Message<'_>) -> Option<(bool, String)> {
    MessageParser::new()
        .parse(message.raw())
        .and_then(|parsed| first_text_plain(&parsed, 0))
}

/// The first `text/plain` part under part `id` of `message`, depth first, decoded; with
/// whether it is the message itself.
fn first_text_plain(message: &mail_parser::Message<'_>, id: u32) -> Option<(bool, String)> {
    let part = message.part(id)?;
    match &part.body {
        PartType::Multipart(children) => children
            .iter()
            .find_map(|&child| first_text_plain(message, child)),
        PartType::Message(nested) => first_text_plain(nested, 0).map(|(_, text)| (false, text)),
        _ if is_text_plain(part) => {
            let raw = message.raw_message.as_ref();
            let start = (part.offset_body as usize).min(raw.len());
            let end = (part.offset_end as usize).clamp(start, raw.len());
            let encoding = TransferEncoding::from_header(part.content_transfer_encoding());
            let bytes = encoding.decode(&raw[start..end]);
            let charset = part
                .content_type()
                .and_then(|ct| ct.attribute("charset"))
                .map_or(Some(Charset::Ascii), Charset::from_label)
                .unwrap_or(Charset::Utf8);
            Some((id == 0, charset.decode_lossy(&bytes)))
        }
        _ => None,
    }
}

/// Python's `get_content_type() == 'text/plain'`: no Content-Type, or one without a
/// subtype, counts as `text/plain`.
fn is_text_plain(part: &mail_parser::MessagePart<'_>) -> bool {
    match part.content_type() {
        None => true,
        Some(ct) => match ct.subtype() {
            None => true,
            Some(sub) => {
                ct.ctype().eq_ignore_ascii_case("text") && sub.eq_ignore_ascii_case("plain")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(lines: &[&str], ignored: &[&str]) -> Script {
        Script {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            ignored: ignored.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// (message written with `\n`, max_lines, the lines Mailman 3.3.10's CommandFinder finds,
    /// whether it notes ignored non-text parts).
    #[test]
    fn finds_lines_like_mailman() {
        let cases: Vec<(&str, usize, Script, bool)> = vec![
            (
                "From: a@example.com\nSubject: help\n\njoin\n\n  leave  \nwho\n",
                10,
                script(&["help", "join", "", "  leave  ", "who"], &[]),
                false,
            ),
            (
                "From: a@example.com\n\none\ntwo\nthree\n",
                2,
                script(&["", "one", "two"], &["three"]),
                false,
            ),
            (
                "Subject: =?utf-8?q?R=C3=A9=3A_confirm_abc?=\n\n",
                10,
                script(&["R: confirm abc"], &[]),
                false,
            ),
            (
                "Subject: x\n\n> confirm abc\n\x0bsecond\x0cthird",
                10,
                script(&["x", "> confirm abc", "", "second", "third"], &[]),
                false,
            ),
            (
                "Subject: b64\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nam9pbiBkaWdlc3Q9bWltZQpsZWF2ZQo=\n",
                10,
                script(&["b64", "join digest=mime", "leave"], &[]),
                false,
            ),
            (
                "Subject: qp\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\necho caf=E9 au=\n lait\n",
                10,
                script(&["qp", "echo café au lait"], &[]),
                false,
            ),
            (
                "Subject: 8bit\nContent-Type: text/plain\n\necho caf\u{e9}\n",
                10,
                script(&["8bit", "echo caf\u{fffd}\u{fffd}"], &[]),
                false,
            ),
            (
                "Subject: alt\nContent-Type: multipart/alternative; boundary=B\n\n--B\nContent-Type: text/html\n\n<p>who</p>\n--B\nContent-Type: text/plain\n\nwho\n--B--\n",
                10,
                script(&["alt", "who"], &[]),
                true,
            ),
            (
                "Subject: html\nContent-Type: text/html\n\n<p>help</p>\n",
                10,
                script(&["html"], &[]),
                true,
            ),
            (
                "Subject: nested\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner help\n--B\nContent-Type: text/plain\n\nouter help\n--B--\n",
                10,
                script(&["nested", "inner help"], &[]),
                true,
            ),
            ("Subject: none\n\n", 10, script(&["none"], &[]), false),
            (
                "Subject: zero\n\na\nb\n",
                0,
                script(&["zero"], &["a", "b"]),
                false,
            ),
        ];
        for (text, max_lines, want, non_text) in cases {
            let raw = text.replace('\n', "\r\n");
            let message = Message::parse(raw.as_bytes()).unwrap();
            assert_eq!(read(&message, max_lines), want, "{text:?}");
            assert_eq!(ignores_non_text(&message), non_text, "{text:?}");
        }
    }
}
