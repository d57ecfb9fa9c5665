//! The RFC 3464 / RFC 6533 delivery status notification reader: [`read`].
//!
//! Where the blocks are looked for, in order:
//!
//! 1. every top-level `message/delivery-status` or `message/global-delivery-status` part,
//!    whatever the root Content-Type says (a missing or wrong `report-type` does not matter);
//! 2. only when none of those named a recipient: top-level `text/plain` parts that carry the
//!    block structure anyway (some MTAs send the delivery-status part as text). There a block
//!    counts only with `Final-Recipient`/`Original-Recipient` *and* `Action` or `Status`, and
//!    only the text before the returned message (see [`crate::returned`]) is read.
//!
//! Each block gives one recipient: the `Final-Recipient` address, or the
//! `Original-Recipient` one when Final-Recipient is missing or unreadable. Address types:
//! `rfc822` as is, `utf-8` (RFC 6533) with `\x{HHHH}` escapes resolved, none or unknown
//! types when the value is still a plain address. The diagnostic is the `Diagnostic-Code`
//! without its type (`smtp;`). Classification is [`crate::classify::dsn_recipient`].

mod fields;

use std::sync::LazyLock;

use regex::Regex;

use crate::address::{clean, decode_utf8_escapes};
use crate::classify::{Action, dsn_recipient};
use crate::mail::{Kind, Mail};
use crate::report::Recipient;
use crate::returned::report_text;

use fields::{Block, blocks};

/// A recipient field at the start of a line: the sign that a text part holds DSN blocks.
static RECIPIENT_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^(?:final|original)-recipient[ \t]*:").expect("valid regex")
});

/// The recipients of the DSN in `mail`; empty when it has no readable DSN block.
pub(crate) fn read(mail: &Mail<'_>) -> Vec<Recipient> {
    let mut out = Vec::new();
    for part in mail.parts().filter(|p| p.kind == Kind::DeliveryStatus) {
        out.extend(blocks(&part.body()).iter().filter_map(recipient));
    }
    if out.is_empty() {
        for part in mail.parts().filter(|p| p.kind == Kind::Text) {
            let body = part.body();
            let text = report_text(&body);
            if !RECIPIENT_FIELD.is_match(text) {
                continue;
            }
            out.extend(
                blocks(text)
                    .iter()
                    .filter(|b| b.action.is_some() || b.status.is_some())
                    .filter_map(recipient),
            );
        }
    }
    out
}

/// The recipient one block names, if it names a readable address.
fn recipient(block: &Block<'_>) -> Option<Recipient> {
    let address = [&block.final_recipient, &block.original_recipient]
        .into_iter()
        .flatten()
        .find_map(|value| typed_address(value))?;
    let action = block
        .action
        .as_deref()
        .map_or(Action::Unknown, Action::parse);
    let diagnostic = block.diagnostic.as_deref().map(strip_type);
    Some(dsn_recipient(
        address,
        action,
        block.status.as_deref(),
        diagnostic,
    ))
}

/// The address of an `address-type; address` value.
fn typed_address(value: &str) -> Option<String> {
    match value.split_once(';') {
        Some((kind, addr)) if kind.trim().eq_ignore_ascii_case("utf-8") => {
            clean(&decode_utf8_escapes(addr))
        }
        Some((kind, addr)) if is_type_token(kind) => clean(addr),
        _ => clean(value),
    }
}

/// A Diagnostic-Code value without its `diagnostic-type;` (`smtp;`, `X-Postfix;`).
fn strip_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest)) if is_type_token(kind) => rest.trim(),
        _ => value.trim(),
    }
}

/// An address or diagnostic type: a short atom such as `rfc822`, `smtp`, `X-Postfix`.
fn is_type_token(kind: &str) -> bool {
    let kind = kind.trim();
    !kind.is_empty()
        && kind.len() <= 20
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_addresses() {
        for (value, expected) in [
            ("rfc822; anne@Example.NET", Some("anne@example.net")),
            ("RFC822;<anne@example.net>", Some("anne@example.net")),
            ("utf-8; j\\x{00F6}rg@example.net", Some("jörg@example.net")),
            ("UTF-8; jörg@example.net", Some("jörg@example.net")),
            ("<anne@example.net>", Some("anne@example.net")),
            ("anne@example.net", Some("anne@example.net")),
            ("unknown; anne@example.net", Some("anne@example.net")),
            ("x400; /C=US/ADMD=ATT/", None),
            ("rfc822; postmaster", None),
            ("", None),
        ] {
            assert_eq!(typed_address(value).as_deref(), expected, "{value:?}");
        }
    }

    #[test]
    fn strips_diagnostic_types() {
        for (value, expected) in [
            ("smtp; 550 5.1.1 unknown", "550 5.1.1 unknown"),
            ("X-Postfix; host not found", "host not found"),
            ("550 5.1.1 no type; really", "550 5.1.1 no type; really"),
            ("  plain text ", "plain text"),
        ] {
            assert_eq!(strip_type(value), expected, "{value:?}");
        }
    }

    #[test]
    fn falls_back_to_original_recipient() {
        let block = Block {
            final_recipient: Some("rfc822; not an address".into()),
            original_recipient: Some("rfc822; anne@example.net".into()),
            action: Some("failed".into()),
            ..Block::default()
        };
        assert_eq!(recipient(&block).unwrap().address, "anne@example.net");
    }
}
