//! Read access to a received message: its fields, decoded values, addresses and senders.
//!
//! A [`Message`] is a view over the received bytes plus the [`HeaderBlock`] index; it never
//! copies or changes the bytes (changes go through [`crate::rewrite`]). Values are decoded
//! with mail-parser's field parsers (RFC 2047 encoded words, RFC 2231, address lists), applied
//! to one field at a time. This module does not look inside the MIME body (the decorate
//! handler and the rules that need parts do).

use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, HeaderValue};

use crate::header_block::{Eol, Field, HeaderBlock, ParseError};

/// A received message: the bytes and the index of their header fields.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    raw: &'a [u8],
    block: HeaderBlock,
}

/// One address from an address-list field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee {
    /// The decoded display name, if any.
    pub name: Option<String>,
    /// The address, lower-cased.
    pub email: String,
}

impl<'a> Message<'a> {
    /// Indexes the header section of `raw`; fails on a section [`HeaderBlock::scan`] refuses.
    pub fn parse(raw: &'a [u8]) -> Result<Message<'a>, ParseError> {
        Ok(Message {
            raw,
            block: HeaderBlock::scan(raw)?,
        })
    }

    /// A view from bytes and an index made earlier from the same bytes.
    pub(crate) fn from_parts(raw: &'a [u8], block: HeaderBlock) -> Message<'a> {
        Message { raw, block }
    }

    /// The message's bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The field index.
    pub fn block(&self) -> &HeaderBlock {
        &self.block
    }

    /// The body, byte for byte as received.
    pub fn body(&self) -> &'a [u8] {
        &self.raw[self.block.body_offset..]
    }

    /// The line terminator new header lines must use.
    pub fn eol(&self) -> Eol {
        self.block.eol
    }

    /// Every field, in order.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.block.fields.iter().copied()
    }

    /// The fields named `name` (ASCII case-insensitive), in order.
    pub fn fields_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Field> + 's {
        self.fields().filter(move |f| f.is(self.raw, name))
    }

    /// Whether a field named `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.fields_named(name).next().is_some()
    }

    /// The name of a field as written.
    pub fn name_of(&self, field: Field) -> String {
        String::from_utf8_lossy(field.name(self.raw)).into_owned()
    }

    /// A field's value unfolded and trimmed, without decoding encoded words (what Python's
    /// `msg.get_all()` returns and what header-matching rules match against).
    pub fn unfolded(&self, field: Field) -> String {
        unfold(field.raw_value(self.raw))
    }

    /// The decoded text of the first field named `name` (RFC 2047 decoded, unfolded, trimmed).
    pub fn text(&self, name: &str) -> Option<String> {
        self.fields_named(name)
            .next()
            .map(|f| decode_text(f.raw_value(self.raw)))
    }

    /// The decoded `Subject`, if there is one.
    pub fn subject(&self) -> Option<String> {
        self.text("Subject")
    }

    /// The `Message-ID` value as written (trimmed), if there is one.
    pub fn message_id(&self) -> Option<String> {
        self.fields_named("Message-ID")
            .next()
            .map(|f| self.unfolded(f))
    }

    /// All addresses of all fields named `name`, in order.
    pub fn addresses(&self, name: &str) -> Vec<Addressee> {
        self.fields_named(name)
            .flat_map(|f| parse_addresses(f.raw_value(self.raw)))
            .collect()
    }

    /// The parsed `Content-Type` of the message (the MIME default `text/plain` when absent).
    pub fn content_type(&self) -> Option<ContentType<'static>> {
        let field = self.fields_named("Content-Type").next()?;
        match MessageStream::new(field.raw_value(self.raw)).parse_content_type() {
            HeaderValue::ContentType(ct) => Some(owned_content_type(ct)),
            _ => None,
        }
    }

    /// The `Content-Transfer-Encoding`, lower-cased, if present.
    pub fn transfer_encoding(&self) -> Option<String> {
        self.fields_named("Content-Transfer-Encoding")
            .next()
            .map(|f| self.unfolded(f).to_ascii_lowercase())
    }

    /// The message's senders as Mailman's `msg.senders`: the From addresses, then the envelope
    /// sender, then the Reply-To and Sender addresses; lower-cased, without duplicates, in
    /// that order.
    pub fn senders(&self, envelope_sender: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |email: String| {
            if !email.is_empty() && !out.contains(&email) {
                out.push(email);
            }
        };
        for a in self.addresses("From") {
            push(a.email);
        }
        if let Some(env) = envelope_sender {
            push(
                env.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_lowercase(),
            );
        }
        for name in ["Reply-To", "Sender"] {
            for a in self.addresses(name) {
                push(a.email);
            }
        }
        out
    }
}

