//! Exim's text bounces and delay warnings, and its `X-Failed-Recipients` header.
//!
//! A bounce: "This message was created automatically by mail delivery software." / "A message
//! that you sent could not be delivered to one or more of its recipients. This is a permanent
//! error. The following address(es) failed:", then each failed address indented by two
//! spaces, its explanation indented by four or more:
//!
//! ```text
//!   anne@example.net
//!     host mx.example.net [192.0.2.7]
//!     SMTP error from remote mail server after RCPT TO:<anne@example.net>:
//!     550 5.1.1 <anne@example.net>: Recipient address rejected: User unknown
//! ```
//!
//! A delay warning says "has not yet been delivered" and "The address to which the message
//! has not yet been delivered is:" before the same list; its default class is Temporary.
//! The list starts after the first line ending in `:` that mentions an address ("address(es)
//! failed:", "delivered is:"), or after the intro paragraph, and ends at the first
//! non-indented line. Lines at the address indent that are not an address (`pipe to
//! |/usr/bin/x`) are skipped with their explanation.
//!
//! Exim also lists the failed recipients in `X-Failed-Recipients`: [`from_header`] reads it
//! when no detector could read the body (a localised template, say); those are Permanent.

use std::ops::Range;

use super::Detector;
use super::block::line_address;
use crate::address::clean;
use crate::classify::text_recipient;
use crate::mail::Mail;
use crate::report::{Class, Format, Recipient};

/// The Exim detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::Exim,
    intro: r"A message that you sent (?:could not be|has not yet been) delivered to (?:one or more of )?its\s+recipients|This message was created automatically by mail delivery software",
    read,
};

/// How many addresses `X-Failed-Recipients` is read for.
const MAX_HEADER_ADDRESSES: usize = 1000;

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    let rest = &text[intro.start..];
    let head = &rest[..floor(rest, 600)];
    let default = if head.to_ascii_lowercase().contains("not yet been delivered") {
        Class::Temporary
    } else {
        Class::Permanent
    };
    let mut entries: Vec<(String, String)> = Vec::new();
    // `None` while skipping a non-address item (a pipe or file delivery).
    let mut current: Option<usize> = None;
    for line in list_start(rest).lines().take(400) {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            if entries.is_empty() && current.is_none() {
                continue;
            }
            break;
        }
        if indent < 4 {
            current = line_address(line).map(|(address, rest)| {
                entries.push((address, rest.to_string()));
                entries.len() - 1
            });
        } else if let Some(i) = current {
            let text = &mut entries[i].1;
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(line.trim());
        }
    }
    entries
        .into_iter()
        .map(|(address, text)| text_recipient(address, &text, default))
        .collect()
}

/// Where the indented list begins: after the line announcing it, else after the intro
/// paragraph.
fn list_start(rest: &str) -> &str {
    let mut offset = 0;
    for line in rest.split_inclusive('\n').take(30) {
        offset += line.len();
        let t = line.trim().to_ascii_lowercase();
        if t.ends_with(':') && t.contains("address") {
            return &rest[offset..];
        }
    }
    match rest.find("\n\n").or_else(|| rest.find("\r\n\r\n")) {
        Some(at) => &rest[at..],
        None => "",
    }
}

/// The recipients Exim's `X-Failed-Recipients` header names, all Permanent.
pub(crate) fn from_header(mail: &Mail<'_>) -> Vec<Recipient> {
    let Some(value) = mail.header("x-failed-recipients") else {
        return Vec::new();
    };
    value
        .split(',')
        .take(MAX_HEADER_ADDRESSES)
        .filter_map(clean)
        .map(|address| text_recipient(address, "", Class::Permanent))
        .collect()
}

/// The largest char boundary at or below `at`.
fn floor(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}
