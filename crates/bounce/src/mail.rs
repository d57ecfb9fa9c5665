//! The parsed message as the analysers see it: its top-level header fields (raw, unfolded),
//! its decoded Subject and Content-Type, and its top-level leaf parts with bounded bodies.
//!
//! "Top-level" means not inside an attached `message/rfc822` or `message/global`: the
//! returned original message is never looked into, so the addresses in it cannot be taken
//! for recipients, and is not even parsed when it comes last ([`crate::prefix`]).
//!
//! The work is bounded here, once for every analyser: at most [`MAX_INPUT`] bytes are
//! parsed, at most [`MAX_PARTS`] parts are looked at, and at most [`MAX_TEXT`] bytes of each
//! part's body are handed on, except for delivery-status parts, which are handed on whole (a
//! DSN for a thousand recipients is larger than that).

use std::borrow::Cow;
use std::sync::LazyLock;

use mail_parser::{HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::prefix::report_prefix;

/// How many bytes of a message are parsed; the report parts come first, what is cut off is
/// the tail of the returned original.
pub(crate) const MAX_INPUT: usize = 1024 * 1024;
/// How many top-level parts are looked at.
pub(crate) const MAX_PARTS: usize = 64;
/// How many bytes of one part's decoded body are looked at.
pub(crate) const MAX_TEXT: usize = 64 * 1024;

/// The parser: MIME headers and the Subject parsed, every other field only located (its
/// raw value is read from the offsets).
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
        .default_header_ignore()
});

/// A parsed message.
pub(crate) struct Mail<'a> {
    raw: &'a [u8],
    message: Message<'a>,
}

/// A top-level header field; its value is unfolded only when asked for.
pub(crate) struct Field<'m> {
    /// The field name as written.
    pub(crate) name: &'m str,
    raw: &'m [u8],
}

impl<'m> Field<'m> {
    /// The value, unfolded and trimmed.
    pub(crate) fn value(&self) -> Cow<'m, str> {
        unfold(self.raw)
    }
}

/// What a top-level leaf part is, by its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `message/delivery-status` or `message/global-delivery-status`.
    DeliveryStatus,
    /// `message/feedback-report` (RFC 5965).
    FeedbackReport,
    /// `text/plain`, or no Content-Type at all.
    Text,
    /// `text/html`.
    Html,
    /// Anything else (`text/rfc822-headers`, images, ...).
    Other,
}

/// A top-level leaf part.
pub(crate) struct Part<'m> {
    /// What the part is.
    pub(crate) kind: Kind,
    /// Whether it is marked `Content-Disposition: attachment`.
    pub(crate) attachment: bool,
    part: &'m MessagePart<'m>,
}

impl<'m> Part<'m> {
    /// Its decoded body (charset and transfer encoding undone), at most [`MAX_TEXT`] bytes
    /// unless it is a delivery-status part.
    pub(crate) fn body(&self) -> Cow<'m, str> {
        let limit = if self.kind == Kind::DeliveryStatus {
            MAX_INPUT
        } else {
            MAX_TEXT
        };
        match &self.part.body {
            PartType::Text(t) | PartType::Html(t) => Cow::Borrowed(bounded(t, limit)),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                String::from_utf8_lossy(&b[..b.len().min(limit)])
            }
            PartType::Message(_) | PartType::Multipart(_) => Cow::Borrowed(""),
        }
    }
}

