//! The plain (RFC 1153) digest: one `text/plain` mail. In order: the masthead, the digest
//! header (if any), the table of contents and a line of 70 dashes; each post (after the
//! first, a line of 30 dashes) as `Message: <n>`, its kept headers in Mailman's order, and its
//! text with non-text parts replaced by notes ([`super::scrub`]); the footer as a pseudo-post
//! `Subject: Digest Footer`; then `End of <subject>` and a line of as many `*`.

use super::scrub::plain_text;
use super::toc::one_line;
use super::{Issue, plain_id, text_body};
use crate::message::Message;
use crate::templates::wrap;

/// The headers a post keeps in a plain digest, in this order (Mailman's
/// `plain_digest_keep_headers` without `Message`, which is not a header of the post).
pub const KEPT_HEADERS: &[&str] = &[
    "Date",
    "From",
    "Subject",
    "To",
    "Cc",
    "Message-ID",
    "Keywords",
    "Content-Type",
];

/// Builds the plain digest (before the virgin handlers).
pub(super) fn build(issue: &Issue<'_>, posts: &[Message<'_>], toc: &str) -> Vec<u8> {
    let text = body(issue, posts, toc);
    let (fields, encoded) = text_body(&text);
    let mut out = issue.common_headers(&plain_id(issue.ids.message_id));
    out.extend(fields);
    out.extend_from_slice(b"\r\n");
    out.extend(encoded);
    out
}

fn body(issue: &Issue<'_>, posts: &[Message<'_>], toc: &str) -> String {
    let dashes30 = "-".repeat(30);
    let mut text = String::new();
    let line = |text: &mut String, s: &str| {
        text.push_str(s);
        text.push('\n');
    };
    line(&mut text, &issue.masthead());
    line(&mut text, "");
    let header = issue.decoration("list:member:digest:header");
    if !header.is_empty() {
        line(&mut text, &header);
        line(&mut text, "");
    }
    line(&mut text, toc);
    line(&mut text, "");
    line(&mut text, &"-".repeat(70));
    line(&mut text, "");
    for (i, post) in posts.iter().enumerate() {
        if i > 0 {
            line(&mut text, &dashes30);
            line(&mut text, "");
        }
        line(&mut text, &format!("Message: {}", i + 1));
        for name in KEPT_HEADERS {
            if let Some(value) = post.text(name) {
                let wrapped = wrap(&format!("{name}: {}", one_line(&value)), 70);
                line(
                    &mut text,
                    &wrapped.trim_end_matches('\n').replace('\n', "\n\t"),
                );
            }
        }
        line(&mut text, "");
        let payload = plain_text(post.raw());
        line(&mut text, &payload);
        if !payload.ends_with('\n') {
            line(&mut text, "");
        }
    }
    let footer = issue.decoration("list:member:digest:footer");
    if !footer.is_empty() {
        line(&mut text, &dashes30);
        line(&mut text, "");
        line(&mut text, "Subject: Digest Footer");
        line(&mut text, "");
        line(&mut text, &footer);
        line(&mut text, "");
        line(&mut text, &dashes30);
        line(&mut text, "");
    }
    let sign_off = format!("End of {}", issue.digest_id());
    line(&mut text, &sign_off);
    line(&mut text, &"*".repeat(sign_off.chars().count()));
    text
}
