//! Generic English reports: an intro sentence that announces a list of failed recipients,
//! then the list (see [`address_list`]). Also the reader for the non-English intros of
//! [`super::languages`].
//!
//! The intros (case-insensitive):
//!
//! - `could not be delivered to the following recipient(s)` / `couldn't be delivered to ...`
//! - `the following recipient(s) could not be reached`
//! - `delivery to the following recipient(s) failed` / `was aborted`
//! - `the following address(es) failed` / `were rejected` / `could not be delivered`
//! - `unable to deliver (your) message to the following recipient(s)` / `address(es)`
//! - `message could not be delivered to some recipients`
//! - `failed addresses follow:`
//! - `undeliverable address(es):` / `undeliverable recipient(s):` (the address may follow on
//!   the same line)
//! - `was not delivered to the following recipient(s)`
//!
//! An intro in the middle of a sentence that names no list ("your message to X could not be
//! delivered") is not enough: the list must follow. The default class is Permanent; the
//! recipient's own text can say Temporary ("mailbox temporarily full, will retry").

use std::ops::Range;

use super::Detector;
use super::block::address_list;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The generic English detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::SimpleText,
    intro: concat!(
        r"could(?: not|n't) be delivered to the following (?:recipients?|recipient\(s\)|address(?:es|\(es\))?)",
        r"|the following (?:recipients?|recipient\(s\)) could not be reached",
        r"|delivery to the following (?:recipients?|recipient\(s\)) (?:failed|was aborted)",
        r"|the following (?:address(?:es|\(es\))?) (?:failed|were rejected|could not be delivered)",
        r"|unable to deliver (?:your )?message to the following (?:recipients?|recipient\(s\)|address(?:es|\(es\))?)",
        r"|message could not be delivered to some recipients",
        r"|failed addresses follow:",
        r"|undeliverable (?:address(?:es)?|recipients?|recipient\(s\)):",
        r"|was not delivered to the following (?:recipients?|recipient\(s\))",
    ),
    read,
};

/// Reads the address list right after the intro; Permanent unless a recipient's text says
/// otherwise.
pub(crate) fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    address_list(&text[intro.end..])
        .into_iter()
        .map(|e| text_recipient(e.address, &e.text, Class::Permanent))
        .collect()
}
