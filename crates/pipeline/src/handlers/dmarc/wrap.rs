//! Mailman's `wrap_message`: the post, byte for byte, becomes the `message/rfc822` content of
//! a new message from the list.
//!
//! The wrapper keeps only the post's fields whose names start with one of Mailman's keepers
//! (`Archived-At`, `Date`, `In-Reply-To`, `List-`, `Precedence`, `References`, `Subject`,
//! `To`, `X-Mailman-`, case-insensitively), and gets `MIME-Version`, the new Message-ID, the
//! munged fields ([`super::munge::munged_headers`]) and:
//! - without `dmarc_wrapped_message_text`: `Content-Type: message/rfc822` and
//!   `Content-Disposition: inline`, the post as the body;
//! - with it: a `multipart/mixed` of the text (wrapped to 70 columns, in the list's charset,
//!   inline) and the post as an inline `message/rfc822` part.
//!
//! A post with 8-bit octets is declared `8bit` (RFC 2046 §5.2.1 allows nothing else). The
//! boundary is derived from the content and never occurs in it.

use super::Mitigation;
use super::munge::munged_headers;
use crate::charset::Charset;
use crate::context::ListContext;
use crate::encoded_word::Value;
use crate::header_block::Eol;
use crate::message::Message;
use crate::mime::{boundary_for, qp_encode};
use crate::rewrite::Rewrite;
use crate::templates::wrap;

/// Prefixes (lower-case) of the field names the wrapper keeps.
pub const KEEPERS: &[&str] = &[
    "archived-at",
    "date",
    "in-reply-to",
    "list-",
    "precedence",
    "references",
    "subject",
    "to",
    "x-mailman-",
];

/// Wraps `message` (the whole post) for `list`.
pub fn wrap_message(
    message: &Message<'_>,
    list: &ListContext,
    mitigation: &Mitigation<'_>,
) -> Vec<u8> {
    let original = message.raw();
    let eol = message.eol();
    let munged = munged_headers(message, list, mitigation, true);
    let mut rewrite = Rewrite::new(message);
    rewrite.remove_where(|name| !KEEPERS.iter().any(|k| name.starts_with(k)));
    rewrite.append("MIME-Version", Value::Raw("1.0"));
    rewrite.append("Message-ID", Value::Raw(mitigation.message_id));
    rewrite.append("From", Value::Raw(&munged.from));
    let (name, value) = &munged.add_to;
    if !value.is_empty() {
        rewrite.append(name, Value::Raw(value));
    }
    if let Some((name, value)) = &munged.other {
        rewrite.append(name, Value::Raw(value));
    }
    rewrite.append("X-Original-From", Value::Raw(&munged.original_from));
    let eight_bit = !original.is_ascii();

    let text = &list.settings().dmarc_wrapped_message_text.0;
    if text.is_empty() {
        rewrite.append("Content-Type", Value::Raw("message/rfc822"));
        rewrite.append("Content-Disposition", Value::Raw("inline"));
        if eight_bit {
            rewrite.append("Content-Transfer-Encoding", Value::Raw("8bit"));
        }
        return rewrite.finish_with_body(original);
    }

    let text_part = text_part(&wrap(text, 70), list_charset(list), eol);
    let mut seed = text_part.clone();
    seed.extend_from_slice(original);
    let boundary = boundary_for(&seed);
    rewrite.append(
        "Content-Type",
        Value::Raw(&format!("multipart/mixed; boundary=\"{boundary}\"")),
    );
    if eight_bit {
        rewrite.append("Content-Transfer-Encoding", Value::Raw("8bit"));
    }
    let nl = eol.as_bytes();
    let delimiter = format!("--{boundary}");
    let mut body = Vec::with_capacity(original.len() + text_part.len() + 512);
    body.extend_from_slice(delimiter.as_bytes());
    body.extend_from_slice(nl);
    body.extend_from_slice(&text_part);
    body.extend_from_slice(nl);
    body.extend_from_slice(delimiter.as_bytes());
    body.extend_from_slice(nl);
    body.extend_from_slice(b"Content-Type: message/rfc822");
    body.extend_from_slice(nl);
    body.extend_from_slice(b"Content-Disposition: inline");
    body.extend_from_slice(nl);
    if eight_bit {
        body.extend_from_slice(b"Content-Transfer-Encoding: 8bit");
        body.extend_from_slice(nl);
    }
    body.extend_from_slice(nl);
    body.extend_from_slice(original);
    // The line break before a delimiter belongs to the delimiter: the part is `original`.
    body.extend_from_slice(nl);
    body.extend_from_slice(delimiter.as_bytes());
    body.extend_from_slice(b"--");
    body.extend_from_slice(nl);
    rewrite.finish_with_body(&body)
}

