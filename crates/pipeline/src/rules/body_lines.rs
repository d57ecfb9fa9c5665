//! The first non-blank lines of a post's first `text/plain` part, read no further than the
//! caller needs: what the `administrivia` rule looks at (Mailman's `email_commands_max_lines`).
//!
//! A post that is not multipart has one part, described by its own header fields, so it is
//! found without a MIME parse and read lazily: identity encodings line by line from the
//! received bytes, quoted-printable one encoded line at a time (its escapes never span an
//! encoded line end, so decoding line by line gives the same bytes as decoding the whole).
//! Base64 is decoded whole (a malformed tail changes what the whole decodes to), and so is
//! everything found through [`leaves`] (multipart posts, several `Content-Type` fields, an
//! unusual `Content-Transfer-Encoding`), exactly as before. Lines are what `str::lines` gives
//! on the lossily decoded UTF-8 text, trimmed; blank ones are skipped and not counted.
//!
//! This module decides nothing about commands; the rule does.

use std::ops::Range;

use crate::message::Message;
use crate::mime::{TransferEncoding, leaves, qp_decode};

/// Calls `visit` on each of the first `max` non-blank lines (trimmed) of the message's first
/// `text/plain` part, in order, until it returns `true`; returns whether it did.
pub(crate) fn any_of_first(
    message: &Message<'_>,
    max: usize,
    visit: impl FnMut(&str) -> bool,
) -> bool {
    if max == 0 {
        return false;
    }
    let raw = message.raw();
    let mut lines = FirstLines {
        max,
        seen: 0,
        carry: Vec::new(),
        visit,
    };
    let Some((encoding, range)) = first_text_plain(message) else {
        return false;
    };
    let body = &raw[range];
    let decided = match encoding {
        TransferEncoding::SevenBit | TransferEncoding::EightBit => lines.feed(body),
        TransferEncoding::QuotedPrintable => body
            .split_inclusive(|&b| b == b'\n')
            .find_map(|encoded| lines.feed(&qp_decode(encoded))),
        TransferEncoding::Base64 => lines.feed(&encoding.decode(body)),
    };
    decided.unwrap_or_else(|| lines.finish())
}

/// The first `text/plain` part's transfer encoding and body range, if the message has one.
fn first_text_plain(message: &Message<'_>) -> Option<(TransferEncoding, Range<usize>)> {
    match single_part(message) {
        SinglePart::TextPlain(encoding) => {
            Some((encoding, message.block().body_offset..message.raw().len()))
        }
        SinglePart::NotText => None,
        SinglePart::Unknown => leaves(message.raw())
            .into_iter()
            .find(|leaf| leaf.mime_type == "text/plain")
            .map(|leaf| (leaf.encoding, leaf.body)),
    }
}

/// What the top-level header fields say about the message's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SinglePart {
    /// One part, `text/plain` (declared, or by default), with this plain encoding.
    TextPlain(TransferEncoding),
    /// One part of another type (`text/html`, `application/*`, an attached message...).
    NotText,
    /// Multipart, or fields a MIME parse must interpret.
    Unknown,
}

fn single_part(message: &Message<'_>) -> SinglePart {
    let mut content_types = message.fields_named("Content-Type");
    let (first, second) = (content_types.next(), content_types.next());
    if second.is_some() {
        return SinglePart::Unknown;
    }
    if first.is_some() {
        let Some(ct) = message.content_type() else {
            return SinglePart::Unknown;
        };
        if ct.ctype().eq_ignore_ascii_case("multipart") {
            return SinglePart::Unknown;
        }
        let plain = ct.ctype().eq_ignore_ascii_case("text")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("plain"));
        if !plain {
            return SinglePart::NotText;
        }
    }
    let mut encodings = message.fields_named("Content-Transfer-Encoding");
    let (first, second) = (encodings.next(), encodings.next());
    if second.is_some() {
        return SinglePart::Unknown;
    }
    let Some(field) = first else {
        return SinglePart::TextPlain(TransferEncoding::SevenBit);
    };
    let value = message.unfolded(field).to_ascii_lowercase();
    match value.as_str() {
        "7bit" | "8bit" | "binary" | "quoted-printable" | "base64" => {
            SinglePart::TextPlain(TransferEncoding::from_header(Some(&value)))
        }
        _ => SinglePart::Unknown,
    }
}

/// Splits decoded bytes into lines as they come and visits the non-blank ones.
struct FirstLines<F> {
    max: usize,
    seen: usize,
    /// The start of a line whose end has not been fed yet.
    carry: Vec<u8>,
    visit: F,
}