impl<'a> Mail<'a> {
    /// Parses the report part of `raw` (see [`report_prefix`]: at most [`MAX_INPUT`] bytes, and
    /// nothing from the returned original on); `None` when it has no header section.
    ///
    /// mail-parser 0.11.9 has `debug_assert!(false, ...)`s (and debug-only overflow checks) on
    /// some corrupt nestings of multiparts and attached messages (this crate's mutation tests
    /// reach "Invalid part ID, could not find multipart"). They are compiled out of release
    /// builds, where the parser recovers, but they panic in debug builds; so the parse runs
    /// under `catch_unwind`, and a parse that panicked counts as no message at all.
    pub(crate) fn parse(raw: &'a [u8]) -> Option<Mail<'a>> {
        let raw = report_prefix(raw);
        let message = std::panic::catch_unwind(|| PARSER.parse(raw))
            .ok()
            .flatten()?;
        Some(Mail { raw, message })
    }

    /// The top-level header fields, in order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.message.root_part().headers().iter().map(|h| {
            let start = (h.offset_start() as usize).min(self.raw.len());
            let end = (h.offset_end() as usize).clamp(start, self.raw.len());
            Field {
                name: h.name(),
                raw: &self.raw[start..end],
            }
        })
    }

    /// The first top-level field called `name` (case-insensitive), unfolded and trimmed.
    pub(crate) fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        self.fields()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value())
    }

    /// The Subject, RFC 2047-decoded.
    pub(crate) fn subject(&self) -> Option<&str> {
        self.message.subject()
    }

    /// Whether the root Content-Type is `multipart/report` with this `report-type`
    /// (`None`: with no report-type parameter at all).
    pub(crate) fn is_report(&self, report_type: Option<&str>) -> bool {
        self.message.root_part().content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
                && match (ct.attribute("report-type"), report_type) {
                    (Some(have), Some(want)) => have.trim().eq_ignore_ascii_case(want),
                    (None, None) => true,
                    _ => false,
                }
        })
    }

    /// The first [`MAX_PARTS`] top-level leaf parts, in document order (attached messages
    /// are not leaves).
    pub(crate) fn parts(&self) -> impl Iterator<Item = Part<'_>> + '_ {
        self.message
            .parts
            .iter()
            .filter(|p| !matches!(p.body, PartType::Multipart(_) | PartType::Message(_)))
            .take(MAX_PARTS)
            .map(|part| Part {
                kind: kind_of(part.content_type()),
                attachment: part
                    .content_disposition()
                    .is_some_and(|d| d.is_attachment()),
                part,
            })
    }
}

fn kind_of(ct: Option<&mail_parser::ContentType<'_>>) -> Kind {
    let Some(ct) = ct else {
        return Kind::Text;
    };
    let sub = ct.subtype().unwrap_or("");
    let is = |t: &str, s: &str| ct.ctype().eq_ignore_ascii_case(t) && sub.eq_ignore_ascii_case(s);
    if is("message", "delivery-status") || is("message", "global-delivery-status") {
        Kind::DeliveryStatus
    } else if is("message", "feedback-report") {
        Kind::FeedbackReport
    } else if is("text", "plain") {
        Kind::Text
    } else if is("text", "html") {
        Kind::Html
    } else {
        Kind::Other
    }
}

/// At most `limit` bytes of `text`, cut at a character boundary.
fn bounded(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A raw field value with its line breaks removed and its ends trimmed.
fn unfold(raw: &[u8]) -> Cow<'_, str> {
    let text = match String::from_utf8_lossy(raw) {
        Cow::Borrowed(t) => t.trim(),
        Cow::Owned(t) => return Cow::Owned(t.replace(['\r', '\n'], "").trim().to_string()),
    };
    if text.contains(['\r', '\n']) {
        Cow::Owned(text.replace(['\r', '\n'], ""))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n\
Subject: =?utf-8?q?R=C3=A9ponse_automatique?=\r\n\
X-Failed-Recipients: anne@example.net,\r\n bob@example.net\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain\r\n\
\r\n\
human text\r\n\
--b1\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.net\r\n\
--b1\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: original\r\n\
\r\n\
original body\r\n\
--b1--\r\n";

    #[test]
    fn reads_headers_and_top_level_parts() {
        let mail = Mail::parse(SAMPLE).unwrap();
        assert_eq!(mail.subject(), Some("Réponse automatique"));
        assert_eq!(
            mail.header("x-failed-recipients").as_deref(),
            Some("anne@example.net, bob@example.net")
        );
        assert!(mail.is_report(Some("delivery-status")));
        assert!(!mail.is_report(Some("feedback-report")));
        let parts: Vec<_> = mail
            .parts()
            .map(|p| (p.kind, p.body().into_owned()))
            .collect();
        assert_eq!(
            parts.len(),
            2,
            "the attached message is not a top-level part"
        );
        assert_eq!(parts[0].0, Kind::Text);
        assert!(parts[0].1.starts_with("human text"));
        assert_eq!(parts[1].0, Kind::DeliveryStatus);
        assert!(parts[1].1.starts_with("Reporting-MTA"));
    }

    #[test]
    fn bounds_text_at_a_char_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let cut = bounded(&long, MAX_TEXT);
        assert!(cut.len() <= MAX_TEXT && cut.len() > MAX_TEXT - 2);
    }
}
