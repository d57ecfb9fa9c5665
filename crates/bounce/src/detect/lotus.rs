//! Lotus Notes / Domino text reports.
//!
//! ```text
//! Your document:      [ant] Meeting notes
//! was not delivered to:   anne@example.net
//! because:    User anne (anne@example.net) not listed in Domino Directory
//! ```
//!
//! The recipients are the address on the `was not delivered to:` line and on the lines under
//! it, up to `because:`; the `because:` text (and its continuation up to a blank line) is
//! their diagnostic. Domino repeats the group once per recipient, so every group after the
//! `Your document:` intro is read. The default class is Permanent.

use std::ops::Range;

use super::Detector;
use super::block::line_address;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The Lotus Notes detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::LotusNotes,
    intro: r"^[ \t]*Your document:",
    read,
};

const NOT_DELIVERED: &str = "was not delivered to:";
const BECAUSE: &str = "because:";

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    let mut out = Vec::new();
    let mut addresses: Vec<String> = Vec::new();
    let mut reason: Option<String> = None;
    let mut in_addresses = false;
    for line in text[intro.start..].lines().take(400) {
        let t = line.trim();
        let lower = t.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix(NOT_DELIVERED) {
            flush(&mut out, &mut addresses, &mut reason);
            in_addresses = true;
            let rest = &t[t.len() - rest.len()..];
            addresses.extend(line_address(rest).map(|(a, _)| a));
        } else if let Some(rest) = lower.strip_prefix(BECAUSE) {
            in_addresses = false;
            reason = Some(t[t.len() - rest.len()..].trim().to_string());
        } else if t.is_empty() || lower.starts_with("what should you do") {
            in_addresses = false;
            flush(&mut out, &mut addresses, &mut reason);
        } else if in_addresses {
            addresses.extend(line_address(t).map(|(a, _)| a));
        } else if let Some(r) = reason.as_mut() {
            r.push(' ');
            r.push_str(t);
        }
    }
    flush(&mut out, &mut addresses, &mut reason);
    out
}

fn flush(out: &mut Vec<Recipient>, addresses: &mut Vec<String>, reason: &mut Option<String>) {
    let text = reason.take().unwrap_or_default();
    for address in addresses.drain(..) {
        out.push(text_recipient(address, &text, Class::Permanent));
    }
}
