//! The text of a post in a plain (RFC 1153) digest, as Mailman's `scrubber.scrub`: every
//! `text/plain` part decoded and kept (attachments too), every other leaf part replaced by a
//! note naming it, parts inside attached messages included, consecutive parts separated by
//! Mailman's `-------------- next part --------------` line (on a line of its own: Mailman
//! glues it to the end of a text part that does not end with a line break).

use mail_parser::{Encoding, Message as Parsed, MessageParser, MimeHeaders, PartType};

use crate::mime::TransferEncoding;

/// The separator written before every part after the first that follows some text.
pub const NEXT_PART: &str = "-------------- next part --------------\n";

/// The plain text of a post.
pub fn plain_text(raw: &[u8]) -> String {
    let mut text = String::new();
    if let Some(parsed) = MessageParser::default().parse(raw) {
        walk(&parsed, &mut text);
    }
    text
}

fn walk(message: &Parsed<'_>, text: &mut String) {
    let raw = message.raw_message();
    for part in &message.parts {
        let payload = match &part.body {
            PartType::Multipart(_) => continue,
            PartType::Message(nested) => {
                walk(nested, text);
                continue;
            }
            PartType::Text(body) if is_plain(part.content_type()) => body.to_string(),
            _ => {
                let start = (part.offset_body as usize).min(raw.len());
                let end = (part.offset_end as usize).clamp(start, raw.len());
                let encoding = match part.encoding {
                    Encoding::None => TransferEncoding::EightBit,
                    Encoding::QuotedPrintable => TransferEncoding::QuotedPrintable,
                    Encoding::Base64 => TransferEncoding::Base64,
                };
                let size = match &part.body {
                    PartType::Binary(bin) | PartType::InlineBinary(bin) => bin.len(),
                    _ => encoding.decode(&raw[start..end]).len(),
                };
                removed_note(
                    part.attachment_name().unwrap_or("not available"),
                    &mime_type(part.content_type()),
                    size,
                    part.content_description().unwrap_or("not available"),
                )
            }
        };
        if !text.is_empty() {
            // Mailman writes the separator right after the text, which the MIME parser has
            // stripped of its last line break; mailcast puts it on a line of its own.
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(NEXT_PART);
        }
        text.push_str(&payload);
    }
}

/// Mailman's note for a part that a plain digest cannot show.
fn removed_note(name: &str, mime_type: &str, size: usize, description: &str) -> String {
    format!(
        "A message part incompatible with plain text digests has been removed ...\n\
         Name: {name}\nType: {mime_type}\nSize: {size} bytes\nDesc: {description}\n"
    )
}

fn mime_type(ct: Option<&mail_parser::ContentType<'_>>) -> String {
    match ct {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => "text/plain".to_string(),
    }
}

fn is_plain(ct: Option<&mail_parser::ContentType<'_>>) -> bool {
    mime_type(ct) == "text/plain"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_post_is_its_decoded_text() {
        let raw = b"Subject: s\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n";
        assert_eq!(plain_text(raw), "Grüße\n");
    }

    #[test]
    fn other_parts_become_notes_between_separators() {
        let raw = b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhello\n--B\nContent-Type: application/pdf; name=\"a.pdf\"\nContent-Description: the report\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--B\nContent-Type: text/plain\nContent-Disposition: attachment; filename=notes.txt\n\nnotes\n--B--\n";
        assert_eq!(
            plain_text(raw),
            "hello\n-------------- next part --------------\n\
A message part incompatible with plain text digests has been removed ...\n\
Name: a.pdf\nType: application/pdf\nSize: 5 bytes\nDesc: the report\n\
-------------- next part --------------\nnotes"
        );
    }

    #[test]
    fn an_html_only_post_is_only_the_note() {
        let raw = b"Content-Type: text/html; charset=utf-8\n\n<p>hi</p>\n";
        let text = plain_text(raw);
        assert!(text.starts_with("A message part incompatible"), "{text}");
        assert!(
            text.contains(
                "Name: not available\nType: text/html\nSize: 10 bytes\nDesc: not available\n"
            ),
            "{text}"
        );
    }
}