impl<F: FnMut(&str) -> bool> FirstLines<F> {
    /// Feeds decoded bytes; `Some` once the answer is known.
    fn feed(&mut self, mut bytes: &[u8]) -> Option<bool> {
        while let Some(lf) = memchr_lf(bytes) {
            let decided = if self.carry.is_empty() {
                self.line(&bytes[..lf])
            } else {
                let mut line = std::mem::take(&mut self.carry);
                line.extend_from_slice(&bytes[..lf]);
                self.line(&line)
            };
            if decided.is_some() {
                return decided;
            }
            bytes = &bytes[lf + 1..];
        }
        self.carry.extend_from_slice(bytes);
        None
    }

    /// The content ended: visits the last line if it had no line end.
    fn finish(&mut self) -> bool {
        let carry = std::mem::take(&mut self.carry);
        self.line(&carry).unwrap_or(false)
    }

    fn line(&mut self, bytes: &[u8]) -> Option<bool> {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if (self.visit)(text) {
            return Some(true);
        }
        self.seen += 1;
        (self.seen >= self.max).then_some(false)
    }
}

fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(raw: &str, max: usize) -> Vec<String> {
        let raw = raw.replace('\n', "\r\n");
        let message = Message::parse(raw.as_bytes()).unwrap();
        let mut seen = Vec::new();
        any_of_first(&message, max, |line| {
            seen.push(line.to_string());
            false
        });
        seen
    }

    #[test]
    fn reads_only_the_first_non_blank_lines() {
        let body = "\n  one  \n\n two\nthree\nfour\n";
        assert_eq!(lines_of(&format!("From: a@x\n\n{body}"), 2), ["one", "two"]);
        assert_eq!(
            lines_of(&format!("From: a@x\n\n{body}"), 0),
            [] as [&str; 0]
        );
        assert_eq!(
            lines_of("From: a@x\n\nlast without end", 5),
            ["last without end"]
        );
        assert_eq!(lines_of("From: a@x\n", 5), [] as [&str; 0]);
    }

    #[test]
    fn quoted_printable_soft_breaks_join_lines() {
        let raw = "Content-Transfer-Encoding: quoted-printable\n\nsub=\nscribe\n=3Dx\n";
        assert_eq!(lines_of(raw, 10), ["subscribe", "=x"]);
    }

    #[test]
    fn base64_and_non_text_parts() {
        // "help\nme\n"
        let raw = "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVscAptZQo=\n";
        assert_eq!(lines_of(raw, 10), ["help", "me"]);
        assert_eq!(
            lines_of("Content-Type: text/html\n\n<p>help</p>\n", 10),
            [] as [&str; 0]
        );
    }

    #[test]
    fn multipart_posts_use_the_first_text_plain_part() {
        let raw = "Content-Type: multipart/alternative; boundary=B\n\n--B\n\
Content-Type: text/html\n\n<p>html</p>\n--B\nContent-Type: text/plain\n\nplain\n--B--\n";
        assert_eq!(lines_of(raw, 10), ["plain"]);
    }

    /// The header-only path finds the range and encoding the MIME parse finds.
    #[test]
    fn single_parts_agree_with_the_mime_parse() {
        for raw in [
            "From: a@x\r\n\r\nbody\r\n",
            "From: a@x\r\nContent-Type: TEXT/Plain; charset=utf-8\r\n\r\nbody\r\nmore\r\n",
            "From: a@x\nContent-Transfer-Encoding: Quoted-Printable\n\nbo=\ndy=3D\n",
            "Content-Transfer-Encoding: base64\r\n\r\naGVscA==\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n!!garbage\r\n",
            "Content-Type: text/plain\r\n\r\n",
            "Subject: no body",
        ] {
            let message = Message::parse(raw.as_bytes()).unwrap();
            let SinglePart::TextPlain(encoding) = single_part(&message) else {
                panic!("{raw:?} is a single text/plain part");
            };
            let leaf = leaves(raw.as_bytes())
                .into_iter()
                .find(|l| l.mime_type == "text/plain")
                .expect("the MIME parse finds the part");
            assert_eq!(encoding, leaf.encoding, "{raw:?}");
            let fast = message.block().body_offset..raw.len();
            assert_eq!(
                raw.as_bytes()[fast].trim_ascii_end(),
                raw.as_bytes()[leaf.body].trim_ascii_end(),
                "{raw:?}"
            );
        }
    }
}
