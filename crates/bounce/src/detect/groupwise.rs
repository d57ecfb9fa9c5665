//! Novell GroupWise (GWIA) text reports.
//!
//! ```text
//! Message status - undeliverable
//!
//! The attached file had the following undeliverable recipient(s):
//!     anne@example.net
//!
//! Transcript of session follows:
//!     Command:  RCPT TO:<anne@example.net>
//!     Response: 550 5.1.1 <anne@example.net>... User unknown
//! ```
//!
//! or "The message that you sent was not delivered to the following recipient(s):" with the
//! same list. The recipients are the address list under that sentence; each takes the
//! `Response:` that follows the `RCPT TO:<address>` command naming it in the transcript, if
//! there is one. The default class is Permanent.
//!
//! GroupWise also sends Sendmail-shaped reports ("The original message was received at ...",
//! then `----- The following addresses had permanent fatal errors -----`, Subject
//! "Undeliverable mail"): those are read by [`super::sendmail`], whose structure they have,
//! and reported as [`Format::Sendmail`].

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::Detector;
use super::block::address_list;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The GroupWise detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::GroupWise,
    intro: r"The attached file had the following undeliverable recipient\(s\)|The message that you sent was not delivered to",
    read,
};

static RCPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)RCPT TO:\s*<([^>\s]+)>").expect("valid regex"));

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    let after = &text[intro.end..];
    let transcript = transcript(after);
    address_list(after)
        .into_iter()
        .map(|e| {
            let reply = transcript
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(&e.address))
                .map_or(e.text.as_str(), |(_, r)| r.as_str());
            text_recipient(e.address.clone(), reply, Class::Permanent)
        })
        .collect()
}

/// (address, response) for each `RCPT TO:<address>` command of the transcript.
fn transcript(after: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut pending: Option<String> = None;
    for line in after.lines().take(400) {
        let t = line.trim();
        if let Some(c) = RCPT.captures(t) {
            pending = Some(c[1].to_string());
        } else if let Some(response) = t.strip_prefix("Response:")
            && let Some(address) = pending.take()
        {
            out.push((address, response.trim().to_string()));
        }
    }
    out
}
