//! How much of a message is worth parsing: [`report_prefix`].
//!
//! Nothing inside the returned original is ever read, yet parsing it is most of the cost of a
//! bounce that carries a large one. Reports put it last (RFC 6522: human part, report part,
//! then the optional returned message; non-standard bounces attach it after their text too),
//! so the parse can stop where it starts:
//!
//! - a multipart message is cut right after the delimiter line of the first top-level part,
//!   other than the first, whose Content-Type is `message/rfc822`, `message/global`,
//!   `text/rfc822-headers` or `message/global-headers`: the part before it still ends at a
//!   delimiter (its base64 or quoted-printable decoding needs that), and the parser copes with
//!   the missing closing delimiter;
//! - a single-part message is cut where its inline copy of the original starts (the separator
//!   lines of [`crate::returned`], found in the raw body; a base64 body has none), and at
//!   most after its header section plus three times [`MAX_TEXT`]
//!   (room for a quoted-printable or base64 encoding of the text that is read);
//! - in any case at most [`MAX_INPUT`] bytes are kept.

use memchr::memmem;

use crate::mail::{MAX_INPUT, MAX_TEXT};
use crate::returned::marker_offset;

/// Content types of a returned message or of its headers.
const RETURNED: [&str; 4] = [
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/global-headers",
];

/// How far into a part the Content-Type is looked for.
const PART_HEADER_WINDOW: usize = 2048;

/// The part of `raw` that holds the report: everything before the returned original.
pub(crate) fn report_prefix(raw: &[u8]) -> &[u8] {
    let raw = &raw[..raw.len().min(MAX_INPUT)];
    let body = header_end(raw);
    let Some(content_type) = field_value(&raw[..body], b"content-type:") else {
        return single_part(raw, body);
    };
    let content_type = content_type.trim_ascii_start();
    if !starts_with_ci(content_type, b"multipart/") {
        return single_part(raw, body);
    }
    match boundary(content_type) {
        Some(boundary) => cut_before_returned(raw, boundary),
        // A multipart whose boundary this scan cannot read: parse it all.
        None => raw,
    }
}

/// A single-part message up to its inline copy of the original, with room for the text read.
fn single_part(raw: &[u8], body: usize) -> &[u8] {
    let end = match marker_offset(&raw[body..]) {
        Some(at) => body + at,
        None => raw.len(),
    };
    &raw[..end.min(body.saturating_add(3 * MAX_TEXT))]
}

/// The raw (possibly folded) value of the first field called `name` (lower case, with its
/// colon) in a header section.
fn field_value<'h>(headers: &'h [u8], name: &[u8]) -> Option<&'h [u8]> {
    let mut start = 0;
    while start < headers.len() {
        let line_end =
            memchr::memchr(b'\n', &headers[start..]).map_or(headers.len(), |i| start + i);
        if starts_with_ci(&headers[start..], name) {
            // The value runs on over continuation lines (starting with a blank).
            let mut end = line_end;
            while end + 1 < headers.len() && matches!(headers[end + 1], b' ' | b'\t') {
                end = memchr::memchr(b'\n', &headers[end + 1..])
                    .map_or(headers.len(), |i| end + 1 + i);
            }
            return Some(&headers[start + name.len()..end]);
        }
        start = line_end + 1;
    }
    None
}

/// The `boundary` parameter of a Content-Type value, quoted or not.
fn boundary(value: &[u8]) -> Option<&[u8]> {
    let at = find_ci(value, b"boundary=")?;
    if at > 0 && !matches!(value[at - 1], b';' | b' ' | b'\t' | b'\r' | b'\n') {
        return None;
    }
    let rest = &value[at + b"boundary=".len()..];
    let b = match rest.strip_prefix(b"\"") {
        Some(quoted) => &quoted[..memchr::memchr(b'"', quoted)?],
        None => {
            let end = rest
                .iter()
                .position(|c| c.is_ascii_whitespace() || *c == b';')
                .unwrap_or(rest.len());
            &rest[..end]
        }
    };
    (!b.is_empty()).then_some(b)
}

/// Where the header section ends (after its blank line), or the length of `raw`.
fn header_end(raw: &[u8]) -> usize {
    for at in memchr::memchr_iter(b'\n', raw) {
        match &raw[at + 1..] {
            [b'\n', ..] => return at + 2,
            [b'\r', b'\n', ..] => return at + 3,
            _ => {}
        }
    }
    raw.len()
}

