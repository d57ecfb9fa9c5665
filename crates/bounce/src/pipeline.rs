//! The analysis pipeline, [`analyse`]: the order in which the checks run and the limits on
//! the result. The crate documentation describes the stages.

use std::collections::HashSet;

use crate::detect::detect;
use crate::dsn;
use crate::mail::Mail;
use crate::not_bounce;
use crate::report::{Format, NotABounce, Recipient, Report, Verdict};

/// At most this many recipients are reported.
pub(crate) const MAX_RECIPIENTS: usize = 1000;

/// Analyses one message that arrived at a list's -bounces address (raw RFC 5322 bytes, CRLF or
/// LF).
///
/// Never panics and never fails: input that is not a message at all is
/// [`Verdict::Unrecognized`].
pub fn analyse(message: &[u8]) -> Report {
    let Some(mail) = Mail::parse(message) else {
        return Report::without_recipients(Verdict::Unrecognized);
    };
    if not_bounce::complaint(&mail) {
        return Report::without_recipients(Verdict::NotABounce(NotABounce::Complaint));
    }
    let recipients = dsn::read(&mail);
    if !recipients.is_empty() {
        return bounce(Format::Dsn, recipients);
    }
    if let Some(kind) = not_bounce::classify(&mail) {
        return Report::without_recipients(Verdict::NotABounce(kind));
    }
    match detect(&mail) {
        Some((format, recipients)) => bounce(format, recipients),
        None => Report::without_recipients(Verdict::Unrecognized),
    }
}

/// A bounce report: each address once (its first mention), at most [`MAX_RECIPIENTS`].
fn bounce(format: Format, recipients: Vec<Recipient>) -> Report {
    let mut seen: HashSet<String> = HashSet::new();
    let unique = recipients
        .into_iter()
        .filter(|r| seen.insert(r.address.clone()))
        .take(MAX_RECIPIENTS)
        .collect();
    Report {
        verdict: Verdict::Bounce(format),
        recipients: unique,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Class;

    fn recipient(address: &str) -> Recipient {
        Recipient {
            address: address.to_string(),
            class: Class::Permanent,
            status: None,
            diagnostic: None,
            poster_policy: None,
        }
    }

    #[test]
    fn keeps_the_first_mention_and_the_limit() {
        let report = bounce(
            Format::Dsn,
            vec![
                recipient("a@example.net"),
                recipient("b@example.net"),
                recipient("a@example.net"),
            ],
        );
        let addresses: Vec<_> = report
            .recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        assert_eq!(addresses, ["a@example.net", "b@example.net"]);
        let many = (0..MAX_RECIPIENTS + 5)
            .map(|i| recipient(&format!("u{i}@example.net")))
            .collect();
        assert_eq!(bounce(Format::Dsn, many).recipients.len(), MAX_RECIPIENTS);
    }

    #[test]
    fn garbage_is_unrecognized() {
        for input in [&b""[..], b"\xff\xfe\x00", b"not a message", b"\r\n\r\n"] {
            assert_eq!(analyse(input).verdict, Verdict::Unrecognized, "{input:?}");
        }
    }
}
