//! Recognising refusals caused by the *poster's* domain authentication policy (DMARC, SPF,
//! DKIM) rather than by the recipient's mailbox: [`poster_policy`].
//!
//! A list re-sends its posters' mail, so when a receiver enforces the author domain's DMARC
//! policy, or an SPF or DKIM check tied to it, the recipient did nothing wrong and their
//! bounce score should not move. The daemon also calls this on the 5xx replies it gets at
//! delivery time.
//!
//! The rules, first match wins (case-insensitive; `x` is the class digit, 4 or 5):
//!
//! | # | Pattern in the text | Cause | Example |
//! |---|---|---|---|
//! | 1 | status `x.7.25` (RFC 7372 reverse DNS failed: our host) or `x.7.27` (RFC 7505 null MX) | none | `550 5.7.25 PTR record required` |
//! | 2 | status `x.7.20`, `x.7.21`, `x.7.22` (RFC 7372: no passing / no acceptable / no valid author-matched DKIM signature) | Dkim | `550 5.7.20 No passing DKIM signature found` |
//! | 3 | status `x.7.23` (SPF validation failed), `x.7.24` (SPF validation error) | Spf | `550 5.7.23 SPF validation failed` |
//! | 4 | status `x.7.26` (multiple authentication checks failed; Gmail's DMARC rejection) | Dmarc | `550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy` |
//! | 5 | status `x.7.509`, `x.7.515` (Microsoft: sending domain does not pass DMARC / lacks the required authentication) | Dmarc | `550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject` |
//! | 6 | `DMARC` within 60 characters of `policy`, `reject`, `fail`, `quarantine`, `verif(ication)`, `align(ment)` or `not pass`, either order | Dmarc | `554 5.7.9 Message not accepted for policy reasons: DMARC policy of example.com is reject` |
//! | 7 | `dkim=fail` (`=` or `:`, also `permerror`), `DKIM` then within four words `fail(ed/ure)`, `invalid`, `not aligned`, `did not pass`, `did not verify`, or `no valid` / `invalid` / `failed` / `missing` before `DKIM` | Dkim | `550 5.7.1 DKIM signature is invalid` |
//! | 8 | `spf=fail` (`=` or `:`, also `softfail`, `permerror`), `SPF` then within four words `fail(ed/ure)`, `softfail`, `hardfail`, `error`, `permerror`, `violation`, `failed SPF`, `does not designate <ip> as permitted sender`, `Sender Policy Framework` then `violation`/`fail` | Spf | `550 5.7.1 SPF check failed` |
//!
//! Generic policy, spam and block-list wording (`5.7.1 rejected by policy`, `554 5.7.9 Message
//! not accepted for policy reasons` without DMARC, `blocked using zen.spamhaus.org`) is never
//! a poster policy: such refusals are the recipient side's or our host's business. The order
//! of 6–8 puts DMARC first because DMARC rejections usually also name the SPF and DKIM
//! results they were built from.

use std::sync::LazyLock;

use regex::Regex;

use crate::report::PolicyCause;
use crate::status::status_codes;

// Word boundaries are ASCII (`(?-u:\b)`): a Unicode `\b` keeps the fast DFA from running on
// text with non-ASCII letters, and every keyword here is ASCII anyway.

static DMARC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?-u:\b)dmarc(?-u:\b).{0,60}?(?:polic|reject|fail|quarantin|verif|align|not pass)|(?:(?-u:\b)reject|(?-u:\b)fail|(?-u:\b)quarantin|(?-u:\b)policy).{0,60}?(?-u:\b)dmarc(?-u:\b)",
    )
    .expect("valid regex")
});

static DKIM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?-u:\b)dkim\s*[=:]\s*(?:fail|permerror)|(?-u:\b)dkim(?-u:\b)(?:[\s-]+[0-9A-Za-z_'-]+){0,4}?[\s-]+(?:fail(?:ed|ure|s)?|invalid|not aligned|did not pass|did not verify|not valid)(?-u:\b)|(?-u:\b)(?:no valid|invalid|failed|missing)\s+(?:[0-9A-Za-z_]+\s+)?dkim(?-u:\b)",
    )
    .expect("valid regex")
});

static SPF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?-u:\b)spf\s*[=:]\s*(?:fail|softfail|permerror)|(?-u:\b)spf(?-u:\b)(?:[\s-]+[0-9A-Za-z_'-]+){0,4}?[\s-]+(?:fail(?:ed|ure|s)?|softfail|hardfail|error|permerror|violation)(?-u:\b)|(?-u:\b)failed\s+(?:the\s+)?spf(?-u:\b)|does not designate(?-u:\b).{0,80}?(?-u:\b)as permitted sender|sender policy framework(?-u:\b).{0,40}?(?:violation|fail)",
    )
    .expect("valid regex")
});

