//! Postfix's text report, for the bounces that carry no delivery-status part (Postfix
//! before 2.3, and relays that strip the DSN part).
//!
//! "This is the mail system at host mx.example.net." (older: "This is the Postfix program at
//! host ..."), a few paragraphs of explanation, the signature line "The mail system" (or "The
//! Postfix program") alone on its line, and then one entry per recipient:
//!
//! ```text
//! <anne@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1
//!     <anne@example.net>: Recipient address rejected: User unknown (in reply to
//!     RCPT TO command)
//! <bob@example.net> (expanded from <team@example.net>): mailbox full
//! ```
//!
//! Only entries after the signature count, and only their leading `<address>`; the
//! `(expanded from ...)` alias is not a recipient. The list ends at the first line that is
//! neither an entry, an indented continuation nor blank. The default class is Permanent,
//! Temporary when the report is Postfix's delay warning ("THIS IS A WARNING ONLY").

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::Detector;
use crate::address::clean;
use crate::classify::text_recipient;
use crate::report::{Class, Format, Recipient};

/// The Postfix detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::Postfix,
    intro: r"This is the (?:Postfix program|mail system) at host",
    read,
};

static SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^[ \t]*The (?:Postfix program|mail system)[ \t]*\r?$").expect("valid regex")
});

fn read(text: &str, intro: Range<usize>) -> Vec<Recipient> {
    let rest = &text[intro.start..];
    let Some(signature) = SIGNATURE.find(rest) else {
        return Vec::new();
    };
    let default = if rest[..signature.start()]
        .to_ascii_uppercase()
        .contains("WARNING ONLY")
    {
        Class::Temporary
    } else {
        Class::Permanent
    };
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in rest[signature.end()..].lines().take(400) {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('<') {
            match entry(line) {
                Some(e) => entries.push(e),
                None => break,
            }
        } else if line.starts_with([' ', '\t'])
            && let Some((_, text)) = entries.last_mut()
        {
            text.push(' ');
            text.push_str(line.trim());
        } else {
            break;
        }
    }
    entries
        .into_iter()
        .map(|(address, text)| text_recipient(address, &text, default))
        .collect()
}

/// `<address>[ (expanded from <alias>)]: text`.
fn entry(line: &str) -> Option<(String, String)> {
    let close = line.find('>')?;
    let address = clean(&line[1..close])?;
    let mut after = &line[close + 1..];
    if let Some(expanded) = after.trim_start().strip_prefix("(expanded from") {
        after = &expanded[expanded.find(')')? + 1..];
    }
    let text = after.trim_start().strip_prefix(':')?;
    Some((address, text.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries() {
        for (line, expected) in [
            (
                "<anne@example.net>: host x said: 550 no",
                Some(("anne@example.net", "host x said: 550 no")),
            ),
            (
                "<bob@example.net> (expanded from <team@example.net>): full",
                Some(("bob@example.net", "full")),
            ),
            ("<postmaster>: nope", None),
            ("<anne@example.net> no colon", None),
        ] {
            let got = entry(line);
            assert_eq!(
                got.as_ref().map(|(a, t)| (a.as_str(), t.as_str())),
                expected,
                "{line:?}"
            );
        }
    }
}
