//! The one builder of every mail mailcast writes itself (notices, command results,
//! confirmations, autoresponses): a text/plain body, optionally followed by attached messages,
//! with the header fields such a mail needs.
//!
//! Every mail gets `From`, `To` (unless there is no recipient), `Subject`, `Message-ID`,
//! `Date`, `Auto-Submitted` (RFC 3834) and `MIME-Version`; `In-Reply-To` and `References`
//! when it answers a mail; then the caller's extra fields. The body is UTF-8 with a
//! `charset` parameter and the transfer encoding mail-builder chooses: `7bit` for ASCII text
//! with short lines, quoted-printable or base64 otherwise; line breaks become CRLF.
//!
//! No value can start a header line of its own: display names, the subject and extra values
//! have CR, LF, NUL and the other control characters replaced by spaces
//! ([`crate::encoded_word::sanitize`]) before mail-builder encodes (RFC 2047) and folds them;
//! addresses and message ids lose every character that cannot occur in them unquoted
//! (control characters, white space, `<>()",;\`). Text values are never truncated; an
//! address is cut at 254 octets (the SMTP limit) and a message id at 900, as neither can be
//! folded onto several lines. Values that
//! vary (Message-ID, Date, boundary) are parameters ([`NoticeIds`]), so building is pure.

use std::hash::{DefaultHasher, Hash, Hasher};

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;

use crate::charset::Charset;
use crate::encoded_word::{encode_text, sanitize};
use crate::mime::{boundary_for, contains};
use crate::notice::NoticeIds;

/// The `Auto-Submitted` value (RFC 3834 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSubmitted {
    /// `auto-generated`: notices, confirmations, command results.
    Generated,
    /// `auto-replied`: autoresponses to a mail.
    Replied,
}

impl AutoSubmitted {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoSubmitted::Generated => "auto-generated",
            AutoSubmitted::Replied => "auto-replied",
        }
    }
}

/// One address of `From` or `To`, with an optional display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox<'a> {
    /// The display name (any text; encoded as needed).
    pub name: Option<&'a str>,
    /// The address.
    pub address: &'a str,
}

impl<'a> Mailbox<'a> {
    /// An address without a display name.
    pub fn bare(address: &'a str) -> Mailbox<'a> {
        Mailbox {
            name: None,
            address,
        }
    }
}

/// A mail to build: who, what, and how it relates to the mail it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedMail<'a> {
    /// The author.
    pub from: Mailbox<'a>,
    /// The recipients shown in `To` (the envelope is the caller's).
    pub to: Vec<Mailbox<'a>>,
    /// The subject, unencoded.
    pub subject: &'a str,
    /// The text/plain body.
    pub text: &'a str,
    /// `Auto-Submitted`.
    pub auto_submitted: AutoSubmitted,
    /// The Message-ID of the mail answered, for `In-Reply-To` and `References`.
    pub in_reply_to: Option<&'a str>,
    /// More header fields, written after the others (`X-Ack`, `List-Id`, ...). A name the
    /// builder writes itself, or that is not a field name, is skipped.
    pub extra_headers: Vec<(&'static str, String)>,
    /// Messages attached unchanged as `message/rfc822`, after the text.
    pub attachments: Vec<&'a [u8]>,
}

impl<'a> GeneratedMail<'a> {
    /// An `auto-generated` mail with a text body and nothing else.
    pub fn new(
        from: Mailbox<'a>,
        to: Vec<Mailbox<'a>>,
        subject: &'a str,
        text: &'a str,
    ) -> GeneratedMail<'a> {
        GeneratedMail {
            from,
            to,
            subject,
            text,
            auto_submitted: AutoSubmitted::Generated,
            in_reply_to: None,
            extra_headers: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// Fields the builder writes itself; extra headers cannot repeat them.
const OWN_FIELDS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Message-ID",
    "Date",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Builds the mail's bytes (CRLF line ends).
pub fn build(mail: &GeneratedMail<'_>, ids: &NoticeIds<'_>) -> Vec<u8> {
    let text = body_text(mail.text);
    let own_id = message_id(ids.message_id).unwrap_or_else(|| fallback_message_id(mail, ids));
    let mut builder = MessageBuilder::new().from(address(&mail.from));
    builder = match mail.to.as_slice() {
        [] => builder,
        [one] => builder.to(address(one)),
        many => builder.to(Address::new_list(many.iter().map(address).collect())),
    };
    builder = builder
        .subject(Text::new(header_text(mail.subject)))
        .message_id(own_id)
        .date(Date::new(ids.date));
    if let Some(id) = mail.in_reply_to.and_then(message_id) {
        builder = builder.in_reply_to(id.clone()).references(id);
    }
    builder = builder.header("Auto-Submitted", Raw::new(mail.auto_submitted.as_str()));
    for (name, value) in &mail.extra_headers {
        let own = OWN_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name));
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        debug_assert!(!own && valid, "extra header {name:?} cannot be written");
        if !own && valid {
            builder = builder.header(*name, Text::new(header_text(value)));
        }
    }
    let text_part = MimePart::new("text/plain", text);
    let body = if mail.attachments.is_empty() {
        text_part
    } else {
        let boundary = boundary(ids.boundary, mail);
        let mut parts = vec![text_part];
        parts.extend(mail.attachments.iter().map(|raw| attached_message(raw)));
        MimePart::new(
            ContentType::new("multipart/mixed").attribute("boundary", boundary),
            parts,
        )
    };
    builder.body(body).write_to_vec().unwrap_or_default()
}

/// A message attached unchanged as `message/rfc822` (7bit or 8bit, never re-encoded).
fn attached_message(raw: &[u8]) -> MimePart<'_> {
    let encoding = if raw.is_ascii() { "7bit" } else { "8bit" };
    MimePart::new("message/rfc822", raw).transfer_encoding(encoding)
}