/// Whether an SMTP reply / diagnostic text says the mail was refused because of the sending
/// domain's DMARC/SPF/DKIM policy (not the recipient's fault). Also used by the daemon on 5xx
/// replies at delivery time.
///
/// See the module documentation for the exact patterns.
pub fn poster_policy(text: &str) -> Option<PolicyCause> {
    for code in status_codes(text) {
        match code.get(1..) {
            Some(".7.25" | ".7.27") => return None,
            Some(".7.20" | ".7.21" | ".7.22") => return Some(PolicyCause::Dkim),
            Some(".7.23" | ".7.24") => return Some(PolicyCause::Spf),
            Some(".7.26" | ".7.509" | ".7.515") => return Some(PolicyCause::Dmarc),
            _ => {}
        }
    }
    if DMARC.is_match(text) {
        Some(PolicyCause::Dmarc)
    } else if DKIM.is_match(text) {
        Some(PolicyCause::Dkim)
    } else if SPF.is_match(text) {
        Some(PolicyCause::Spf)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PolicyCause::{Dkim, Dmarc, Spf};

    /// One row per pattern of the module table, plus the refusals that must not count.
    #[test]
    fn every_pattern_has_a_row() {
        let rows: &[(&str, Option<PolicyCause>)] = &[
            // 1: not the poster's policy.
            (
                "550 5.7.25 The IP address sending this message does not have a PTR record",
                None,
            ),
            ("556 5.7.27 Sender address has null MX", None),
            // 2: RFC 7372 DKIM codes.
            ("550 5.7.20 No passing DKIM signature found", Some(Dkim)),
            ("550 5.7.21 No acceptable DKIM signature found", Some(Dkim)),
            (
                "550 5.7.22 No valid author-matched DKIM signature found",
                Some(Dkim),
            ),
            // 3: RFC 7372 SPF codes.
            ("550 5.7.23 SPF validation failed", Some(Spf)),
            ("451 4.7.24 SPF validation error", Some(Spf)),
            // 4: multiple authentication checks (Gmail).
            (
                "550-5.7.26 Unauthenticated email from example.com is not accepted due to 550-5.7.26 domain's DMARC policy. - gsmtp",
                Some(Dmarc),
            ),
            (
                "550 5.7.26 Multiple authentication checks failed",
                Some(Dmarc),
            ),
            // 5: Microsoft.
            (
                "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.",
                Some(Dmarc),
            ),
            (
                "550 5.7.515 Access denied, sending domain example.com doesn't meet the required authentication level.",
                Some(Dmarc),
            ),
            // 6: DMARC wording.
            (
                "554 5.7.9 Message not accepted for policy reasons. DMARC policy of example.com is reject",
                Some(Dmarc),
            ),
            (
                "550 5.7.1 Email rejected per DMARC policy for example.com",
                Some(Dmarc),
            ),
            ("550 5.7.1 Message failed DMARC check", Some(Dmarc)),
            (
                "550 5.7.1 dmarc alignment failure for example.com",
                Some(Dmarc),
            ),
            // 7: DKIM wording.
            ("550 5.7.1 DKIM signature is invalid", Some(Dkim)),
            (
                "550 5.7.1 message rejected: dkim=fail (body hash mismatch)",
                Some(Dkim),
            ),
            ("550 5.7.1 DKIM check failed for example.com", Some(Dkim)),
            ("550 5.7.1 No valid DKIM signature", Some(Dkim)),
            (
                "550 5.7.1 DKIM signature not aligned with From domain",
                Some(Dkim),
            ),
            // 8: SPF wording.
            ("550 5.7.1 SPF check failed", Some(Spf)),
            ("550 5.7.1 Rejected: SPF fail for example.com", Some(Spf)),
            (
                "550 5.7.1 spf=softfail smtp.mailfrom=example.com",
                Some(Spf),
            ),
            (
                "550 5.7.1 The domain example.com does not designate 192.0.2.20 as permitted sender",
                Some(Spf),
            ),
            ("550 5.7.1 Sender Policy Framework violation", Some(Spf)),
            ("550 5.7.1 message failed SPF", Some(Spf)),
            // Not poster policy: generic policy, spam, block lists, passes.
            (
                "550 5.7.1 Message rejected due to content policy (spam)",
                None,
            ),
            ("554 5.7.9 Message not accepted for policy reasons.", None),
            (
                "554 5.7.1 Service unavailable; client host [192.0.2.20] blocked using zen.spamhaus.org",
                None,
            ),
            (
                "550 5.7.1 dkim=pass spf=pass but the content looks like spam",
                None,
            ),
            ("550 5.1.1 user unknown", None),
            ("421 4.7.0 Try again later, closing connection.", None),
            ("", None),
        ];
        for (text, expected) in rows {
            assert_eq!(poster_policy(text), *expected, "{text:?}");
        }
    }
}
