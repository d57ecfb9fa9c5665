//! The munged header fields of Mailman's `munged_headers` and `munge_from`.
//!
//! - The author: the single From address that contains an `@`; with none or several, the
//!   post's sender, without a name.
//! - The name: the From display name (encoded words left in a quoted name are decoded too),
//!   else the member's display name, else the address; a trailing `@domain.tld` becomes `---`
//!   so that the new From names no second domain.
//! - `From: "<name> via <list display name>" <posting address>`, quoted or RFC 2047-encoded
//!   as the name needs, never able to start another header line.
//! - The author is appended to Reply-To when `reply_goes_to_list` is `no_munging`, else to
//!   Cc, unless that field names them already. Wrapping also copies the other of the two.
//! - `X-Original-From`: the author's From field as written (unfolded).

use std::sync::LazyLock;

use mailcast_model::settings::ReplyToMunging;
use regex::Regex;

use super::Mitigation;
use crate::context::ListContext;
use crate::encoded_word::{Value, mailbox};
use crate::message::{Addressee, Message, decode_text};
use crate::rewrite::Rewrite;

/// A trailing address in a display name (Mailman's pattern).
static TRAILING_DOMAIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"@([^ .]+\.)+[^ .]+$").expect("a valid pattern"));

/// The header fields the mitigation writes, values in wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MungedHeaders {
    /// The new From.
    pub from: String,
    /// The field the author is added to (`Reply-To` or `Cc`) and its new value.
    pub add_to: (&'static str, String),
    /// For wrapping: the other of Reply-To and Cc, copied from the post when present.
    pub other: Option<(&'static str, String)>,
    /// The value of `X-Original-From`.
    pub original_from: String,
}

/// Computes the munged fields for `message`; `wrapping` adds [`MungedHeaders::other`].
pub fn munged_headers(
    message: &Message<'_>,
    list: &ListContext,
    mitigation: &Mitigation<'_>,
    wrapping: bool,
) -> MungedHeaders {
    let froms: Vec<Addressee> = message
        .addresses("From")
        .into_iter()
        .filter(|a| a.email.contains('@'))
        .collect();
    let author = match froms.as_slice() {
        [single] => single.clone(),
        _ => Addressee {
            name: None,
            email: mitigation.original_sender.trim().to_lowercase(),
        },
    };
    let mut name = author
        .name
        .as_deref()
        .map(decode_fragments)
        .unwrap_or_default();
    if name.trim().is_empty() {
        name = mitigation
            .member_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&author.email)
            .to_string();
    }
    let name = TRAILING_DOMAIN.replace(name.trim(), "---");
    let via = format!("{name} via {}", list.display_name());
    let from = phrase_mailbox(&via, &list.address().posting_address());

    let (add_to, other) = match list.settings().reply_goes_to_list {
        ReplyToMunging::NoMunging => ("Reply-To", "Cc"),
        _ => ("Cc", "Reply-To"),
    };
    let mut named = message.addresses(add_to);
    if !author.email.is_empty() && !named.iter().any(|a| a.email == author.email) {
        named.push(author.clone());
    }
    let add_to_value = named
        .iter()
        .map(|a| mailbox(a.name.as_deref(), &a.email))
        .collect::<Vec<_>>()
        .join(", ");
    let other = wrapping
        .then(|| message.fields_named(other).next())
        .flatten()
        .map(|field| (other, message.unfolded(field)));
    let from_fields: Vec<String> = message
        .fields_named("From")
        .map(|f| message.unfolded(f))
        .filter(|v| !v.is_empty())
        .collect();
    let original_from = if from_fields.is_empty() {
        author.email.clone()
    } else {
        from_fields.join(", ")
    };
    MungedHeaders {
        from,
        add_to: (add_to, add_to_value),
        other,
        original_from,
    }
}

/// Munges the From of `message` in `rewrite` (which must start from `message`): From, the
/// Reply-To or Cc, and `X-Original-From` are replaced where they stand or appended.
pub fn munge_from(
    message: &Message<'_>,
    list: &ListContext,
    mitigation: &Mitigation<'_>,
    rewrite: &mut Rewrite<'_>,
) {
    let munged = munged_headers(message, list, mitigation, false);
    rewrite.set("From", Value::Raw(&munged.from));
    let (name, value) = &munged.add_to;
    if value.is_empty() {
        rewrite.remove(name);
    } else {
        rewrite.set(name, Value::Raw(value));
    }
    rewrite.set("X-Original-From", Value::Raw(&munged.original_from));
}

