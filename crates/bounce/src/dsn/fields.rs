//! The per-recipient blocks of an RFC 3464 delivery-status body: [`blocks`].
//!
//! The body is groups of header-like fields separated by blank lines; a field may be folded
//! onto indented continuation lines. Only the fields that say who and what are kept
//! (`Final-Recipient`, `Original-Recipient`, `Action`, `Status`, `Diagnostic-Code`); the
//! per-message group (`Reporting-MTA`...) has no recipient and is dropped.
//!
//! Real reports are sloppy, so the reader is tolerant: a missing blank line between two
//! recipients is noticed because a recipient field appears again, or appears after the
//! block's Action or Status; lines that are not fields are ignored; `\r` is dropped.

use std::borrow::Cow;

/// At most this many blocks are read from one body.
pub(crate) const MAX_BLOCKS: usize = 1000;

/// The fields of one per-recipient block, unfolded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Block<'a> {
    /// `Final-Recipient`, with its address type (`rfc822; anne@example.net`).
    pub(crate) final_recipient: Option<Cow<'a, str>>,
    /// `Original-Recipient`, with its address type.
    pub(crate) original_recipient: Option<Cow<'a, str>>,
    /// `Action`.
    pub(crate) action: Option<Cow<'a, str>>,
    /// `Status`.
    pub(crate) status: Option<Cow<'a, str>>,
    /// `Diagnostic-Code`, with its type (`smtp; 550 ...`).
    pub(crate) diagnostic: Option<Cow<'a, str>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Final,
    Original,
    Action,
    Status,
    Diagnostic,
    Other,
}

impl<'a> Block<'a> {
    fn has_recipient(&self) -> bool {
        self.final_recipient.is_some() || self.original_recipient.is_some()
    }

    fn slot(&mut self, field: Field) -> Option<&mut Option<Cow<'a, str>>> {
        match field {
            Field::Final => Some(&mut self.final_recipient),
            Field::Original => Some(&mut self.original_recipient),
            Field::Action => Some(&mut self.action),
            Field::Status => Some(&mut self.status),
            Field::Diagnostic => Some(&mut self.diagnostic),
            Field::Other => None,
        }
    }

    /// Whether `field` cannot belong to this block and so starts the next one.
    fn starts_next(&self, field: Field) -> bool {
        match field {
            Field::Final => {
                self.final_recipient.is_some() || self.action.is_some() || self.status.is_some()
            }
            Field::Original => {
                self.original_recipient.is_some() || self.action.is_some() || self.status.is_some()
            }
            _ => false,
        }
    }
}

/// The per-recipient blocks of `body`, in order, at most [`MAX_BLOCKS`].
pub(crate) fn blocks(body: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut current = Block::default();
    let mut last: Field = Field::Other;
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            finish(&mut out, &mut current);
            last = Field::Other;
        } else if line.starts_with([' ', '\t']) {
            if let Some(Some(value)) = current.slot(last) {
                let v = value.to_mut();
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            let field = field_of(name.trim());
            if current.starts_next(field) {
                finish(&mut out, &mut current);
            }
            last = Field::Other;
            if let Some(slot) = current.slot(field)
                && slot.is_none()
            {
                *slot = Some(Cow::Borrowed(value.trim()));
                last = field;
            }
        } else {
            last = Field::Other;
        }
        if out.len() >= MAX_BLOCKS {
            return out;
        }
    }
    finish(&mut out, &mut current);
    out.truncate(MAX_BLOCKS);
    out
}

fn finish<'a>(out: &mut Vec<Block<'a>>, current: &mut Block<'a>) {
    let block = std::mem::take(current);
    if block.has_recipient() {
        out.push(block);
    }
}

fn field_of(name: &str) -> Field {
    const FIELDS: [(&str, Field); 5] = [
        ("final-recipient", Field::Final),
        ("original-recipient", Field::Original),
        ("action", Field::Action),
        ("status", Field::Status),
        ("diagnostic-code", Field::Diagnostic),
    ];
    FIELDS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(Field::Other, |&(_, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each block as [final, original, action, status, diagnostic].
    fn summary(body: &str) -> Vec<[Option<String>; 5]> {
        blocks(body)
            .into_iter()
            .map(|b| {
                [
                    b.final_recipient,
                    b.original_recipient,
                    b.action,
                    b.status,
                    b.diagnostic,
                ]
                .map(|v| v.map(Cow::into_owned))
            })
            .collect()
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn reads_every_block_and_unfolds() {
        let body = "Reporting-MTA: dns; mx.example.net\r\n\r\n\
Final-Recipient: rfc822; anne@example.net\r\n\
Action: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <anne@example.net>:\r\n    user unknown\r\n\r\n\
Original-Recipient: rfc822;bob@example.net\r\nFinal-Recipient: RFC822; bob@example.net\r\n\
action: delayed\r\nstatus: 4.2.2\r\n";
        assert_eq!(
            summary(body),
            vec![
                [
                    some("rfc822; anne@example.net"),
                    None,
                    some("failed"),
                    some("5.1.1"),
                    some("smtp; 550 5.1.1 <anne@example.net>: user unknown")
                ],
                [
                    some("RFC822; bob@example.net"),
                    some("rfc822;bob@example.net"),
                    some("delayed"),
                    some("4.2.2"),
                    None
                ],
            ]
        );
    }

    #[test]
    fn splits_blocks_without_blank_lines() {
        let body = "Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.1.1\n\
Final-Recipient: rfc822; b@example.net\nAction: failed\nStatus: 5.2.2\n\
Original-Recipient: rfc822; c@example.net\nAction: delivered\n";
        let got = summary(body);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1][0].as_deref(), Some("rfc822; b@example.net"));
        assert_eq!(got[2][1].as_deref(), Some("rfc822; c@example.net"));
    }

    #[test]
    fn ignores_junk_and_blocks_without_recipient() {
        assert!(summary("Reporting-MTA: dns; x\nArrival-Date: today\n").is_empty());
        assert!(summary("no fields here\n\n  continuation of nothing\n").is_empty());
        assert!(summary("").is_empty());
    }

    #[test]
    fn stops_at_the_block_limit() {
        let body = "Final-Recipient: rfc822; a@example.net\n\n".repeat(MAX_BLOCKS + 10);
        assert_eq!(blocks(&body).len(), MAX_BLOCKS);
    }
}
