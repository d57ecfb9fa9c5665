//! SMTP/LMTP replies: a code, an optional RFC 3463 enhanced status code, and one or more lines
//! of text, with the writer that puts them on the wire.
//!
//! The writer repeats the enhanced code on every line of a multi-line reply (as Postfix and
//! Dovecot do) and makes the text safe: control characters become spaces, so nothing the
//! shell puts in a reply (a list name, an error text) can break the reply framing.
//! This module does not decide *which* reply a command gets; the session does, using the
//! named constructors in `catalog`.

mod catalog;

use std::fmt;

/// Longest text written on one reply line, in octets. RFC 5321 §4.5.3.1.5 limits a reply line
/// to 512 octets including the code and CRLF; the code, separator and enhanced code take at
/// most 16.
const MAX_TEXT: usize = 480;

/// An RFC 3463 enhanced status code, `class.subject.detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, 0 to 999.
    pub subject: u16,
    /// The detail, 0 to 999.
    pub detail: u16,
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One reply: code, optional enhanced code, and text lines (at least one, possibly empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
}

impl Reply {
    /// A reply with an enhanced status code, e.g. `Reply::new(550, (5, 7, 1), "Rejected")`.
    ///
    /// This is the form every reply after LHLO takes (RFC 2034), and the only form the session
    /// accepts from the shell for RCPT verdicts and per-recipient end-of-data replies.
    ///
    /// # Panics
    /// If `code` is not a 2xx, 4xx or 5xx code, if the enhanced class differs from the first
    /// digit of `code`, or if subject or detail is above 999. These are programming errors in
    /// the caller's constants, not conditions of the input.
    pub fn new(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Reply {
        let (class, subject, detail) = enhanced;
        assert!(
            matches!(code / 100, 2 | 4 | 5) && code < 600,
            "reply code {code} cannot carry an enhanced status code"
        );
        assert!(
            u16::from(class) == code / 100,
            "enhanced class {class} does not match reply code {code}"
        );
        assert!(
            subject <= 999 && detail <= 999,
            "enhanced code {class}.{subject}.{detail} out of range"
        );
        Reply {
            code,
            enhanced: Some(EnhancedCode {
                class,
                subject,
                detail,
            }),
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced status code: the 220 greeting, the LHLO reply and 354.
    ///
    /// # Panics
    /// If `code` is outside 200..=599.
    pub fn basic(code: u16, text: impl Into<String>) -> Reply {
        assert!(
            (200..600).contains(&code),
            "reply code {code} is out of range"
        );
        Reply {
            code,
            enhanced: None,
            lines: vec![text.into()],
        }
    }

    /// Appends a line, making this a multi-line reply. Every line carries the same code and
    /// enhanced code on the wire.
    #[must_use]
    pub fn with_line(mut self, text: impl Into<String>) -> Reply {
        self.lines.push(text.into());
        self
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code, if the reply has one.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text lines as given (before the writer's clean-up).
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// True for 2xx replies.
    pub fn is_positive(&self) -> bool {
        self.code / 100 == 2
    }

    /// Appends the reply in wire form (CRLF line ends) to `out`, without allocating.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len() - 1;
        for (idx, text) in self.lines.iter().enumerate() {
            write_number(out, self.code);
            // The separator: '-' before a continued line, ' ' before the last line's text,
            // nothing when the last line has no text (decided once the text is trimmed).
            out.push(if idx == last { b' ' } else { b'-' });
            let rest_start = out.len();
            if let Some(enhanced) = self.enhanced {
                write_number(out, u16::from(enhanced.class));
                out.push(b'.');
                write_number(out, enhanced.subject);
                out.push(b'.');
                write_number(out, enhanced.detail);
                out.push(b' ');
                let text_start = out.len();
                write_clean_text(out, text);
                if out.len() == text_start {
                    out.pop();
                }
            } else {
                write_clean_text(out, text);
            }
            // Written from `str`s and ASCII, so the slice is UTF-8.
            let kept = std::str::from_utf8(&out[rest_start..])
                .map_or(out.len() - rest_start, |rest| rest.trim_end().len());
            out.truncate(rest_start + kept);
            if idx == last && kept == 0 {
                out.pop();
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The reply in wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Whether this reply may be given to the session as a RCPT verdict or per-recipient reply:
    /// it must carry an enhanced code (and so be 2xx, 4xx or 5xx, by construction).
    pub(crate) fn is_recipient_reply(&self) -> bool {
        self.enhanced.is_some()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Replaces control characters (which could forge reply lines) by spaces and caps the length.
/// Appends `text` with control characters replaced by spaces, at most `MAX_TEXT` bytes of it.
fn write_clean_text(out: &mut Vec<u8>, text: &str) {
    let mut written = 0;
    for ch in text.chars() {
        // The limit counts the character as given (a C1 control is two bytes), as it always has.
        if written + ch.len_utf8() > MAX_TEXT {
            break;
        }
        let ch = if ch.is_control() { ' ' } else { ch };
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
        written += ch.len_utf8();
    }
}

/// Appends a number in decimal.
fn write_number(out: &mut Vec<u8>, n: u16) {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_enhanced_code() {
        let reply = Reply::new(550, (5, 1, 1), "No such list");
        assert_eq!(reply.to_bytes(), b"550 5.1.1 No such list\r\n");
    }

    #[test]
    fn enhanced_code_is_repeated_on_every_line() {
        let reply = Reply::new(452, (4, 3, 1), "first").with_line("second");
        assert_eq!(
            reply.to_bytes(),
            b"452-4.3.1 first\r\n452 4.3.1 second\r\n".as_slice()
        );
    }

    #[test]
    fn basic_reply_and_empty_text() {
        assert_eq!(Reply::basic(354, "Go").to_bytes(), b"354 Go\r\n");
        assert_eq!(Reply::basic(250, "").to_bytes(), b"250\r\n");
        assert_eq!(Reply::new(250, (2, 0, 0), "").to_bytes(), b"250 2.0.0\r\n");
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let reply = Reply::new(550, (5, 7, 1), "bad\r\n250 2.0.0 fake\0");
        assert_eq!(reply.to_bytes(), b"550 5.7.1 bad  250 2.0.0 fake\r\n");
    }

    #[test]
    fn trailing_white_space_is_trimmed() {
        assert_eq!(
            Reply::new(250, (2, 0, 0), "ok \t\u{a0}").to_bytes(),
            b"250 2.0.0 ok\r\n"
        );
        assert_eq!(Reply::basic(250, "  ").to_bytes(), b"250\r\n");
        assert_eq!(
            Reply::basic(250, "a").with_line(" ").to_bytes(),
            b"250-a\r\n250\r\n"
        );
        assert_eq!(
            Reply::basic(250, "").with_line("b").to_bytes(),
            b"250-\r\n250 b\r\n"
        );
        assert_eq!(
            Reply::new(421, (4, 4, 2), "caf\u{e9}").to_bytes(),
            "421 4.4.2 caf\u{e9}\r\n".as_bytes()
        );
    }

    /// The writer as it was when it built each line in `String`s; the property below holds
    /// the allocation-free one to the same bytes.
    fn reference(reply: &Reply) -> Vec<u8> {
        let mut out = Vec::new();
        let last = reply.lines.len() - 1;
        for (idx, text) in reply.lines.iter().enumerate() {
            out.extend_from_slice(reply.code.to_string().as_bytes());
            let mut rest = String::new();
            if let Some(enhanced) = reply.enhanced {
                rest.push_str(&enhanced.to_string());
            }
            let mut cleaned = String::new();
            for ch in text.chars() {
                if cleaned.len() + ch.len_utf8() > MAX_TEXT {
                    break;
                }
                cleaned.push(if ch.is_control() { ' ' } else { ch });
            }
            if !cleaned.is_empty() {
                if !rest.is_empty() {
                    rest.push(' ');
                }
                rest.push_str(&cleaned);
            }
            let rest = rest.trim_end();
            if idx != last {
                out.push(b'-');
            } else if !rest.is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(rest.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn writer_matches_the_reference() {
        use proptest::prelude::*;
        let text = prop::collection::vec(
            prop::sample::select(vec!["ok", " ", "\t", "\r\n", "\u{85}", "\u{a0}", "é", "x"]),
            0..300,
        )
        .prop_map(|parts| parts.concat());
        let code = prop::sample::select(vec![250u16, 354, 421, 452, 550, 221]);
        let enhanced = (0u16..1000, 0u16..1000);
        proptest!(|(code in code, enhanced in enhanced, lines in prop::collection::vec(text, 1..4))| {
            let mut reply = if code == 354 || code == 221 {
                Reply::basic(code, lines[0].clone())
            } else {
                Reply::new(code, ((code / 100) as u8, enhanced.0, enhanced.1), lines[0].clone())
            };
            for line in &lines[1..] {
                reply = reply.with_line(line.clone());
            }
            prop_assert_eq!(reply.to_bytes(), reference(&reply));
        });
    }

    #[test]
    fn long_text_is_capped() {
        let reply = Reply::new(550, (5, 7, 1), "x".repeat(2000));
        assert!(reply.to_bytes().len() <= 512);
    }

    #[test]
    #[should_panic(expected = "does not match")]
    fn class_must_match_code() {
        let _ = Reply::new(250, (5, 0, 0), "no");
    }

    #[test]
    #[should_panic(expected = "cannot carry")]
    fn intermediate_codes_have_no_enhanced_code() {
        let _ = Reply::new(354, (3, 0, 0), "no");
    }
}
