//! The mails a list sends about a post: to the moderators when it is held, to the poster when
//! it is held and when it is rejected. Every value that could vary (Message-ID, Date,
//! boundary, confirmation token) is a parameter, so the builders are pure. The bytes come from
//! [`crate::generated::build`], the builder of every generated mail.
//!
//! All notices carry `Auto-Submitted: auto-generated` (RFC 3834) and no `Precedence`. As in
//! Mailman, the moderators' notice comes from and goes to `-owner`, the poster's held notice
//! comes from `-bounces`, and a rejection comes from `-owner`. The wording is mailcast's own.
//! Forwarding owner mail needs no builder: the daemon forwards the bytes. Rate limiting
//! replies to a poster (Mailman's `max_autoresponses_per_day`) needs the store and is the
//! daemon's.

use crate::context::{ListContext, MessageFacts};
use crate::encoded_word::sanitize;
use crate::generated::{self, GeneratedMail, Mailbox};
use crate::message::Message;

/// The values of a notice that the caller generates.
#[derive(Debug, Clone, Copy)]
pub struct NoticeIds<'a> {
    /// The notice's Message-ID (with or without angle brackets).
    pub message_id: &'a str,
    /// The notice's Date, in seconds since the Unix epoch.
    pub date: i64,
    /// The boundary of the notice's multipart body. One that occurs in the content, or is not
    /// a valid boundary, is replaced by one derived from the content.
    pub boundary: &'a str,
}

/// The notice to the moderators that a post is held: the reasons, the post attached as
/// `message/rfc822`, and a `confirm <token>` message to reply to.
pub fn held_for_moderators(
    list: &ListContext,
    held: &[u8],
    sender: &str,
    reasons: &[String],
    token: &str,
    ids: &NoticeIds<'_>,
) -> Vec<u8> {
    let address = list.address();
    let owner = address.sub_address("owner");
    let subject = format!(
        "{} post from {} requires approval",
        address.posting_address(),
        sanitize(sender)
    );
    let text = format!(
        "A post to the {list} mailing list is waiting for a moderator.\n\n\
         Sender:  {sender}\n\
         Subject: {subject}\n\
         Held because:\n{reasons}\n\
         The post is attached. To discard it, reply to the attached confirmation\n\
         message. To approve it, reply with a first line \"Approved: <moderator\n\
         password>\". Moderators can also decide with `mailcast held`.\n",
        list = address.posting_address(),
        sender = sanitize(sender),
        subject = original_subject(held),
        reasons = bullet_list(reasons),
    );
    let request = address.sub_address("request");
    let confirm_subject = format!("confirm {token}");
    let confirm_id = format!("confirm.{token}@{}", address.domain());
    let confirm = generated::build(
        &GeneratedMail::new(
            Mailbox::bare(&request),
            vec![Mailbox::bare(&owner)],
            &confirm_subject,
            "Reply to this message, keeping its Subject, to act on the held post:\n\
             a reply starting with \"Approved: <moderator password>\" approves it,\n\
             any other reply discards it.\n",
        ),
        &NoticeIds {
            message_id: &confirm_id,
            ..*ids
        },
    );
    build(&owner, &owner, &subject, &text, ids, vec![held, &confirm])
}

/// Whether the poster may be told about a held post: the list answers held posts
/// (`respond_to_post_requests`), and the post is not automatic, bulk, from the news gateway or
/// marked `X-Ack: no` (RFC 3834, Mailman's `can_acknowledge`).
pub fn poster_may_be_told(message: &Message<'_>, list: &ListContext, facts: &MessageFacts) -> bool {
    let value = |name: &str| message.text(name).map(|v| v.trim().to_ascii_lowercase());
    list.settings().respond_to_post_requests
        && !facts.from_usenet
        && !matches!(
            value("Precedence").as_deref(),
            Some("bulk" | "junk" | "list")
        )
        && value("X-Ack").as_deref() != Some("no")
        && matches!(value("Auto-Submitted").as_deref(), None | Some("no"))
}

/// The notice to the poster that the post is held.
pub fn held_for_poster(
    list: &ListContext,
    held: &[u8],
    sender: &str,
    reasons: &[String],
    ids: &NoticeIds<'_>,
) -> Vec<u8> {
    let address = list.address();
    let subject = format!(
        "Your message to {} awaits moderator approval",
        address.posting_address()
    );
    let text = format!(
        "Your message to the {list} mailing list is held until a moderator\n\
         has looked at it.\n\n\
         Subject: {subject}\n\
         Held because:\n{reasons}\n\
         You will hear from the list if the moderators reject it; nothing\n\
         needs to be done now. Questions go to {owner}.\n",
        list = address.posting_address(),
        subject = original_subject(held),
        reasons = bullet_list(reasons),
        owner = address.sub_address("owner"),
    );
    build(
        &address.sub_address("bounces"),
        sender,
        &subject,
        &text,
        ids,
        Vec::new(),
    )
}

