//! Gmail's text bounces (the ones without a delivery-status part).
//!
//! Older form: "Delivery to the following recipient failed permanently:" (or "has been
//! delayed:"), the recipients indented on their own lines, then "Technical details of
//! permanent failure:" and "The error that the other server returned was:" with the reply.
//!
//! Newer form: a title (`** Address not found **`, `** Message blocked **`, `** Message not
//! delivered **`, `** Delivery incomplete **`) and a sentence that names the recipient: "Your
//! message wasn't delivered to anne@example.net because ...", "Your message to
//! anne@example.net has been blocked", "There was a (temporary) problem delivering your
//! message to anne@example.net.", then "The response from the remote server was:" (or "The
//! response was:") and the reply.
//!
//! Recipients come only from the indented list or from that sentence. The reply paragraph
//! (else the "Technical details" paragraph) is every recipient's diagnostic. Delays ("has been
//! delayed", "Delivery incomplete") default to Temporary, everything else to Permanent.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::Detector;
use super::block::address_list;
use crate::address::clean;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The Gmail detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::Gmail,
    intro: r"Delivery to the following recipients? (?:failed permanently|has been delayed)|\*\* ?(?:Address not found|Message blocked|Message not delivered|Delivery incomplete|Message rejected) ?\*\*|Your message wasn't delivered to \S+@",
    read,
};

/// The sentence of the newer form that names the recipient.
static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:wasn't delivered to|your message to|problem delivering your message to|couldn't be delivered to)\s+(\S+@\S+)",
    )
    .expect("valid regex")
});

/// The heading of the reply paragraph, best first.
static REPLY: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    [
        r"(?im)^[ \t]*(?:The response (?:from the remote server )?was|The error that the other server returned was):[ \t]*\r?$",
        r"(?im)^[ \t]*Technical details of (?:permanent|temporary) failure:[ \t]*\r?$",
    ]
    .map(|re| Regex::new(re).expect("valid regex"))
});

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    let matched = text[intro.clone()].to_ascii_lowercase();
    let default = if matched.contains("delayed") || matched.contains("incomplete") {
        Class::Temporary
    } else {
        Class::Permanent
    };
    let addresses: Vec<String> = if matched.starts_with("delivery to the following") {
        address_list(&text[intro.end..])
            .into_iter()
            .map(|e| e.address)
            .collect()
    } else {
        NAMED
            .captures(&text[intro.start..])
            .and_then(|c| clean(c.get(1)?.as_str()))
            .into_iter()
            .collect()
    };
    let reply = reply_paragraph(&text[intro.end..]);
    addresses
        .into_iter()
        .map(|address| text_recipient(address, reply, default))
        .collect()
}

/// The first paragraph under the reply heading.
fn reply_paragraph(text: &str) -> &str {
    for heading in REPLY.iter() {
        if let Some(m) = heading.find(text) {
            let body = text[m.end()..].trim_start_matches(['\r', '\n', ' ', '\t']);
            let end = body
                .find("\n\n")
                .or_else(|| body.find("\r\n\r\n"))
                .unwrap_or(body.len());
            return &body[..end];
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_reply_paragraph() {
        let text = "\nTechnical details of permanent failure:\nGoogle tried.\n\nThe error that the other server returned was:\n550 5.1.1 unknown\n\nmore\n";
        assert_eq!(reply_paragraph(text), "550 5.1.1 unknown");
        assert_eq!(
            reply_paragraph("\nTechnical details of temporary failure:\nretrying\n"),
            "retrying\n"
        );
        assert_eq!(reply_paragraph("nothing"), "");
    }
}
