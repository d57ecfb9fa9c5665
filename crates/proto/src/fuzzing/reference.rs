//! A deliberately plain reference for message content: where DATA ends, what dot-unstuffing
//! and normalising give, and whether the session must refuse the result.
//!
//! Written as whole-buffer operations (search, split, replace) rather than as a streaming
//! state machine, so that it does not share the session's way of being wrong.

use crate::lmtp::{BareLineEndings, Config};

/// What the session must do with a complete message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Hand over these body octets.
    Deliver(Vec<u8>),
    /// Refuse it with this (code, enhanced code, text) for every recipient.
    Refuse(u16, &'static str, &'static str),
}

/// For DATA content starting at `start` (just after the DATA line's LF): the index just after
/// the terminating `CRLF.CRLF`, whose first CRLF may be the DATA line's own.
pub(super) fn data_end(input: &[u8], start: usize) -> Option<usize> {
    let rest = &input[start..];
    if rest.starts_with(b".\r\n") {
        return Some(start + 3);
    }
    rest.windows(5)
        .position(|w| w == b"\r\n.\r\n")
        .map(|at| start + at + 5)
}

/// Removes the leading dot of every line (lines split on CRLF only).
pub(super) fn unstuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len());
    let mut rest = content;
    loop {
        let crlf = rest.windows(2).position(|w| w == b"\r\n");
        let line = &rest[..crlf.unwrap_or(rest.len())];
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        let Some(crlf) = crlf else {
            return out;
        };
        out.extend_from_slice(b"\r\n");
        rest = &rest[crlf + 2..];
    }
}

/// Judges message content (already unstuffed for DATA; raw for BDAT).
pub(super) fn judge(content: &[u8], config: &Config) -> Outcome {
    let accept_bare = config.bare_line_endings == BareLineEndings::Accept;
    let has_bare = has_bare_line_ending(content);
    let stored = if accept_bare && has_bare {
        normalise(content)
    } else {
        content.to_vec()
    };
    if stored.len() as u64 > config.max_message_size {
        return Outcome::Refuse(552, "5.3.4", "Message too big");
    }
    if stored
        .split_inclusive(|&b| b == b'\n')
        .any(|line| line.len() > config.max_line_length)
    {
        return Outcome::Refuse(554, "5.6.0", "Line too long");
    }
    if stored.contains(&0) {
        return Outcome::Refuse(554, "5.6.0", "NUL character in message");
    }
    if has_bare && !accept_bare {
        return Outcome::Refuse(550, "5.6.0", "Message contains bare CR or LF");
    }
    Outcome::Deliver(stored)
}

fn has_bare_line_ending(content: &[u8]) -> bool {
    content.iter().enumerate().any(|(idx, &b)| {
        (b == b'\r' && content.get(idx + 1) != Some(&b'\n'))
            || (b == b'\n' && (idx == 0 || content[idx - 1] != b'\r'))
    })
}

/// Every CRLF, bare CR and bare LF becomes CRLF.
fn normalise(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 16);
    let mut idx = 0;
    while idx < content.len() {
        match content[idx] {
            b'\r' if content.get(idx + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                idx += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                idx += 1;
            }
            byte => {
                out.push(byte);
                idx += 1;
            }
        }
    }
    out
}
