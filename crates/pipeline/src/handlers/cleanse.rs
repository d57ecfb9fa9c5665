//! `cleanse`: removes headers a list must not pass on (approval passwords, receipt requests
//! that would let members be fished for, the poster's `Archived-At`), and for anonymous lists
//! every header that identifies the poster, replacing From, Reply-To and Message-ID.

use super::HandlerContext;
use crate::approval;
use crate::encoded_word::{Value, mailbox};
use crate::rewrite::Rewrite;

/// Headers every post loses.
const ALWAYS: &[&str] = &[
    "Urgent",
    "Return-Receipt-To",
    "Disposition-Notification-To",
    "X-Confirm-Reading-To",
    "X-PMRQC",
    "Archived-At",
];

/// Headers Mailman's cleanse-dkim removes when the site sets `remove_dkim_headers`, plus the
/// ARC set (a receiver must not take the poster's ARC chain for ours).
const DKIM: &[&str] = &[
    "DKIM-Signature",
    "DomainKey-Signature",
    "Authentication-Results",
    "ARC-Seal",
    "ARC-Message-Signature",
    "ARC-Authentication-Results",
];

/// Headers an anonymous list also removes.
const IDENTIFYING: &[&str] = &[
    "From",
    "Reply-To",
    "Sender",
    "Organization",
    "Return-Path",
    "X-Originating-Email",
    "Received",
    "Message-ID",
];

/// Runs the handler.
pub fn run(ctx: &HandlerContext<'_>, rewrite: &mut Rewrite<'_>) {
    for name in approval::HEADERS.iter().chain(ALWAYS) {
        rewrite.remove(name);
    }
    if ctx.options.remove_dkim_headers {
        for name in DKIM {
            rewrite.remove(name);
        }
    }
    let settings = ctx.list.settings();
    if !settings.anonymous_list {
        return;
    }
    for name in IDENTIFYING {
        rewrite.remove(name);
    }
    let posting = ctx.list.address().posting_address();
    let id = ctx.options.anonymous_message_id.trim();
    let id = if id.starts_with('<') {
        id.to_string()
    } else {
        format!("<{id}>")
    };
    let description = settings.description.0.as_str();
    rewrite
        .append("Message-ID", Value::Raw(&id))
        .append("From", Value::Raw(&mailbox(Some(description), &posting)))
        .append("Reply-To", Value::Raw(&posting));
}

#[cfg(test)]
mod tests {
    use super::DKIM;
    use crate::handlers::testing_list;

    #[test]
    fn removes_approval_and_receipt_headers_only() {
        let out = testing_list::process(
            "From: a@example.com\nApproved: pw\nX-Approve: pw\nUrgent: 1\nReturn-Receipt-To: a@example.com\n\
Disposition-Notification-To: a@example.com\nX-Confirm-Reading-To: x\nX-PMRQC: 1\nArchived-At: <http://x>\nSubject: s\n\nbody\n",
            |_| {},
        );
        for gone in [
            "Approved",
            "X-Approve",
            "Urgent",
            "Return-Receipt-To",
            "Disposition-Notification-To",
            "X-Confirm-Reading-To",
            "X-PMRQC",
            "Archived-At",
        ] {
            assert!(!out.contains(&format!("{gone}:")), "{gone} in {out}");
        }
        assert!(out.starts_with("From: a@example.com\r\n"), "{out}");
    }

    #[test]
    fn remove_dkim_headers_drops_the_posters_signatures_only_when_set() {
        let raw = "DKIM-Signature: v=1; d=example.com; b=x\r\nDomainKey-Signature: a=1\r\n\
Authentication-Results: mx.example.org; dkim=pass\r\nARC-Seal: i=1; cv=none\r\n\
ARC-Message-Signature: i=1\r\nARC-Authentication-Results: i=1; mx\r\n\
From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n";
        let list = testing_list::list(|_| {});
        let run = |remove| {
            let options = crate::handlers::ProcessOptions {
                post_number: 7,
                decorate: false,
                anonymous_message_id: "",
                remove_dkim_headers: remove,
            };
            let out = crate::handlers::process(raw.as_bytes(), &list, &options).unwrap();
            String::from_utf8(out).unwrap()
        };
        let kept = run(false);
        let cleansed = run(true);
        for name in DKIM {
            assert!(
                kept.contains(&format!("{name}: ")),
                "{name} kept by default: {kept}"
            );
            assert!(
                !cleansed.contains(&format!("{name}:")),
                "{name} in {cleansed}"
            );
        }
        assert!(cleansed.contains("From: a@example.com\r\n"), "{cleansed}");
    }

    #[test]
    fn anonymous_lists_hide_the_poster() {
        let out = testing_list::process(
            "From: Anne <anne@example.com>\nReply-To: anne@example.com\nSender: anne@example.com\nOrganization: Anne Inc\n\
Received: from anne\nMessage-ID: <secret@anne.example.com>\nSubject: s\n\nbody\n",
            |s| {
                s.anonymous_list = true;
                s.description.0 = "Ant talk".into();
            },
        );
        assert!(!out.to_lowercase().contains("anne"), "{out}");
        assert!(
            out.contains("Message-ID: <anon.1@example.com>\r\n"),
            "{out}"
        );
        assert!(
            out.contains("From: Ant talk <ant@example.com>\r\n"),
            "{out}"
        );
        assert!(out.contains("Reply-To: ant@example.com\r\n"), "{out}");
    }
}
