//! Automatic mail that is not a bounce: ARF complaints, read receipts, challenge-response
//! requests and auto-replies ([`complaint`], [`classify`]).
//!
//! A complaint is recognised by its structure alone (RFC 5965: `multipart/report;
//! report-type=feedback-report`, or a `message/feedback-report` part) and is checked before
//! anything else. The other two are checked after the DSN reader and before the text
//! detectors, and only when the message does not come from a mail system
//! ([`from_mail_system`]): Exim and Postfix mark their bounces `Auto-Submitted:
//! auto-replied`, and a mailer-daemon's report that mentions "vacation" is still a report.

mod auto_reply;
mod challenge;

use crate::mail::{Kind, Mail};
use crate::report::NotABounce;

/// Whether `mail` is an RFC 5965 abuse report.
pub(crate) fn complaint(mail: &Mail<'_>) -> bool {
    mail.is_report(Some("feedback-report")) || mail.parts().any(|p| p.kind == Kind::FeedbackReport)
}

/// Whether a person's mail system answered automatically instead of a bounce: a read receipt
/// (an RFC 8098 `report-type=disposition-notification`, counted as an auto-reply), a
/// challenge-response request (checked before auto-replies: those are auto-replies too) or
/// an auto-reply.
pub(crate) fn classify(mail: &Mail<'_>) -> Option<NotABounce> {
    if mail.is_report(Some("disposition-notification")) {
        Some(NotABounce::AutoReply)
    } else if from_mail_system(mail) {
        None
    } else if challenge::is_challenge(mail) {
        Some(NotABounce::ChallengeResponse)
    } else if auto_reply::is_auto_reply(mail) {
        Some(NotABounce::AutoReply)
    } else {
        None
    }
}

/// Whether `mail` comes from a mail system rather than a person: a `multipart/report`, an
/// `X-Failed-Recipients` header, or a From of `MAILER-DAEMON`, `postmaster`, "Mail Delivery
/// System/Subsystem", "Mail Administrator".
pub(crate) fn from_mail_system(mail: &Mail<'_>) -> bool {
    if mail.is_report(None)
        || mail.is_report(Some("delivery-status"))
        || mail.header("x-failed-recipients").is_some()
    {
        return true;
    }
    let Some(from) = mail.header("from") else {
        return false;
    };
    let from = from.to_ascii_lowercase();
    [
        "mailer-daemon",
        "mailer_daemon",
        "mailerdaemon",
        "mail-daemon",
        "postmaster@",
        "mail delivery",
        "mail administrator",
    ]
    .iter()
    .any(|needle| from.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(raw: &str) -> Mail<'_> {
        Mail::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn recognises_mail_systems() {
        for (raw, expected) in [
            (
                "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n\nx\n",
                true,
            ),
            ("From: postmaster@example.net\n\nx\n", true),
            (
                "From: anne@example.net\nX-Failed-Recipients: bob@example.net\n\nx\n",
                true,
            ),
            (
                "From: anne@example.net\nContent-Type: multipart/report; boundary=b\n\n--b\n\nx\n--b--\n",
                true,
            ),
            ("From: Anne <anne@example.net>\n\nx\n", false),
            ("Subject: no from\n\nx\n", false),
        ] {
            assert_eq!(from_mail_system(&mail(raw)), expected, "{raw:?}");
        }
    }

    #[test]
    fn recognises_complaints() {
        let arf = "From: abuse@example.net\nContent-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: text/plain\n\nspam\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--\n";
        assert!(complaint(&mail(arf)));
        assert!(!complaint(&mail("From: a@example.net\n\nhello\n")));
    }
}
