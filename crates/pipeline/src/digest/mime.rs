//! The MIME digest: `multipart/mixed` of the masthead, the digest header (if any), the table
//! of contents, a `multipart/digest` with every post as `message/rfc822`, and the footer (if
//! any), with Mailman's `Content-Description` values and `End of <subject>` after the closing
//! boundary. Each post is embedded whole, as it left the handlers, with `Message: <n>` added
//! at the end of its header section.

use super::{Issue, crlf, text_body};
use crate::encoded_word::{Value, field};
use crate::header_block::Eol;
use crate::message::Message;
use crate::mime::boundary_for;
use crate::rewrite::Rewrite;

/// Builds the MIME digest (before the virgin handlers).
pub(super) fn build(issue: &Issue<'_>, posts: &[Message<'_>], toc: &str) -> Vec<u8> {
    let digest_id = issue.digest_id();
    let mut leaves: Vec<Vec<u8>> = vec![leaf(&issue.masthead(), &digest_id)];
    let header = issue.decoration("list:member:digest:header");
    if !header.is_empty() {
        leaves.push(leaf(&header, "Digest Header"));
    }
    let topics = format!("Today's Topics ({} messages)", posts.len());
    leaves.push(leaf(toc, &topics));
    let embedded: Vec<Vec<u8>> = posts
        .iter()
        .enumerate()
        .map(|(i, post)| numbered(post, i + 1))
        .collect();
    let footer = issue.decoration("list:member:digest:footer");
    let footer = (!footer.is_empty()).then(|| leaf(&footer, "Digest Footer"));

    let mut content: Vec<u8> = leaves.concat();
    for part in embedded.iter().chain(footer.iter()) {
        content.extend_from_slice(part);
    }
    let outer = boundary_for(&content);
    content.extend_from_slice(outer.as_bytes());
    let inner = boundary_for(&content);

    let mut digest = field(
        "Content-Type",
        Value::Raw(&format!("multipart/digest; boundary=\"{inner}\"")),
        Eol::Crlf,
    );
    digest.extend_from_slice(b"\r\n");
    for post in &embedded {
        digest.extend_from_slice(format!("--{inner}\r\n").as_bytes());
        digest.extend(field(
            "Content-Type",
            Value::Raw("message/rfc822"),
            Eol::Crlf,
        ));
        digest.extend(field("MIME-Version", Value::Raw("1.0"), Eol::Crlf));
        digest.extend_from_slice(b"\r\n");
        digest.extend_from_slice(post);
        // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
        digest.extend_from_slice(b"\r\n");
    }
    digest.extend_from_slice(format!("--{inner}--\r\n").as_bytes());

    let mut out = issue.common_headers(issue.ids.message_id);
    out.extend(field(
        "Content-Type",
        Value::Raw(&format!("multipart/mixed; boundary=\"{outer}\"")),
        Eol::Crlf,
    ));
    out.extend_from_slice(b"\r\n");
    let parts = leaves
        .iter()
        .chain(std::iter::once(&digest))
        .chain(footer.iter());
    for part in parts {
        out.extend_from_slice(format!("--{outer}\r\n").as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{outer}--\r\n").as_bytes());
    out.extend_from_slice(format!("End of {digest_id}\r\n").as_bytes());
    out
}

/// A `text/plain` part with a `Content-Description`.
fn leaf(text: &str, description: &str) -> Vec<u8> {
    let (mut headers, body) = text_body(text);
    headers.extend(field(
        "Content-Description",
        Value::Text(description),
        Eol::Crlf,
    ));
    headers.extend_from_slice(b"\r\n");
    headers.extend_from_slice(&body);
    headers
}

/// The post with `Message: <n>` at the end of its header section, with CRLF line ends.
fn numbered(post: &Message<'_>, n: usize) -> Vec<u8> {
    let mut rewrite = Rewrite::new(post);
    rewrite.append("Message", Value::Raw(&n.to_string()));
    crlf(&rewrite.finish())
}
