//! The two shapes in which text reports list their failed recipients, shared by the
//! detectors: an address list after an intro sentence ([`address_list`]) and QSBMF-style
//! `<address>:` paragraphs ([`angle_paragraphs`]).
//!
//! Both read only the lines right after the place the detector found, and both stop at the
//! first line that cannot belong to the list, so an address further down (a signature, the
//! postmaster's address, a quoted original) is never reached.

use crate::address::clean;

/// How many lines a list may span.
const MAX_LINES: usize = 400;
/// How many non-address lines may come between the intro and the first address.
const MAX_LEAD: usize = 3;
/// How many lines of text are kept after each address.
const MAX_TEXT_LINES: usize = 12;

/// A recipient and the text the report gives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The normalised address.
    pub(crate) address: String,
    /// The lines that follow it (and the rest of its own line), joined with spaces.
    pub(crate) text: String,
}

impl Entry {
    fn new(address: String, rest: &str) -> Entry {
        Entry {
            address,
            text: rest.trim().to_string(),
        }
    }

    fn push_line(&mut self, line: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(line.trim());
    }
}

/// The address list that starts at `text`: lines that begin with an address, each followed by
/// lines of explanation. Up to [`MAX_LEAD`] other lines may precede the first address (the
/// rest of the intro line, a "Recipients:" label); after a blank line the list goes on only
/// with another address line or an indented line; any other line ends it.
pub(crate) fn address_list(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut lead = 0;
    let mut gap = false;
    let mut kept = 0;
    for line in text.lines().take(MAX_LINES) {
        if line.trim().is_empty() {
            gap = !entries.is_empty();
            continue;
        }
        if let Some((address, rest)) = line_address(line) {
            entries.push(Entry::new(address, rest));
            kept = 0;
            gap = false;
        } else if let Some(last) = entries.last_mut() {
            if gap && !line.starts_with([' ', '\t']) {
                break;
            }
            if kept < MAX_TEXT_LINES {
                last.push_line(line);
                kept += 1;
            }
        } else {
            lead += 1;
            if lead > MAX_LEAD {
                break;
            }
        }
    }
    entries
}

/// QSBMF recipient paragraphs (qmail, Yahoo): a paragraph that starts with `<address>:`
/// names a recipient, its other lines explain; other paragraphs are skipped. Reading stops
/// at a line starting with `-` (the break paragraph).
pub(crate) fn angle_paragraphs(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut in_recipient = false;
    let mut at_start = true;
    let mut kept = 0;
    for line in text.lines().take(MAX_LINES) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            at_start = true;
            in_recipient = false;
            continue;
        }
        if trimmed.starts_with('-') {
            break;
        }
        if at_start {
            at_start = false;
            if let Some((address, rest)) = angle_address(trimmed) {
                entries.push(Entry::new(address, rest));
                in_recipient = true;
                kept = 0;
            }
            continue;
        }
        if in_recipient
            && kept < MAX_TEXT_LINES
            && let Some(last) = entries.last_mut()
        {
            last.push_line(trimmed);
            kept += 1;
        }
    }
    entries
}

/// `<address>:` at the start of a line, and the rest of the line.
pub(crate) fn angle_address(line: &str) -> Option<(String, &str)> {
    let inner = line.strip_prefix('<')?;
    let close = inner.find(">:")?;
    let address = clean(&inner[..close])?;
    Some((address, &inner[close + 2..]))
}

/// The address a list line starts with (after an optional bullet), and the rest of the line.
/// Also `Name <address>` and `Name (address)` lines.
pub(crate) fn line_address(line: &str) -> Option<(String, &str)> {
    let t = line
        .trim_start()
        .trim_start_matches(['*', '-', '•', '>', '\u{b7}'])
        .trim_start();
    let end = t.find(char::is_whitespace).unwrap_or(t.len());
    if let Some(address) = clean(&t[..end]) {
        return Some((address, rest_of(&t[end..])));
    }
    for (open, close) in [('<', '>'), ('(', ')')] {
        let Some(o) = t.find(open) else { continue };
        let Some(c) = t[o..].find(close).map(|c| o + c) else {
            continue;
        };
        let name = &t[..o];
        if name.len() <= 64
            && !name.contains([':', '@', '<', '('])
            && let Some(address) = clean(&t[o + 1..c])
        {
            return Some((address, rest_of(&t[c + 1..])));
        }
    }
    None
}

fn rest_of(rest: &str) -> &str {
    rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | ';' | ',' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.address.as_str()).collect()
    }

    #[test]
    fn reads_address_lists() {
        let rows: &[(&str, &[&str])] = &[
            (
                ":\n\n    anne@example.net\n    bob@example.net\n\nPlease contact postmaster@example.net\n",
                &["anne@example.net", "bob@example.net"],
            ),
            (
                ":\n\nanne@example.net<mailto:anne@example.net>\nThe address was not found.\n\nbob@example.net\nMailbox full.\n",
                &["anne@example.net", "bob@example.net"],
            ),
            (" anne@example.net\nnext line\n", &["anne@example.net"]),
            (
                "\n  * Anne Lee <anne@example.net>: unknown\n",
                &["anne@example.net"],
            ),
            ("\nAnne Lee (anne@example.net)\n", &["anne@example.net"]),
            // Too much prose before any address: the list is not where the intro said.
            (":\none\ntwo\nthree\nfour\nanne@example.net\n", &[]),
            // A blank line and prose end the list.
            (
                "\nanne@example.net\n\nWrite to carol@example.org for help\n",
                &["anne@example.net"],
            ),
            ("", &[]),
        ];
        for (text, expected) in rows {
            assert_eq!(addresses(&address_list(text)), *expected, "{text:?}");
        }
    }

    #[test]
    fn keeps_the_explanation_lines() {
        let entries = address_list("\nanne@example.net: 550 5.1.1 unknown\n   user\n\n   again\n");
        assert_eq!(entries[0].text, "550 5.1.1 unknown user again");
    }

    #[test]
    fn reads_qsbmf_paragraphs() {
        let text = "intro continues\n\n<anne@example.net>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 unknown\n\n\
Some other paragraph mentioning <carol@example.org>: here\n\n<bob@example.net>:\nmailbox full\n\n--- Below this line\n<dave@example.org>:\n";
        let entries = angle_paragraphs(text);
        assert_eq!(addresses(&entries), ["anne@example.net", "bob@example.net"]);
        assert_eq!(
            entries[0].text,
            "192.0.2.1 does not like recipient. Remote host said: 550 5.1.1 unknown"
        );
    }

    #[test]
    fn reads_line_addresses() {
        for (line, expected) in [
            ("anne@example.net", Some(("anne@example.net", ""))),
            (
                "  anne@example.net: over quota",
                Some(("anne@example.net", "over quota")),
            ),
            (
                "<anne@example.net>... User unknown",
                Some(("anne@example.net", "User unknown")),
            ),
            (
                "- anne@example.net - unknown",
                Some(("anne@example.net", "unknown")),
            ),
            ("Please write to anne@example.net", None),
            ("Subject: x <anne@example.net>", None),
            ("", None),
        ] {
            let got = line_address(line);
            assert_eq!(
                got.as_ref().map(|(a, r)| (a.as_str(), *r)),
                expected,
                "{line:?}"
            );
        }
    }
}
