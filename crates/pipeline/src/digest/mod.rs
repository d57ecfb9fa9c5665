//! Digests, as Mailman 3 builds them (`runners/digest.py`; mailman3-more.md §1.5): from the
//! posts a list accumulated, one MIME digest and one plain (RFC 1153) digest, each a complete
//! mail ready for fan-out.
//!
//! Both start with the same header block (From the `-request` address, To and Reply-To the
//! posting address, Subject `<display name> Digest, Vol V, Issue N`, Date, Message-ID), then
//! get the list headers of Mailman's "virgin" pipeline ([`crate::handlers::virgin`]: cook
//! headers and RFC 2369, never `Archived-At`), and are never decorated per member. The
//! masthead (`list:member:digest:masthead`, expanded and wrapped at 70 columns), the digest
//! header and footer (`list:member:digest:header`/`footer`, expanded; empty ones are left
//! out) come from the list's templates.
//!
//! - [`mime`]: `multipart/mixed` of masthead, header, table of contents, a `multipart/digest`
//!   of every post as `message/rfc822` (each with `Message: <n>` added to its header), footer,
//!   and `End of <subject>` after the closing boundary.
//! - [`plain`]: one `text/plain` mail: masthead, header, table of contents, each post's kept
//!   headers and text ([`scrub`]), the footer as a pseudo-message, and the sign-off.
//! - [`toc`]: the table of contents; [`numbering`]: volume and issue numbers.
//!
//! Text is written as `us-ascii` when it is ASCII and as UTF-8 (quoted-printable) otherwise.

pub mod mime;
pub mod numbering;
pub mod plain;
pub mod scrub;
pub mod toc;

use mail_builder::headers::date::Date;

use crate::context::ListContext;
use crate::encoded_word::{Value, field};
use crate::header_block::Eol;
use crate::message::Message;
use crate::notice::NoticeIds;
use crate::templates::wrap;
use crate::templates::{Overrides, expand};

/// One digest to build: the list, its templates, the numbers it carries and its ids.
#[derive(Debug, Clone, Copy)]
pub struct Issue<'a> {
    /// The list.
    pub list: &'a ListContext,
    /// The list's template texts.
    pub templates: &'a Overrides,
    /// The volume the digest carries.
    pub volume: u64,
    /// The issue number the digest carries.
    pub number: u64,
    /// Message-ID (the plain digest gets the same id with `.plain` before the `@`), Date and
    /// boundary seed of the mails.
    pub ids: NoticeIds<'a>,
}

impl Issue<'_> {
    /// `<display name> Digest, Vol V, Issue N`: the Subject, and the text after `End of`.
    pub fn digest_id(&self) -> String {
        format!(
            "{} Digest, Vol {}, Issue {}",
            self.list.display_name(),
            self.volume,
            self.number
        )
    }

    /// The masthead: `list:member:digest:masthead`, expanded, wrapped at 70 columns.
    fn masthead(&self) -> String {
        let address = self.list.address();
        let extra = [
            ("got_list_email", address.posting_address()),
            ("got_request_email", address.sub_address("request")),
            ("got_owner_email", address.sub_address("owner")),
        ];
        let text = self.templates.text("list:member:digest:masthead");
        wrap(&expand(text, self.list, &extra), 70)
    }

    /// A decoration template (`list:member:digest:header` or `footer`), expanded.
    fn decoration(&self, name: &str) -> String {
        expand(self.templates.text(name), self.list, &[])
    }

    /// The header fields both digests start with, for the mail with this Message-ID.
    fn common_headers(&self, message_id: &str) -> Vec<u8> {
        let address = self.list.address();
        let posting = address.posting_address();
        let mut out = Vec::new();
        out.extend(field(
            "From",
            Value::Raw(&address.sub_address("request")),
            Eol::Crlf,
        ));
        out.extend(field("Subject", Value::Text(&self.digest_id()), Eol::Crlf));
        out.extend(field("To", Value::Raw(&posting), Eol::Crlf));
        out.extend(field("Reply-To", Value::Raw(&posting), Eol::Crlf));
        out.extend(field(
            "Date",
            Value::Raw(&Date::new(self.ids.date).to_rfc822()),
            Eol::Crlf,
        ));
        out.extend(field(
            "Message-ID",
            Value::Raw(&angle(message_id)),
            Eol::Crlf,
        ));
        out.extend(field("MIME-Version", Value::Raw("1.0"), Eol::Crlf));
        out
    }
}

/// The two digests of one issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// The MIME digest, for `mime_digests` and `summary_digests` members.
    pub mime: Vec<u8>,
    /// The plain (RFC 1153) digest, for `plaintext_digests` members.
    pub plain: Vec<u8>,
}

/// Builds both digests of `issue` from the accumulated posts (in order). A post whose
/// header section cannot be read is left out. `None` when no post is left.
pub fn build(issue: &Issue<'_>, posts: &[&[u8]]) -> Option<Digests> {
    let parsed: Vec<Message<'_>> = posts
        .iter()
        .filter_map(|raw| Message::parse(raw).ok())
        .collect();
    if parsed.is_empty() {
        return None;
    }
    let prefix = issue.list.settings().subject_prefix.0.clone();
    let toc = toc::table(&parsed, &prefix);
    let mime = mime::build(issue, &parsed, &toc);
    let plain = plain::build(issue, &parsed, &toc);
    let virgin = |raw: Vec<u8>| crate::handlers::virgin(&raw, issue.list).unwrap_or(raw);
    Some(Digests {
        mime: virgin(mime),
        plain: virgin(plain),
    })
}

/// `<id>` for an id given with or without its angle brackets.
fn angle(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

/// The Message-ID of the plain digest: the MIME digest's with `.plain` before the `@`.
fn plain_id(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    match id.split_once('@') {
        Some((local, domain)) => format!("<{local}.plain@{domain}>"),
        None => format!("<{id}.plain>"),
    }
}

/// A text body as a MIME leaf: its Content-Type and transfer encoding fields and the encoded
/// body, with CRLF line ends. ASCII text with short lines is `us-ascii` 7bit; anything else
/// UTF-8 quoted-printable.
fn text_body(text: &str) -> (Vec<u8>, Vec<u8>) {
    let crlf = crlf(text.as_bytes());
    let short = crlf.split(|&b| b == b'\n').all(|line| line.len() <= 998);
    if text.is_ascii() && short {
        let headers = [
            field(
                "Content-Type",
                Value::Raw("text/plain; charset=\"us-ascii\""),
                Eol::Crlf,
            ),
            field("Content-Transfer-Encoding", Value::Raw("7bit"), Eol::Crlf),
        ]
        .concat();
        (headers, crlf)
    } else {
        let headers = [
            field(
                "Content-Type",
                Value::Raw("text/plain; charset=\"utf-8\""),
                Eol::Crlf,
            ),
            field(
                "Content-Transfer-Encoding",
                Value::Raw("quoted-printable"),
                Eol::Crlf,
            ),
        ]
        .concat();
        (headers, crate::mime::qp_encode(&crlf, Eol::Crlf))
    }
}

/// The bytes with every line ending as CRLF (lone LF and lone CR become CRLF).
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\rd"), b"a\r\nb\r\nc\r\nd");
    }

    #[test]
    fn the_plain_digest_has_its_own_id() {
        assert_eq!(plain_id("<abc@lists.example>"), "<abc.plain@lists.example>");
        assert_eq!(plain_id("abc"), "<abc.plain>");
        assert_eq!(angle("abc@x"), "<abc@x>");
    }
}
