//! The detectors for bounce formats other than RFC 3464, and the order they run in:
//! [`detect`].
//!
//! Each detector is one module per format family. It names its *intro*, the phrase that
//! marks the place where its format lists failed recipients, and a reader that takes the
//! recipients from exactly that place (see [`block`] for the two list shapes). One
//! [`RegexSet`] pass over a part's report text (the text before the returned message, see
//! [`crate::returned`]) tells which intros occur; only those detectors run, in this order,
//! and the first that names a recipient wins:
//!
//! | # | Detector | Intro (abridged) |
//! |---|---|---|
//! | 1 | [`qmail`] | `Hi. This is the qmail-send program`, `This is the mail delivery agent at`, ... |
//! | 2 | [`exim`] | `A message that you sent could not be delivered`, `has not yet been delivered`, `This message was created automatically by mail delivery software` |
//! | 3 | [`postfix`] | `This is the Postfix program at host`, `This is the mail system at host` |
//! | 4 | [`sendmail`] | `----- The following addresses had permanent fatal errors -----` |
//! | 5 | [`exchange`] | `Delivery has failed to these recipients or groups:`, `did not reach the following recipient(s)`, `Your message to X couldn't be delivered` |
//! | 6 | [`gmail`] | `Delivery to the following recipient failed permanently:`, `** Address not found **`, ... |
//! | 7 | [`yahoo`] | `Sorry, we were unable to deliver your message to the following address` |
//! | 8 | [`lotus`] | `Your document:` |
//! | 9 | [`groupwise`] | `The attached file had the following undeliverable recipient(s)`, `The message that you sent was not delivered to` |
//! | 10 | [`simple`] | generic English intros (`could not be delivered to the following recipients`) |
//! | 11 | [`languages`] | German, French, Spanish, Italian, Portuguese, Dutch, Polish intros |
//!
//! The parts read are the top-level inline `text/plain` parts (the `text/html` ones, as text,
//! when there is no plain part), at most [`MAX_TEXT_PARTS`]. When no detector names anyone,
//! Exim's `X-Failed-Recipients` header is the last resort ([`exim::from_header`]).

mod block;
mod exchange;
mod exim;
mod gmail;
mod groupwise;
mod languages;
mod lotus;
mod postfix;
mod qmail;
mod sendmail;
mod simple;
mod yahoo;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use crate::mail::{Kind, Mail};
use crate::report::{Format, Recipient};
use crate::returned::report_text;

/// How many text parts are read.
const MAX_TEXT_PARTS: usize = 8;

/// A detector for one format family.
pub(crate) struct Detector {
    /// The format its reports are.
    pub(crate) format: Format,
    /// The regex source of its intro phrases; compiled case-insensitive and multi-line.
    pub(crate) intro: &'static str,
    /// Reads the recipients from `text` (a part's report text), given where the intro matched.
    pub(crate) read: fn(text: &str, intro: Range<usize>) -> Vec<Recipient>,
}

/// The detectors in the order they are tried.
const DETECTORS: [Detector; 11] = [
    qmail::DETECTOR,
    exim::DETECTOR,
    postfix::DETECTOR,
    sendmail::DETECTOR,
    exchange::DETECTOR,
    gmail::DETECTOR,
    yahoo::DETECTOR,
    lotus::DETECTOR,
    groupwise::DETECTOR,
    simple::DETECTOR,
    languages::DETECTOR,
];

fn flagged(intro: &str) -> String {
    format!("(?im){intro}")
}

static INTROS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(DETECTORS.iter().map(|d| flagged(d.intro))).expect("valid intro regexes")
});

static EACH: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    DETECTORS
        .iter()
        .map(|d| Regex::new(&flagged(d.intro)).expect("valid intro regex"))
        .collect()
});

/// The format and recipients of a non-DSN bounce, if a detector recognises it.
pub(crate) fn detect(mail: &Mail<'_>) -> Option<(Format, Vec<Recipient>)> {
    for body in texts(mail) {
        let text = report_text(&body);
        let hits = INTROS.matches(text);
        for i in hits.iter() {
            let Some(m) = EACH[i].find(text) else {
                continue;
            };
            let recipients = (DETECTORS[i].read)(text, m.range());
            if !recipients.is_empty() {
                return Some((DETECTORS[i].format, recipients));
            }
        }
    }
    let recipients = exim::from_header(mail);
    (!recipients.is_empty()).then_some((Format::Exim, recipients))
}

/// The bodies the detectors read: inline plain-text parts, else the HTML ones as text.
pub(crate) fn texts<'m>(mail: &'m Mail<'_>) -> Vec<Cow<'m, str>> {
    let inline = |kind| {
        mail.parts()
            .filter(move |p| p.kind == kind && !p.attachment)
            .take(MAX_TEXT_PARTS)
    };
    let plain: Vec<_> = inline(Kind::Text).map(|p| p.body()).collect();
    if !plain.is_empty() {
        return plain;
    }
    inline(Kind::Html)
        .map(|p| Cow::Owned(mail_parser::decoders::html::html_to_text(&p.body())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_intro_compiles_and_the_order_is_fixed() {
        assert_eq!(INTROS.len(), DETECTORS.len());
        assert_eq!(EACH.len(), DETECTORS.len());
        let order: Vec<_> = DETECTORS.iter().map(|d| d.format.as_str()).collect();
        assert_eq!(
            order,
            [
                "qmail",
                "exim",
                "postfix",
                "sendmail",
                "exchange",
                "gmail",
                "yahoo",
                "lotus-notes",
                "groupwise",
                "simple-text",
                "simple-text"
            ]
        );
    }
}