/// Decodes an unstructured header value: unfolds it, decodes RFC 2047 encoded words and trims.
/// Raw 8-bit bytes are read as UTF-8 (RFC 6532), lossily.
pub fn decode_text(raw_value: &[u8]) -> String {
    let mut terminated = raw_value.to_vec();
    if !terminated.ends_with(b"\n") {
        terminated.extend_from_slice(b"\r\n");
    }
    match MessageStream::new(&terminated).parse_unstructured() {
        HeaderValue::Text(text) => text.trim().to_string(),
        HeaderValue::TextList(list) => list.concat().trim().to_string(),
        _ => String::new(),
    }
}

/// Parses an address-list value into addresses; groups are flattened, entries without an
/// address are skipped.
pub fn parse_addresses(raw_value: &[u8]) -> Vec<Addressee> {
    let mut terminated = raw_value.to_vec();
    if !terminated.ends_with(b"\n") {
        terminated.extend_from_slice(b"\r\n");
    }
    match MessageStream::new(&terminated).parse_address() {
        HeaderValue::Address(address) => address
            .iter()
            .filter_map(|a| {
                let email = a.address()?.trim().to_lowercase();
                (!email.is_empty()).then(|| Addressee {
                    name: a
                        .name()
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty()),
                    email,
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Unfolds a raw value (drops line terminators, keeps the folding white space) and trims it.
pub fn unfold(raw_value: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw_value);
    text.replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .to_string()
}

fn owned_content_type(ct: ContentType<'_>) -> ContentType<'static> {
    ContentType {
        c_type: ct.c_type.into_owned().into(),
        c_subtype: ct.c_subtype.map(|s| s.into_owned().into()),
        attributes: ct.attributes.map(|attrs| {
            attrs
                .into_iter()
                .map(|a| mail_parser::Attribute {
                    name: a.name.into_owned().into(),
                    value: a.value.into_owned().into(),
                })
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &[u8] = b"From: Anne Person <Anne@Example.COM>, bart@example.com\r\n\
Sender: list-bounces@example.org\r\n\
Reply-To: anne@example.com, \"Cris\" <cris@example.com>\r\n\
Subject: =?iso-8859-1?q?Caf=E9?=\r\n  au lait\r\n\
Content-Type: text/plain; charset=\"ISO-8859-1\"; format=flowed\r\n\
\r\n\
body\r\n";

    #[test]
    fn senders_follow_mailman_order_and_are_unique() {
        let msg = Message::parse(RAW).unwrap();
        assert_eq!(
            msg.senders(Some("<Env@Example.net>")),
            vec![
                "anne@example.com",
                "bart@example.com",
                "env@example.net",
                "cris@example.com",
                "list-bounces@example.org",
            ]
        );
        assert_eq!(msg.senders(None).len(), 4);
    }

    #[test]
    fn values_are_decoded() {
        let msg = Message::parse(RAW).unwrap();
        assert_eq!(msg.subject().as_deref(), Some("Café au lait"));
        let from = msg.addresses("from");
        assert_eq!(from[0].name.as_deref(), Some("Anne Person"));
        assert_eq!(from[0].email, "anne@example.com");
        let ct = msg.content_type().unwrap();
        assert_eq!(ct.ctype(), "text");
        assert_eq!(ct.subtype(), Some("plain"));
        assert_eq!(ct.attribute("charset"), Some("ISO-8859-1"));
        assert_eq!(msg.body(), b"body\r\n");
    }

    #[test]
    fn message_without_from_has_no_senders() {
        let msg = Message::parse(b"Subject: x\r\n\r\n").unwrap();
        assert!(msg.senders(None).is_empty());
        assert_eq!(msg.senders(Some("")), Vec::<String>::new());
    }
}
