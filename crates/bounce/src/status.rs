//! RFC 3463 enhanced status codes and RFC 5321 reply codes: recognising them in report fields
//! and free text, and the [`Class`] each one means.
//!
//! An enhanced status code is `class.subject.detail`: class `2`, `4` or `5`, subject and
//! detail of one to three digits. In free text a code counts only when it stands alone: not
//! part of an IP address or a longer dotted number, so `[198.51.100.5]` or `10.5.1.1` never
//! read as a status (a three-part version such as `4.97.1` does: it is indistinguishable). A reply code is three digits,
//! `4xx` or `5xx`, followed by a space, a `-` (multi-line reply) or the end.

use crate::report::Class;

/// RFC 3463: "5.x.x" → Permanent, "4.x.x" → Temporary, "2.x.x" → NotFailure; None if not a
/// status code.
///
/// Surrounding whitespace is ignored and so is anything after the code's first blank
/// (`"5.1.1 (bad destination mailbox)"` is Permanent); the code itself must be well formed.
pub fn classify_status(status: &str) -> Option<Class> {
    let token = status.split_whitespace().next()?;
    parse_code(token.as_bytes()).map(|(class, _)| class)
}

/// The first well-formed status code in `text`, as `"5.1.1"`. When the text also carries an
/// SMTP reply code, the first status of the same class wins (`"550-5.7.26"` → `5.7.26`).
pub(crate) fn find_status(text: &str) -> Option<String> {
    let reply = reply_class(text);
    let mut first = None;
    for (start, len, class) in candidates(text.as_bytes()) {
        if reply.is_none_or(|r| r == class) {
            return Some(text[start..start + len].to_string());
        }
        first.get_or_insert((start, len));
    }
    first.map(|(start, len)| text[start..start + len].to_string())
}

/// Every stand-alone status code in `text`, in order.
pub(crate) fn status_codes(text: &str) -> impl Iterator<Item = &str> + '_ {
    candidates(text.as_bytes()).map(move |(start, len, _)| &text[start..start + len])
}

/// The class of the first SMTP reply code (`4xx`, `5xx`) in `text`.
pub(crate) fn reply_class(text: &str) -> Option<Class> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 3 <= b.len() {
        let c = b[i];
        if (c == b'4' || c == b'5')
            && (i == 0 || !is_number_char(b[i - 1]))
            && (b'0'..=b'5').contains(&b[i + 1])
            && b[i + 2].is_ascii_digit()
            && b.get(i + 3)
                .is_none_or(|&n| n == b' ' || n == b'-' || n == b'\t')
        {
            return Some(if c == b'5' {
                Class::Permanent
            } else {
                Class::Temporary
            });
        }
        i += 1;
    }
    None
}

/// Every stand-alone status code in `bytes`: (offset, length, class).
fn candidates(bytes: &[u8]) -> impl Iterator<Item = (usize, usize, Class)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let at = i;
            i += 1;
            if !matches!(bytes[at], b'2' | b'4' | b'5') || (at > 0 && is_number_char(bytes[at - 1]))
            {
                continue;
            }
            let Some(len) = code_len(&bytes[at..]) else {
                continue;
            };
            let after = &bytes[at + len..];
            // A following ".digit" or digit means this was part of a longer dotted number.
            let glued = match after {
                [d, ..] if d.is_ascii_digit() => true,
                [b'.', d, ..] if d.is_ascii_digit() => true,
                _ => false,
            };
            if glued {
                continue;
            }
            i = at + len;
            if let Some((class, _)) = parse_code(&bytes[at..at + len]) {
                return Some((at, len, class));
            }
        }
        None
    })
}

/// Parses a whole token as a status code: its class and length.
fn parse_code(token: &[u8]) -> Option<(Class, usize)> {
    let len = code_len(token)?;
    if len != token.len() {
        return None;
    }
    let class = match token[0] {
        b'2' => Class::NotFailure,
        b'4' => Class::Temporary,
        b'5' => Class::Permanent,
        _ => return None,
    };
    Some((class, len))
}

/// The length of the `d.d{1,3}.d{1,3}` prefix of `b`, if it has one (the longest digit runs).
fn code_len(b: &[u8]) -> Option<usize> {
    if b.len() < 5 || !b[0].is_ascii_digit() || b[1] != b'.' {
        return None;
    }
    let subject = digits(&b[2..]);
    if !(1..=3).contains(&subject) || b.get(2 + subject) != Some(&b'.') {
        return None;
    }
    let detail = digits(&b[3 + subject..]);
    (1..=3).contains(&detail).then_some(3 + subject + detail)
}

fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

fn is_number_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_status_codes() {
        for (input, expected) in [
            ("5.1.1", Some(Class::Permanent)),
            ("4.2.2", Some(Class::Temporary)),
            ("2.0.0", Some(Class::NotFailure)),
            (" 5.7.509 ", Some(Class::Permanent)),
            (
                "5.1.1 (bad destination mailbox address)",
                Some(Class::Permanent),
            ),
            ("5.1", None),
            ("3.1.1", None),
            ("5.1.1.1", None),
            ("5.1234.1", None),
            ("x.1.1", None),
            ("", None),
            ("550", None),
        ] {
            assert_eq!(classify_status(input), expected, "{input:?}");
        }
    }

    #[test]
    fn finds_stand_alone_codes_in_text() {
        for (text, expected) in [
            ("550 5.1.1 <anne@example.net>: user unknown", Some("5.1.1")),
            ("550-5.7.26 Unauthenticated email", Some("5.7.26")),
            (
                "Sorry, no mailbox here by that name. (#5.1.1)",
                Some("5.1.1"),
            ),
            ("<mx.example.net #5.1.1>", Some("5.1.1")),
            ("host [192.0.2.5] said: 550 no such user", None),
            ("host [10.5.1.1] refused", None),
            ("Postfix 3.10.5.1 says no", None),
            (
                "Remote Server returned '550 5.1.10 RESOLVER.ADR'",
                Some("5.1.10"),
            ),
            // The status of the reply's class wins over an earlier unrelated one.
            ("relay 2.0.0 ok, then 450 4.2.0 greylisted", Some("4.2.0")),
            ("nothing here", None),
        ] {
            assert_eq!(find_status(text).as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn finds_reply_codes() {
        for (text, expected) in [
            ("said: 550 5.1.1 unknown", Some(Class::Permanent)),
            (
                "452-4.2.2 The email account is over quota",
                Some(Class::Temporary),
            ),
            (
                "#550 5.1.1 RESOLVER.ADR.RecipNotFound",
                Some(Class::Permanent),
            ),
            ("[198.51.100.250] timed out", None),
            ("in 2025 we", None),
            ("code 550", Some(Class::Permanent)),
            ("5501 lines", None),
            ("", None),
        ] {
            assert_eq!(reply_class(text), expected, "{text:?}");
        }
    }
}
