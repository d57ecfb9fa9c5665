//! `approved`: the post carries the list's moderator password (see [`crate::approval`]).
//!
//! Only lists with a `moderator_password` look. Whenever a password is present, valid or not,
//! the outcome carries the message without it, so it is never distributed or shown. The
//! comparison takes the same time wherever the strings differ. The setting holds the password
//! itself; Mailman's passlib hashes are not read here.

use super::{RuleContext, RuleOutcome};
use crate::approval;

/// Runs the rule.
pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome {
    let Some(expected) = ctx
        .list
        .settings()
        .moderator_password
        .as_ref()
        .map(|p| p.0.as_str())
    else {
        return RuleOutcome::miss();
    };
    if expected.is_empty() {
        return RuleOutcome::miss();
    }
    let Some(found) = approval::find(ctx.message) else {
        return RuleOutcome::miss();
    };
    let rewritten = Some(approval::strip(ctx.message, &found));
    RuleOutcome {
        hit: constant_time_eq(found.password.as_bytes(), expected.as_bytes()),
        rewritten,
        ..RuleOutcome::default()
    }
}

/// Whether `message` carries the list's moderator password (a header, or the first body
/// line): how a moderator's reply to a held-post notice approves the post.
pub fn approves(message: &crate::message::Message<'_>, list: &crate::ListContext) -> bool {
    let expected = match list.settings().moderator_password.as_ref() {
        Some(password) if !password.0.is_empty() => password.0.as_str(),
        _ => return false,
    };
    approval::find(message)
        .is_some_and(|found| constant_time_eq(found.password.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::scenario::Scenario;
    use mailcast_model::settings::Line;

    fn with_password(raw: &str) -> Scenario {
        Scenario::new(raw).settings(|s| s.moderator_password = Some(Line("s3cret".into())))
    }

    #[test]
    fn correct_header_password_hits_and_is_removed() {
        let out =
            with_password("From: a@example.com\nApproved: s3cret\n\nhi\n").check(Rule::Approved);
        assert!(out.hit);
        assert_eq!(
            out.rewritten.as_deref(),
            Some(&b"From: a@example.com\r\n\r\nhi\r\n"[..])
        );
    }

    #[test]
    fn wrong_password_misses_but_is_still_removed() {
        let out =
            with_password("From: a@example.com\nX-Approve: guess\n\nhi\n").check(Rule::Approved);
        assert!(!out.hit);
        assert!(out.rewritten.is_some());
    }

    #[test]
    fn body_line_password_hits() {
        let out = with_password("From: a@example.com\n\n\nApprove: s3cret\nhello\n")
            .check(Rule::Approved);
        assert!(out.hit);
        assert_eq!(
            out.rewritten.as_deref(),
            Some(&b"From: a@example.com\r\n\r\n\r\nhello\r\n"[..])
        );
    }

    #[test]
    fn lists_without_a_password_never_look() {
        let out = Scenario::new("Approved: s3cret\n\nhi\n").check(Rule::Approved);
        assert_eq!(out, RuleOutcome::miss());
    }

    #[test]
    fn comparison_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