/// Decodes encoded words that a display name still contains (a quoted name is not decoded by
/// the address parser); a name without any is returned as it is.
fn decode_fragments(name: &str) -> String {
    if name.contains("=?") {
        decode_text(name.as_bytes())
    } else {
        name.to_string()
    }
}

/// `name <address>` with the name quoted or encoded as it needs; an ASCII name that looks
/// like an encoded word is quoted, so that no reader decodes it.
fn phrase_mailbox(name: &str, address: &str) -> String {
    if name.is_ascii() && name.contains("=?") {
        let escaped = crate::encoded_word::sanitize(name)
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        return format!("\"{escaped}\" <{address}>");
    }
    mailbox(Some(name), address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list::list;

    const SENDER: Mitigation<'static> = Mitigation {
        flagged: true,
        original_sender: "Envelope@Example.net",
        member_name: None,
        message_id: "<w@example.com>",
    };

    fn munged(
        from: &str,
        edit: impl FnOnce(&mut mailcast_model::settings::ListSettings),
    ) -> MungedHeaders {
        let raw = format!("{from}Subject: s\r\n\r\nbody\r\n");
        let message = Message::parse(raw.as_bytes()).unwrap();
        munged_headers(&message, &list(edit), &SENDER, true)
    }

    #[test]
    fn names_and_fallbacks() {
        for (from, want) in [
            (
                "From: Jane Doe <jane@yahoo.com>\r\n",
                "Jane Doe via Ant <ant@example.com>",
            ),
            (
                "From: jane@yahoo.com\r\n",
                "jane--- via Ant <ant@example.com>",
            ),
            (
                "From: \"jane@yahoo.com\" <jane@yahoo.com>\r\n",
                "jane--- via Ant <ant@example.com>",
            ),
            (
                "From: a@x.example, b@y.example\r\n",
                "envelope--- via Ant <ant@example.com>",
            ),
            ("", "envelope--- via Ant <ant@example.com>"),
            (
                "From: \"J. Doe\" <j@x.example>\r\n",
                "\"J. Doe via Ant\" <ant@example.com>",
            ),
            (
                "From: \"=?utf-8?q?J=C3=B6rg?=\" <j@x.example>\r\n",
                "=?utf-8?Q?J=C3=B6rg_via_Ant?= <ant@example.com>",
            ),
            (
                "From: \"a\r\n b\" <j@x.example>\r\n",
                "a b via Ant <ant@example.com>",
            ),
        ] {
            assert_eq!(munged(from, |_| {}).from, want, "{from:?}");
        }
    }

    #[test]
    fn the_member_name_is_used_when_from_has_none() {
        let raw = b"From: jane@yahoo.com\r\n\r\nbody\r\n";
        let message = Message::parse(raw).unwrap();
        let with_name = Mitigation {
            member_name: Some("Jane Roster"),
            ..SENDER
        };
        let got = munged_headers(&message, &list(|_| {}), &with_name, false);
        assert_eq!(got.from, "Jane Roster via Ant <ant@example.com>");
        assert_eq!(got.original_from, "jane@yahoo.com");
    }

    #[test]
    fn the_author_is_added_once() {
        let from = "From: Jane <jane@yahoo.com>\r\nReply-To: jane@yahoo.com\r\nCc: Bob <bob@x.example>\r\n";
        let got = munged(from, |_| {});
        assert_eq!(got.add_to, ("Reply-To", "jane@yahoo.com".to_string()));
        assert_eq!(got.other, Some(("Cc", "Bob <bob@x.example>".to_string())));
        let got = munged(from, |s| s.reply_goes_to_list = ReplyToMunging::PointToList);
        assert_eq!(
            got.add_to,
            (
                "Cc",
                "Bob <bob@x.example>, Jane <jane@yahoo.com>".to_string()
            )
        );
        assert_eq!(got.other, Some(("Reply-To", "jane@yahoo.com".to_string())));
    }
}