/// The charset of the list's preferred language (Mailman: `us-ascii` for English, `utf-8`
/// for every other language).
fn list_charset(list: &ListContext) -> Charset {
    let language = list
        .settings()
        .preferred_language
        .0
        .trim()
        .to_ascii_lowercase();
    if language.is_empty() || language == "en" {
        Charset::Ascii
    } else {
        Charset::Utf8
    }
}

/// The inline `text/plain` part with its fields: 7bit when the text fits the charset and is
/// ASCII, quoted-printable otherwise (UTF-8 when the charset cannot hold the text).
fn text_part(text: &str, charset: Charset, eol: Eol) -> Vec<u8> {
    let text = text.trim_end_matches('\n').replace('\n', eol.as_str());
    let charset = match charset.encode(&text) {
        Some(_) => charset,
        None => Charset::Utf8,
    };
    let bytes = charset
        .encode(&text)
        .unwrap_or_else(|| text.clone().into_bytes());
    let (encoding, content) = if bytes.is_ascii() {
        ("7bit", bytes)
    } else {
        ("quoted-printable", qp_encode(&bytes, eol))
    };
    let nl = eol.as_str();
    let mut out = format!(
        "Content-Type: text/plain; charset=\"{}\"{nl}Content-Transfer-Encoding: {encoding}{nl}Content-Disposition: inline{nl}{nl}",
        charset.label()
    )
    .into_bytes();
    out.extend_from_slice(&content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list::list;

    #[test]
    fn non_ascii_text_is_quoted_printable_utf8() {
        let part = String::from_utf8(text_part("Grüße", Charset::Ascii, Eol::Crlf)).unwrap();
        assert!(part.contains("charset=\"utf-8\""), "{part}");
        assert!(part.contains("quoted-printable\r\n"), "{part}");
        assert!(part.ends_with("Gr=C3=BC=C3=9Fe"), "{part}");
        let part =
            String::from_utf8(text_part("plain\nwords\n", Charset::Ascii, Eol::Crlf)).unwrap();
        assert!(
            part.ends_with("7bit\r\nContent-Disposition: inline\r\n\r\nplain\r\nwords"),
            "{part}"
        );
    }

    #[test]
    fn only_the_keepers_stay_on_the_wrapper() {
        let raw = b"Received: x\r\nFrom: a@x.example\r\nTopic: t\r\nTo: ant@example.com\r\nDKIM-Signature: v=1\r\nSubject: s\r\nMessage-ID: <o@x>\r\n\r\nbody\r\n";
        let message = Message::parse(raw).unwrap();
        let mitigation = Mitigation {
            flagged: true,
            original_sender: "a@x.example",
            member_name: None,
            message_id: "<w@example.com>",
        };
        let out = wrap_message(&message, &list(|_| {}), &mitigation);
        let out = String::from_utf8(out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            head,
            "Topic: t\r\nTo: ant@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
             Message-ID: <w@example.com>\r\nFrom: a--- via Ant <ant@example.com>\r\n\
             Reply-To: a@x.example\r\nX-Original-From: a@x.example\r\n\
             Content-Type: message/rfc822\r\nContent-Disposition: inline"
        );
        assert_eq!(body.as_bytes(), raw);
    }
}
