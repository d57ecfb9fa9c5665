//! Challenge-response requests: TMDA, Spam Arrest, Boxbe and the like hold the mail until the
//! sender proves to be a person, and ask for that in an automatic reply.
//!
//! | Where | Pattern (case-insensitive) |
//! |---|---|
//! | header names | `X-TMDA*`, `X-Spamarrest*`, `X-Boxbe*`, `X-Challenge*`; `X-Delivery-Agent: TMDA...` |
//! | Subject | `please confirm your (e-mail\|message)`, `verification (required\|needed)`, `sender verification`, `verify your (e-mail\|message\|address)`, `Spam Arrest`, `Boxbe`, `awaiting verification`, `prove you are (a) human` |
//! | body, before any returned message, first 4 KiB of the first text part | `confirm/prove/verify (that) you are (a) human/real person`, `verify your e-mail (address) to (deliver\|complete)`, `not a (spam) robot`, `add(ed) (you) to (my\|the\|their) approved/allowed/guest senders list`, `challenge-response`, `click the link below to verify/confirm/release` |

use std::sync::LazyLock;

use regex::Regex;

use crate::detect::texts;
use crate::mail::Mail;
use crate::returned::report_text;

/// How much of the body is looked at.
const BODY_WINDOW: usize = 4096;

const HEADER_PREFIXES: [&str; 4] = ["x-tmda", "x-spamarrest", "x-boxbe", "x-challenge"];

static SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)please confirm your (?:e-?mail|message)|verification (?:required|needed)|sender verification",
        r"|verify your (?:e-?mail|message|address)|spam ?arrest|boxbe|awaiting verification",
        r"|prove (?:that )?you are (?:a )?human",
    ))
    .expect("valid regex")
});

static BODY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:confirm|prove|verify) (?:that )?you are (?:a )?(?:human|real person)",
        r"|verify your e-?mail(?: address)? to (?:deliver|complete)",
        r"|not a (?:spam )?robot",
        r"|add(?:ed)? (?:you )?to (?:my|the|their) (?:approved|allowed|guest)(?: senders?)? list",
        r"|challenge[- ]response",
        r"|click (?:on )?the (?:link|button) below to (?:verify|confirm|release)",
    ))
    .expect("valid regex")
});

/// Whether `mail` is a challenge-response request.
pub(crate) fn is_challenge(mail: &Mail<'_>) -> bool {
    let by_header = mail.fields().any(|f| {
        let name = f.name.as_bytes();
        HEADER_PREFIXES
            .iter()
            .any(|p| name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
            || (f.name.eq_ignore_ascii_case("x-delivery-agent")
                && f.value().to_ascii_lowercase().starts_with("tmda"))
    });
    if by_header || mail.subject().is_some_and(|s| SUBJECT.is_match(s)) {
        return true;
    }
    texts(mail).first().is_some_and(|body| {
        let text = report_text(body);
        let mut end = text.len().min(BODY_WINDOW);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        BODY.is_match(&text[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_subjects_and_bodies() {
        for (raw, expected) in [
            ("X-Delivery-Agent: TMDA/1.1.12\n\nhi\n", true),
            ("X-Boxbe-Delivery: pending\n\nhi\n", true),
            ("Subject: Please confirm your message\n\nhi\n", true),
            (
                "Subject: Verification required for your message\n\nhi\n",
                true,
            ),
            (
                "Subject: hello\n\nPlease click the link below to verify that you are a human.\n",
                true,
            ),
            (
                "Subject: hello\n\nI will add you to my approved senders list.\n",
                true,
            ),
            (
                "Subject: [ant] CAPTCHA talk\n\nhi\n\n----- Original message -----\nprove you are human\n",
                false,
            ),
            ("Subject: Out of office\n\nI am away.\n", false),
        ] {
            let raw = format!("From: anne@example.net\n{raw}");
            let mail = Mail::parse(raw.as_bytes()).unwrap();
            assert_eq!(is_challenge(&mail), expected, "{raw:?}");
        }
    }
}
