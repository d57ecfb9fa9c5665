//! Sendmail's text report, from before it sent DSNs (and from the MTAs that copied it).
//!
//! ```text
//!    ----- The following addresses had permanent fatal errors -----
//! <anne@example.net>
//!     (reason: 550 5.1.1 <anne@example.net>... User unknown)
//!     (expanded from: <team@example.net>)
//!
//!    ----- Transcript of session follows -----
//! ... while talking to mx.example.net.:
//! >>> RCPT To:<anne@example.net>
//! <<< 550 5.1.1 <anne@example.net>... User unknown
//! ```
//!
//! The recipients are the address lines right under the dashed heading, up to the first
//! blank or dashed line; their indented `(reason: ...)` lines explain (the `(expanded from:
//! ...)` alias is not a recipient). A recipient without a reason takes the transcript's
//! reply line (`<<< 550 ...` or `550 ...`) that names it. "permanent fatal errors" means
//! Permanent by default, "transient non-fatal errors" Temporary.

use std::ops::Range;

use super::Detector;
use super::block::line_address;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The Sendmail detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::Sendmail,
    intro: r"-{3,}[ \t]*The following addresses had (?:permanent fatal|transient non-fatal) errors[ \t]*-{3,}",
    read,
};

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    let default = if text[intro.clone()]
        .to_ascii_lowercase()
        .contains("transient")
    {
        Class::Temporary
    } else {
        Class::Permanent
    };
    let rest = &text[intro.end..];
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut lines = rest.lines().skip(1).take(400);
    for line in lines.by_ref() {
        let t = line.trim();
        if t.is_empty() {
            if entries.is_empty() {
                continue;
            }
            break;
        }
        if t.starts_with('-') {
            break;
        }
        if let Some((_, text)) = entries.last_mut()
            && (t.starts_with('(')
                || (line.starts_with([' ', '\t']) && line_address(line).is_none()))
        {
            if !t.starts_with("(expanded from") {
                text.push(' ');
                text.push_str(t.trim_start_matches("(reason:").trim_end_matches(')'));
            }
        } else if let Some((address, rest)) = line_address(line) {
            entries.push((address, rest.to_string()));
        } else {
            break;
        }
    }
    let transcript: Vec<&str> = lines.collect();
    entries
        .into_iter()
        .map(|(address, mut text)| {
            if text.trim().is_empty()
                && let Some(reply) = transcript_reply(&transcript, &address)
            {
                text = reply.to_string();
            }
            text_recipient(address, &text, default)
        })
        .collect()
}

/// The transcript's reply line that names `address`: `<<< 550 ... <address>...`.
fn transcript_reply<'t>(transcript: &[&'t str], address: &str) -> Option<&'t str> {
    let bracketed = format!("<{address}>");
    transcript.iter().find_map(|line| {
        let t = line.trim_start_matches("<<<").trim();
        let starts_with_code = t.len() > 3 && t.as_bytes()[..3].iter().all(u8::is_ascii_digit);
        (starts_with_code && line.contains(&bracketed)).then_some(t)
    })
}