/// `raw` up to the first top-level delimiter, after the first one, that opens a returned
/// message part.
fn cut_before_returned<'r>(raw: &'r [u8], boundary: &[u8]) -> &'r [u8] {
    let mut needle = Vec::with_capacity(boundary.len() + 3);
    needle.extend_from_slice(b"\n--");
    needle.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&needle);
    let mut seen = 0;
    let mut from = 0;
    while let Some(at) = finder.find(&raw[from..]).map(|i| from + i) {
        from = at + needle.len();
        let after = &raw[from..];
        if after.starts_with(b"--") {
            break;
        }
        if !after.first().is_none_or(|c| c.is_ascii_whitespace()) {
            continue;
        }
        seen += 1;
        if seen > 1 && opens_returned(after) {
            // Keep the delimiter line itself: it ends the part before, whose decoding
            // (base64, quoted-printable) needs to see its end.
            let line_end = memchr::memchr(b'\n', after).map_or(raw.len(), |i| from + i + 1);
            return &raw[..line_end];
        }
    }
    raw
}

/// Whether the part whose headers start in `part` (right after its delimiter) is a returned
/// message, by its Content-Type.
fn opens_returned(part: &[u8]) -> bool {
    let window = &part[..part.len().min(PART_HEADER_WINDOW)];
    let end = memmem::find(window, b"\n\r\n")
        .or_else(|| memmem::find(window, b"\n\n"))
        .unwrap_or(window.len());
    let headers = &window[..end];
    let Some(at) = find_ci(headers, b"\ncontent-type:") else {
        return false;
    };
    let value = &headers[at + b"\ncontent-type:".len()..];
    let value = &value[value.iter().take_while(|c| c.is_ascii_whitespace()).count()..];
    let token_len = value
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || b"/.+-_".contains(c))
        .count();
    RETURNED
        .iter()
        .any(|t| value[..token_len].eq_ignore_ascii_case(t.as_bytes()))
}

fn starts_with_ci(hay: &[u8], lower: &[u8]) -> bool {
    hay.len() >= lower.len() && hay[..lower.len()].eq_ignore_ascii_case(lower)
}

/// The first case-insensitive occurrence of the lower-case ASCII `needle` in `hay`.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "From: MAILER-DAEMON@example.net\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhuman\r\n\
--b-nested\r\nnot a delimiter\r\n\
--b\r\nContent-Type: message/global-delivery-status\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\n\
--b\r\ncontent-type:\r\n message/rfc822\r\n\r\nSubject: original\r\n\r\nbody\r\n\
--b--\r\n";

    #[test]
    fn multipart_reports_stop_before_the_returned_message() {
        let cut = std::str::from_utf8(report_prefix(REPORT.as_bytes())).unwrap();
        assert!(
            cut.ends_with("Final-Recipient: rfc822; a@example.net\r\n--b\r\n"),
            "{cut:?}"
        );
    }

    #[test]
    fn reads_the_root_boundary() {
        for (headers, expected) in [
            (
                "Content-Type: multipart/mixed; boundary=\"a b\"\n",
                Some("a b"),
            ),
            (
                "content-type: Multipart/Report;\r\n\treport-type=delivery-status;\r\n\tboundary=x.1/y\r\n",
                Some("x.1/y"),
            ),
            ("Content-Type: multipart/mixed; xboundary=no\n", None),
            ("Content-Type: multipart/mixed; boundary=\"\"\n", None),
            (
                "Content-Type: multipart/mixed; boundary=\"unterminated\n",
                None,
            ),
            ("Subject: no type\n", None),
        ] {
            let got = field_value(headers.as_bytes(), b"content-type:").and_then(boundary);
            assert_eq!(got, expected.map(str::as_bytes), "{headers:?}");
        }
    }

    #[test]
    fn a_returned_message_first_is_kept() {
        let raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: x\n\n--b\nContent-Type: text/plain\n\ntext\n--b--\n";
        assert_eq!(report_prefix(raw.as_bytes()), raw.as_bytes());
    }

    #[test]
    fn single_parts_keep_room_for_the_text_read() {
        let mut raw = b"Subject: x\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 4 * MAX_TEXT));
        assert_eq!(report_prefix(&raw).len(), 14 + 3 * MAX_TEXT);
        assert_eq!(
            report_prefix(b"Subject: short\n\nbody\n"),
            b"Subject: short\n\nbody\n"
        );
        assert_eq!(
            report_prefix(
                b"Subject: qmail\n\nreport\n--- Below this line is a copy of the message.\n\nx\n"
            ),
            b"Subject: qmail\n\nreport\n"
        );
        assert_eq!(report_prefix(b""), b"");
    }
}
