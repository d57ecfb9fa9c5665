//! Microsoft Exchange and Office 365 text reports (the ones without a readable
//! delivery-status part; with one, the DSN reader has already answered).
//!
//! Three shapes:
//!
//! - Exchange 2007 and later, Office 365: "Delivery has failed to these recipients or groups:"
//!   (or "... or distribution lists:"), then each recipient on its own line
//!   (`anne@example.net`, `anne@example.net<mailto:anne@example.net>`, `Anne Lee
//!   (anne@example.net)`) followed by a human explanation;
//! - newer Office 365: "Your message to anne@example.net couldn't be delivered.": the
//!   sentence itself names the recipient;
//! - Exchange 2000/2003: "did not reach the following recipient(s):", then `anne@example.net
//!   on <date>` lines, each followed by indented text ending in `<host #5.1.1>`.
//!
//! The first two usually add a "Diagnostic information for administrators:" section where
//! each failed recipient is a line of its own followed by the remote server's reply
//! (`Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; ...'` or `#550 5.1.1
//! RESOLVER.ADR.RecipNotFound; not found ##`). That reply replaces the human text as the
//! diagnostic, and an address listed only there is a recipient too. The `To:` lines of the
//! quoted "Your message" header (Exchange 2003) are never read. The default class is
//! Permanent.

use std::ops::Range;

use super::Detector;
use super::block::{Entry, address_list};
use crate::address::clean;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The Exchange detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::Exchange,
    intro: r"Delivery has failed to these recipients or (?:groups|distribution lists):|did not reach the following recipient\(s\)|Your message to \S+@\S+ couldn't be delivered",
    read,
};

const ADMIN_SECTION: &str = "diagnostic information for administrators:";

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    let matched = &text[intro.clone()];
    let after = &text[intro.end..];
    let mut entries = match matched.strip_prefix("Your message to ") {
        Some(rest) => rest
            .split_whitespace()
            .next()
            .and_then(clean)
            .map(|address| Entry {
                address,
                text: String::new(),
            })
            .into_iter()
            .collect(),
        None => address_list(after),
    };
    for (address, reply) in admin_section(after) {
        match entries.iter_mut().find(|e| e.address == address) {
            Some(entry) => entry.text = reply,
            None => entries.push(Entry {
                address,
                text: reply,
            }),
        }
    }
    entries
        .into_iter()
        .map(|e| text_recipient(e.address, &e.text, Class::Permanent))
        .collect()
}

/// The (address, server reply) pairs of the "Diagnostic information for administrators"
/// section: a line that is only an address, and the lines under it up to a blank line.
fn admin_section(after: &str) -> Vec<(String, String)> {
    let lower = after.to_ascii_lowercase();
    let Some(at) = lower.find(ADMIN_SECTION) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in after[at + ADMIN_SECTION.len()..].lines().take(200) {
        let t = line.trim();
        if t.is_empty() {
            open = false;
            continue;
        }
        if !t.contains(char::is_whitespace)
            && let Some(address) = clean(t)
        {
            out.push((address, String::new()));
            open = true;
        } else if open && let Some((_, reply)) = out.last_mut() {
            if !reply.is_empty() {
                reply.push(' ');
            }
            reply.push_str(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_administrators_section() {
        let text = "\nDiagnostic information for administrators:\n\nGenerating server: mx.example.net\n\n\
anne@example.net\nmx2.example.net\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'\n\n\
Original message headers:\n";
        assert_eq!(
            admin_section(text),
            [(
                "anne@example.net".to_string(),
                "mx2.example.net Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'"
                    .to_string()
            )]
        );
        assert!(admin_section("no section").is_empty());
    }
}
