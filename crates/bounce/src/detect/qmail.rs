//! qmail's bounce format, QSBMF (<https://cr.yp.to/proto/qsbmf.txt>), and its derivatives
//! (netqmail, vpopmail, the "MTA program" variants).
//!
//! An intro paragraph ("Hi. This is the qmail-send program at mx.example.net. I'm afraid I
//! wasn't able to deliver your message to the following addresses. This is a permanent
//! error; I've given up."), then one paragraph per recipient that starts with `<address>:`,
//! then the break paragraph (`--- Below this line is a copy of the message.`). Only the
//! `<address>:` paragraph openings name recipients. qmail reports permanent failures, so
//! Permanent is the default; a `Remote host said: 4xx` or a `(#4.x.x)` code says otherwise.

use std::ops::Range;

use super::Detector;
use super::block::angle_paragraphs;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The qmail detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::Qmail,
    intro: r"^[ \t]*(?:Hi\. This is the qmail|Hi\. The MTA program at|This is the mail delivery agent at|I'm afraid I wasn't able to deliver your message to the following addresses|Unfortunately, your mail was not delivered to the following)",
    read,
};

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    angle_paragraphs(&text[intro.start..])
        .into_iter()
        .map(|e| text_recipient(e.address, &e.text, Class::Permanent))
        .collect()
}
