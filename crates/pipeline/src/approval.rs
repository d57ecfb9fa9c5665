//! Moderator pre-approval carried in a post: an `Approve`, `Approved`, `X-Approve` or
//! `X-Approved` header, or (when there is none) an `Approved: password` line as the first
//! non-blank line of the first `text/plain` part, as Mailman's `approved` rule reads it.
//!
//! [`find`] reads the password; [`strip`] returns the message without it, so that the password
//! never reaches the members, the archive or a moderator notice: the headers are removed, the
//! body line is removed from the first `text/plain` part, and the same `Approved: password`
//! text is removed from every other text part (an HTML alternative carries it too). Changed
//! parts are re-encoded with their own transfer encoding. Checking the password against the
//! list's is the rule's business ([`crate::rules::approved`]).

use regex::Regex;

use crate::message::{Message, decode_text};
use crate::mime::{Leaf, leaves};
use crate::rewrite::Rewrite;

/// The header names that carry an approval password, in the order they are looked at.
pub const HEADERS: [&str; 4] = ["Approve", "Approved", "X-Approve", "X-Approved"];

/// A password found in a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The password as written.
    pub password: String,
    /// Where it was found.
    pub location: Location,
}

/// Where an approval password was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In one of the [`HEADERS`].
    Header,
    /// As the first non-blank line of the first text/plain part, under this pseudo-header
    /// name (as written).
    BodyLine {
        /// The pseudo-header name, e.g. `Approved`.
        name: String,
    },
}

/// Looks for an approval password in the headers, then in the body.
pub fn find(message: &Message<'_>) -> Option<Approval> {
    for name in HEADERS {
        if let Some(field) = message.fields_named(name).next() {
            return Some(Approval {
                password: decode_text(field.raw_value(message.raw())),
                location: Location::Header,
            });
        }
    }
    let raw = message.raw();
    let first_text = leaves(raw)
        .into_iter()
        .find(|leaf| leaf.mime_type == "text/plain")?;
    let content = first_text.encoding.decode(&raw[first_text.body.clone()]);
    let (_, line) = first_nonblank_line(&content)?;
    let text = String::from_utf8_lossy(line);
    let (name, value) = text.split_once(':')?;
    let is_approval = HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name.trim()));
    is_approval.then(|| Approval {
        password: value.trim().to_string(),
        location: Location::BodyLine {
            name: name.trim().to_string(),
        },
    })
}

/// The message without the approval password (see the module documentation).
pub fn strip(message: &Message<'_>, approval: &Approval) -> Vec<u8> {
    let body_stripped = match &approval.location {
        Location::Header => None,
        Location::BodyLine { name } => Some(strip_body(message.raw(), name, &approval.password)),
    };
    let source = body_stripped.as_deref().unwrap_or(message.raw());
    let Ok(reparsed) = Message::parse(source) else {
        // Body edits never touch the header section, so it still parses.
        return source.to_vec();
    };
    let mut rewrite = Rewrite::new(&reparsed);
    for name in HEADERS {
        rewrite.remove(name);
    }
    rewrite.finish()
}

fn strip_body(raw: &[u8], name: &str, password: &str) -> Vec<u8> {
    let eol = Message::parse(raw)
        .map(|m| m.eol())
        .unwrap_or(crate::header_block::Eol::Crlf);
    let pattern = Regex::new(&format!(
        r"{}:(\s|&nbsp;)*{}",
        regex::escape(name),
        regex::escape(password)
    ))
    .ok();
    let parts: Vec<Leaf> = leaves(raw);
    let first_plain = parts.iter().position(|l| l.mime_type == "text/plain");
    let mut replacements: Vec<(std::ops::Range<usize>, Vec<u8>)> = Vec::new();
    for (i, leaf) in parts.iter().enumerate() {
        if !leaf.mime_type.starts_with("text/") {
            continue;
        }
        let mut content = leaf.encoding.decode(&raw[leaf.body.clone()]);
        let mut changed = false;
        if Some(i) == first_plain
            && let Some((range, _)) = first_nonblank_line(&content)
        {
            content.drain(range);
            changed = true;
        }
        if let Some(pattern) = &pattern {
            let text = String::from_utf8_lossy(&content).into_owned();
            if pattern.is_match(&text) && std::str::from_utf8(&content).is_ok() {
                content = pattern.replace_all(&text, "").into_owned().into_bytes();
                changed = true;
            }
        }
        if changed {
            replacements.push((leaf.body.clone(), leaf.encoding.encode(&content, eol)));
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    for (range, bytes) in replacements {
        out.extend_from_slice(&raw[pos..range.start]);
        out.extend_from_slice(&bytes);
        pos = range.end;
    }
    out.extend_from_slice(&raw[pos..]);
    out
}

/// The byte range (terminator included) and text of the first line that is not blank.
fn first_nonblank_line(content: &[u8]) -> Option<(std::ops::Range<usize>, &[u8])> {
    let mut start = 0;
    while start < content.len() {
        let end = content[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(content.len(), |i| start + i + 1);
        let line = &content[start..end];
        if !line.trim_ascii().is_empty() {
            return Some((start..end, line.trim_ascii_end()));
        }
        start = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_in(raw: &str) -> Option<Approval> {
        find(&Message::parse(raw.as_bytes()).unwrap())
    }

    #[test]
    fn headers_are_looked_at_in_mailman_order() {
        let a = find_in("X-Approved: later\r\nApprove: first\r\n\r\nbody\r\n").unwrap();
        assert_eq!(a.password, "first");
        assert_eq!(a.location, Location::Header);
        assert_eq!(find_in("Subject: x\r\n\r\nno password\r\n"), None);
    }

    #[test]
    fn body_line_is_found_and_stripped_from_every_text_part() {
        let raw = "Content-Type: multipart/alternative; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\n\r\nApproved: s3cret\r\nHello\r\n\
--B\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Approved:&nbsp;s3cret</p><p>Hello</p>\r\n\
--B--\r\n";
        let msg = Message::parse(raw.as_bytes()).unwrap();
        let approval = find(&msg).unwrap();
        assert_eq!(approval.password, "s3cret");
        let out = String::from_utf8(strip(&msg, &approval)).unwrap();
        assert!(!out.contains("s3cret"), "{out}");
        assert!(out.contains("text/plain\r\n\r\n\r\nHello\r\n--B"), "{out}");
        assert!(out.contains("<p></p><p>Hello</p>"), "{out}");
    }

    #[test]
    fn header_password_is_stripped_and_body_untouched() {
        let raw =
            b"Approved: pw\r\nX-Approve: pw\r\nSubject: s\r\n\r\nApproved: not a password line\r\n";
        let msg = Message::parse(raw).unwrap();
        let out = strip(&msg, &find(&msg).unwrap());
        assert_eq!(out, b"Subject: s\r\n\r\nApproved: not a password line\r\n");
    }

    #[test]
    fn base64_body_line_is_reencoded() {
        // "Approved: pw\r\nbody\r\n" in base64.
        let raw = b"Content-Transfer-Encoding: base64\r\n\r\nQXBwcm92ZWQ6IHB3DQpib2R5DQo=\r\n";
        let msg = Message::parse(raw).unwrap();
        let approval = find(&msg).unwrap();
        assert_eq!(approval.password, "pw");
        let out = strip(&msg, &approval);
        assert_eq!(
            out,
            b"Content-Transfer-Encoding: base64\r\n\r\nYm9keQ0K\r\n"
        );
    }
}
