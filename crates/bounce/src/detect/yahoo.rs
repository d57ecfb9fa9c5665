//! Yahoo's text bounces (and the same format from the domains Yahoo hosts).
//!
//! "Sorry, we were unable to deliver your message to the following address." then, as in
//! QSBMF, a paragraph per recipient that starts with `<address>:` followed by `Remote host
//! said: 550 ...`, then `--- Below this line is a copy of the message.`. Only the
//! `<address>:` paragraph openings name recipients; the default class is Permanent.

use std::ops::Range;

use super::Detector;
use super::block::angle_paragraphs;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The Yahoo detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::Yahoo,
    intro: r"Sorry, we were unable to deliver your message to the following address|^[ \t]*Unable to deliver message to the following address\(es\)",
    read,
};

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    angle_paragraphs(&text[intro.start..])
        .into_iter()
        .map(|e| text_recipient(e.address, &e.text, Class::Permanent))
        .collect()
}