fn address<'a>(mailbox: &Mailbox<'_>) -> Address<'a> {
    let name = mailbox
        .name
        .map(|n| header_text(n.trim()).trim().to_string())
        .filter(|n| !n.is_empty());
    Address::new_address(name, clean_address(mailbox.address))
}

/// A text value sanitised; ASCII text that looks like an encoded word (`=?`) is encoded
/// itself, so that readers show it as written instead of decoding it.
fn header_text(value: &str) -> String {
    let value = sanitize(value);
    if value.is_ascii() && value.contains("=?") {
        encode_text(&value, Charset::Utf8)
    } else {
        value.into_owned()
    }
}

/// Whether a character can be part of an address or message id written without quoting.
fn fits_in_address(c: char) -> bool {
    !(c.is_control() || c.is_whitespace() || "<>()\",;\\".contains(c))
}

/// The longest address SMTP allows (RFC 5321 §4.5.3.1.3, without the brackets).
const MAX_ADDRESS: usize = 254;
/// Message ids are cut here, so that `In-Reply-To: <id>` stays within 998 octets.
const MAX_ID: usize = 900;

fn clean_address(address: &str) -> String {
    bounded(address.chars().filter(|&c| fits_in_address(c)), MAX_ADDRESS)
}

/// The characters, as many as fit in `max` octets.
fn bounded(chars: impl Iterator<Item = char>, max: usize) -> String {
    let mut out = String::new();
    for c in chars {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// The id inside the first `<...>` (or the whole value), cleaned; `None` when nothing is left.
fn message_id(value: &str) -> Option<String> {
    let inner = match value.split_once('<') {
        Some((_, rest)) => rest.split('>').next().unwrap_or_default(),
        None => value,
    };
    let id = bounded(inner.chars().filter(|&c| fits_in_address(c)), MAX_ID);
    (!id.is_empty()).then_some(id)
}

/// A Message-ID for a caller that gave none: derived from the mail, never random.
fn fallback_message_id(mail: &GeneratedMail<'_>, ids: &NoticeIds<'_>) -> String {
    let mut hasher = DefaultHasher::new();
    (ids.message_id, ids.date, mail.subject, mail.text).hash(&mut hasher);
    format!("{}.{:016x}@mailcast.invalid", ids.date, hasher.finish())
}

/// The text with CRLF line ends and without NULs (which no transfer encoding of text allows).
fn body_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\r\n");
            }
            '\n' => out.push_str("\r\n"),
            '\0' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The caller's boundary when it is a valid one (RFC 2046 §5.1.1) that occurs in no part;
/// otherwise one derived from the parts.
fn boundary(wanted: &str, mail: &GeneratedMail<'_>) -> String {
    let valid = (1..=70).contains(&wanted.len())
        && !wanted.ends_with(' ')
        && wanted
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b));
    let parts = || std::iter::once(mail.text.as_bytes()).chain(mail.attachments.iter().copied());
    if valid && !parts().any(|p| contains(p, wanted.as_bytes())) {
        return wanted.to_string();
    }
    boundary_for(&parts().collect::<Vec<_>>().concat())
}