/// The notice to the poster that the post was rejected, with the reasons and the post
/// attached. The Subject is the post's own, as in Mailman.
pub fn rejected(
    list: &ListContext,
    post: &[u8],
    sender: &str,
    reasons: &[String],
    ids: &NoticeIds<'_>,
) -> Vec<u8> {
    let address = list.address();
    let subject = original_subject(post);
    let text = format!(
        "Your message to the {list} mailing list was rejected:\n\n{reasons}\n\
         The message is attached. Questions go to {owner}.\n",
        list = address.posting_address(),
        reasons = bullet_list(reasons),
        owner = address.sub_address("owner"),
    );
    build(
        &address.sub_address("owner"),
        sender,
        &subject,
        &text,
        ids,
        vec![post],
    )
}

/// A notice without a display name on either side, `auto-generated`.
fn build(
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
    ids: &NoticeIds<'_>,
    attachments: Vec<&[u8]>,
) -> Vec<u8> {
    let mail = GeneratedMail {
        attachments,
        ..GeneratedMail::new(Mailbox::bare(from), vec![Mailbox::bare(to)], subject, text)
    };
    generated::build(&mail, ids)
}

fn original_subject(raw: &[u8]) -> String {
    Message::parse(raw)
        .ok()
        .and_then(|m| m.subject())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "(no subject)".to_string())
}

fn bullet_list(reasons: &[String]) -> String {
    if reasons.is_empty() {
        return "  - (no reason given)\n".to_string();
    }
    reasons
        .iter()
        .map(|r| format!("  - {}\n", sanitize(r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list;

    const POST: &[u8] = b"From: anne@example.com\r\nTo: ant@example.com\r\nSubject: Hello\r\nMessage-ID: <p@example.com>\r\n\r\nBody\r\n";
    const IDS: NoticeIds<'static> = NoticeIds {
        message_id: "<n1@example.com>",
        date: 1_754_000_000,
        boundary: "notice-boundary",
    };

    fn header<'a>(out: &'a str, name: &str) -> Option<&'a str> {
        let head = out.split("\r\n\r\n").next()?;
        head.split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }

    #[test]
    fn moderators_notice_attaches_post_and_confirmation() {
        let list = testing_list::list(|_| {});
        let out = held_for_moderators(
            &list,
            POST,
            "anne@example.com",
            &["Not a member".into()],
            "TOKEN123",
            &IDS,
        );
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            header(&out, "Subject"),
            Some("ant@example.com post from anne@example.com requires approval")
        );
        assert_eq!(header(&out, "From"), Some("<ant-owner@example.com>"));
        assert_eq!(header(&out, "To"), Some("<ant-owner@example.com>"));
        assert_eq!(header(&out, "Auto-Submitted"), Some("auto-generated"));
        assert_eq!(header(&out, "Message-ID"), Some("<n1@example.com>"));
        assert_eq!(header(&out, "Precedence"), None);
        assert!(out.contains("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nFrom: anne@example.com\r\n"), "{out}");
        assert!(out.contains("Subject: confirm TOKEN123\r\n"), "{out}");
        assert!(out.contains("  - Not a member\r\n"), "{out}");
        let parsed = mail_parser::MessageParser::new()
            .parse(out.as_bytes())
            .unwrap();
        assert_eq!(parsed.attachment_count(), 2);
    }

    #[test]
    fn poster_notices() {
        let list = testing_list::list(|_| {});
        let held = String::from_utf8(held_for_poster(
            &list,
            POST,
            "anne@example.com",
            &["Too big".into()],
            &IDS,
        ))
        .unwrap();
        assert_eq!(header(&held, "From"), Some("<ant-bounces@example.com>"));
        assert_eq!(header(&held, "To"), Some("<anne@example.com>"));
        assert_eq!(
            header(&held, "Subject"),
            Some("Your message to ant@example.com awaits moderator approval")
        );
        let rejected = String::from_utf8(rejected(
            &list,
            POST,
            "anne@example.com",
            &["Not a member".into()],
            &IDS,
        ))
        .unwrap();
        assert_eq!(header(&rejected, "From"), Some("<ant-owner@example.com>"));
        assert_eq!(header(&rejected, "Subject"), Some("Hello"));
        assert!(rejected.contains("was rejected:"), "{rejected}");
    }

    #[test]
    fn automatic_posts_are_not_answered() {
        let list = testing_list::list(|_| {});
        let facts = MessageFacts::default();
        for (headers, told) in [
            ("", true),
            ("Precedence: bulk\r\n", false),
            ("Auto-Submitted: auto-replied\r\n", false),
            ("Auto-Submitted: no\r\n", true),
            ("X-Ack: no\r\n", false),
        ] {
            let raw = format!("From: a@example.com\r\n{headers}\r\nbody\r\n");
            let message = Message::parse(raw.as_bytes()).unwrap();
            assert_eq!(
                poster_may_be_told(&message, &list, &facts),
                told,
                "{headers:?}"
            );
        }
        let quiet = testing_list::list(|s| s.respond_to_post_requests = false);
        let message = Message::parse(POST).unwrap();
        assert!(!poster_may_be_told(&message, &quiet, &facts));
    }
}
