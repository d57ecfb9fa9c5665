//! `decorate`: the list's header and footer texts (`header_text`, `footer_text`) around the
//! body, MIME-aware as Mailman does it (mailman3.md §7.6):
//!
//! - a single `text/plain` part (or a message without Content-Type) gets the footer appended
//!   and the header prepended inside the part, in the part's own charset and transfer
//!   encoding; when the charset cannot represent the texts, the part is converted to UTF-8;
//!   when the body cannot be decoded in its declared charset (or the charset is unknown), the
//!   message is wrapped instead;
//! - a `multipart/mixed` message gets new `text/plain` parts before its first and after its
//!   last part;
//! - anything else (`multipart/alternative`, HTML only, ...) is wrapped in a new
//!   `multipart/mixed` with the header part, the original content and the footer part.
//!
//! Empty texts change nothing. The work is split in two so that per-recipient rendering is
//! cheap: [`Plan::of`] looks at the message once (decoding the body if it will need
//! re-encoding), [`Plan::apply`] adds given texts. Boundaries are derived from the content,
//! never random.

use mail_parser::ContentType;

use crate::charset::Charset;
use crate::context::ListContext;
use crate::encoded_word::Value;
use crate::header_block::Eol;
use crate::message::Message;
use crate::mime::{TransferEncoding, boundary_for, qp_encode};
use crate::rewrite::Rewrite;

/// How a message will be decorated, whatever the texts.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Decorate inside a single text/plain part.
    Single(SinglePart),
    /// Add parts to a multipart/mixed message.
    Mixed(MixedParts),
    /// Wrap the content in a new multipart/mixed.
    Wrap,
}

/// A single text/plain part, decoded once.
#[derive(Debug, Clone)]
pub struct SinglePart {
    charset: Charset,
    encoding: TransferEncoding,
    /// The body after transfer decoding, in `charset`.
    content: Vec<u8>,
    /// The content as text, when it decodes in its charset (needed to convert to UTF-8).
    text: Option<String>,
    content_type: Option<ContentType<'static>>,
}

/// Where new parts go in a multipart/mixed body (offsets into the body).
#[derive(Debug, Clone)]
pub struct MixedParts {
    boundary: String,
    /// Just after the first delimiter line.
    first_part: usize,
    /// At the line break that precedes the close delimiter.
    close: usize,
}

impl Plan {
    /// Looks at the message and decides how to decorate it.
    pub fn of(message: &Message<'_>) -> Plan {
        let content_type = message.content_type();
        let (ctype, subtype) = match &content_type {
            Some(ct) => (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase(),
            ),
            None => ("text".to_string(), "plain".to_string()),
        };
        if ctype == "text" && subtype == "plain" {
            let label = content_type
                .as_ref()
                .and_then(|ct| ct.attribute("charset"))
                .unwrap_or("us-ascii");
            let Some(charset) = Charset::from_label(label) else {
                return Plan::Wrap;
            };
            let encoding = TransferEncoding::from_header(message.transfer_encoding().as_deref());
            let content = encoding.decode(message.body());
            let text = charset.decode(&content);
            return Plan::Single(SinglePart {
                charset,
                encoding,
                content,
                text,
                content_type,
            });
        }
        if ctype == "multipart" && subtype == "mixed" {
            let boundary = content_type
                .as_ref()
                .and_then(|ct| ct.attribute("boundary"));
            if let Some(parts) = boundary.and_then(|b| MixedParts::find(message.body(), b)) {
                return Plan::Mixed(parts);
            }
        }
        Plan::Wrap
    }

    /// Adds `header` and `footer` (with `\n` line breaks): edits the header fields in
    /// `rewrite` and returns the new body, or `None` when both texts are empty.
    pub fn apply(
        &self,
        message: &Message<'_>,
        rewrite: &mut Rewrite<'_>,
        header: &str,
        footer: &str,
    ) -> Option<Vec<u8>> {
        if header.is_empty() && footer.is_empty() {
            return None;
        }
        let eol = message.eol();
        match self {
            Plan::Single(single) => Some(match single.apply(rewrite, header, footer, eol) {
                Some(body) => body,
                None => wrap(message, rewrite, header, footer),
            }),
            Plan::Mixed(mixed) => Some(mixed.apply(message.body(), header, footer, eol)),
            Plan::Wrap => Some(wrap(message, rewrite, header, footer)),
        }
    }
}

impl SinglePart {
    fn apply(
        &self,
        rewrite: &mut Rewrite<'_>,
        header: &str,
        footer: &str,
        eol: Eol,
    ) -> Option<Vec<u8>> {
        // Base64 text is canonical CRLF; the others follow the message.
        let nl = if self.encoding == TransferEncoding::Base64 {
            "\r\n"
        } else {
            eol.as_str()
        };
        let header = header.replace('\n', nl);
        let footer = footer.replace('\n', nl);
        let front_sep = if !header.is_empty() && !header.ends_with(nl) {
            nl
        } else {
            ""
        };
        let end_sep = if !footer.is_empty() && !self.content.ends_with(b"\n") {
            nl
        } else {
            ""
        };
        if let (Some(h), Some(f)) = (self.charset.encode(&header), self.charset.encode(&footer)) {
            let mut content = Vec::with_capacity(h.len() + self.content.len() + f.len() + 4);
            content.extend_from_slice(&h);
            content.extend_from_slice(front_sep.as_bytes());
            content.extend_from_slice(&self.content);
            content.extend_from_slice(end_sep.as_bytes());
            content.extend_from_slice(&f);
            if self.encoding == TransferEncoding::SevenBit && !(h.is_ascii() && f.is_ascii()) {
                rewrite.set("Content-Transfer-Encoding", Value::Raw("quoted-printable"));
                return Some(qp_encode(&content, eol));
            }
            return Some(self.encoding.encode(&content, eol));
        }
        // The charset cannot carry the texts: convert the part to UTF-8.
        let text = self.text.as_ref()?;
        let content = format!("{header}{front_sep}{text}{end_sep}{footer}");
        let encoding = match self.encoding {
            TransferEncoding::SevenBit => TransferEncoding::QuotedPrintable,
            other => other,
        };
        if !rewrite.has("MIME-Version") {
            rewrite.append("MIME-Version", Value::Raw("1.0"));
        }
        rewrite.set(
            "Content-Type",
            Value::Raw(&utf8_content_type(self.content_type.as_ref())),
        );
        if encoding != self.encoding {
            rewrite.set("Content-Transfer-Encoding", Value::Raw("quoted-printable"));
        }
        Some(encoding.encode(content.as_bytes(), eol))
    }
}

/// `text/plain; charset="utf-8"` keeping the other parameters (format, delsp, ...).
fn utf8_content_type(original: Option<&ContentType<'static>>) -> String {
    let mut value = "text/plain; charset=\"utf-8\"".to_string();
    for attr in original.and_then(|ct| ct.attributes()).unwrap_or_default() {
        if !attr.name.eq_ignore_ascii_case("charset") {
            let escaped = attr.value.replace('\\', "\\\\").replace('"', "\\\"");
            value.push_str(&format!("; {}=\"{escaped}\"", attr.name));
        }
    }
    value
}

impl MixedParts {
    /// Finds the first delimiter and the close delimiter of `boundary` in `body`.
    fn find(body: &[u8], boundary: &str) -> Option<MixedParts> {
        let delimiter = format!("--{boundary}");
        let close_line = format!("--{boundary}--");
        let mut first_part = None;
        let mut pos = 0;
        while pos < body.len() {
            let end = body[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |i| pos + i + 1);
            let line = body[pos..end].trim_ascii_end();
            if first_part.is_none() && line == delimiter.as_bytes() {
                first_part = Some(end);
            } else if first_part.is_some() && line == close_line.as_bytes() {
                // The line break before the close delimiter belongs to it.
                let close = if body[..pos].ends_with(b"\r\n") {
                    pos - 2
                } else if body[..pos].ends_with(b"\n") {
                    pos - 1
                } else {
                    return None;
                };
                return Some(MixedParts {
                    boundary: boundary.to_string(),
                    first_part: first_part?,
                    close,
                });
            }
            pos = end;
        }
        None
    }

    fn apply(&self, body: &[u8], header: &str, footer: &str, eol: Eol) -> Vec<u8> {
        let nl = eol.as_bytes();
        let delimiter = format!("--{}", self.boundary);
        let mut out = Vec::with_capacity(body.len() + header.len() + footer.len() + 512);
        out.extend_from_slice(&body[..self.first_part]);
        if !header.is_empty() {
            out.extend_from_slice(&text_part(header, eol));
            out.extend_from_slice(nl);
            out.extend_from_slice(delimiter.as_bytes());
            out.extend_from_slice(nl);
        }
        out.extend_from_slice(&body[self.first_part..self.close]);
        if !footer.is_empty() {
            out.extend_from_slice(nl);
            out.extend_from_slice(delimiter.as_bytes());
            out.extend_from_slice(nl);
            out.extend_from_slice(&text_part(footer, eol));
        }
        out.extend_from_slice(&body[self.close..]);
        out
    }
}

/// Wraps the content in a new multipart/mixed: header part, the original Content-* fields and
/// body as the inner part, footer part.
fn wrap(message: &Message<'_>, rewrite: &mut Rewrite<'_>, header: &str, footer: &str) -> Vec<u8> {
    let raw = message.raw();
    let eol = message.eol();
    let nl = eol.as_bytes();
    let body = message.body();
    let mut inner_fields = Vec::new();
    for field in message.fields() {
        if field.name(raw).len() > 8 && field.name(raw)[..8].eq_ignore_ascii_case(b"content-") {
            inner_fields.extend_from_slice(&raw[field.start..field.end]);
            if !raw[..field.end].ends_with(b"\n") {
                inner_fields.extend_from_slice(nl);
            }
        }
    }
    let mut seed = inner_fields.clone();
    seed.extend_from_slice(body);
    seed.extend_from_slice(header.as_bytes());
    seed.extend_from_slice(footer.as_bytes());
    let boundary = boundary_for(&seed);
    let delimiter = format!("--{boundary}");

    rewrite.remove_where(|name| name.starts_with("content-"));
    if !rewrite.has("MIME-Version") {
        rewrite.append("MIME-Version", Value::Raw("1.0"));
    }
    rewrite.append(
        "Content-Type",
        Value::Raw(&format!("multipart/mixed; boundary=\"{boundary}\"")),
    );

    let mut out =
        Vec::with_capacity(body.len() + inner_fields.len() + header.len() + footer.len() + 512);
    let part = |bytes: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(delimiter.as_bytes());
        out.extend_from_slice(nl);
        out.extend_from_slice(bytes);
        out.extend_from_slice(nl);
    };
    if !header.is_empty() {
        part(&text_part(header, eol), &mut out);
    }
    let mut inner = inner_fields;
    inner.extend_from_slice(nl);
    inner.extend_from_slice(body);
    part(&inner, &mut out);
    if !footer.is_empty() {
        part(&text_part(footer, eol), &mut out);
    }
    out.extend_from_slice(delimiter.as_bytes());
    out.extend_from_slice(b"--");
    out.extend_from_slice(nl);
    out
}

/// A `text/plain` part with its headers: US-ASCII 7bit when it can be, UTF-8
/// quoted-printable otherwise.
fn text_part(text: &str, eol: Eol) -> Vec<u8> {
    let nl = eol.as_str();
    let text = text.replace('\n', nl);
    let (charset, encoding, content) = if text.is_ascii() {
        ("us-ascii", "7bit", text.into_bytes())
    } else {
        ("utf-8", "quoted-printable", qp_encode(text.as_bytes(), eol))
    };
    let mut out = format!(
        "Content-Type: text/plain; charset=\"{charset}\"{nl}Content-Transfer-Encoding: {encoding}{nl}Content-Disposition: inline{nl}{nl}"
    )
    .into_bytes();
    out.extend_from_slice(&content);
    out
}

/// Decorates a message with the list's texts (no per-recipient placeholders are filled);
/// `None` when there is nothing to add.
pub fn decorate(message: &Message<'_>, list: &ListContext) -> Option<Vec<u8>> {
    let header = list.compiled.header_template.render(|_| None);
    let footer = list.compiled.footer_template.render(|_| None);
    if header.is_empty() && footer.is_empty() {
        return None;
    }
    let plan = Plan::of(message);
    let mut rewrite = Rewrite::new(message);
    let body = plan.apply(message, &mut rewrite, &header, &footer)?;
    Some(rewrite.finish_with_body(&body))
}

#[cfg(test)]
mod tests {
    use crate::handlers::testing_list::process;
    use crate::message::Message;

    fn decorated(raw: &str, header: &str, footer: &str) -> String {
        process(raw, |s| {
            s.subject_prefix.0.clear();
            s.header_text.0 = header.into();
            s.footer_text.0 = footer.into();
        })
    }

    fn body(out: &str) -> &str {
        &out[out.find("\r\n\r\n").unwrap() + 4..]
    }

    #[test]
    fn plain_text_gets_header_and_footer_in_place() {
        let out = decorated(
            "From: a@example.com\n\nHello\n",
            "Head $display_name\n",
            "-- \nFoot $listname\n",
        );
        // Mailman drops trailing spaces before line breaks, the signature separator's included.
        assert_eq!(
            body(&out),
            "Head Ant\r\nHello\r\n--\r\nFoot ant@example.com\r\n"
        );
        let out = decorated("From: a@example.com\n\nNo newline", "", "Foot");
        assert_eq!(body(&out), "No newline\r\nFoot");
    }

    #[test]
    fn empty_texts_change_nothing() {
        let raw = "From: a@example.com\nContent-Type: text/html\n\n<p>x</p>\n";
        let out = decorated(raw, "", "");
        assert!(out.ends_with("\r\n\r\n<p>x</p>\r\n"), "{out}");
        assert!(!out.contains("multipart"), "{out}");
    }

    #[test]
    fn non_ascii_footer_turns_7bit_into_quoted_printable() {
        let raw = "From: a@example.com\nContent-Type: text/plain; charset=iso-8859-1\n\nHej\n";
        let out = decorated(raw, "", "Hälsningar\n");
        assert!(
            out.contains("Content-Transfer-Encoding: quoted-printable\r\n"),
            "{out}"
        );
        assert_eq!(body(&out), "Hej\r\nH=E4lsningar\r\n");
    }

    #[test]
    fn unrepresentable_footer_converts_the_part_to_utf8() {
        let bytes = b"From: a@example.com\r\nContent-Type: text/plain; charset=\"iso-8859-1\"; format=flowed\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9\r\n";
        let list = crate::handlers::testing_list::list(|s| s.footer_text.0 = "€ 5\n".into());
        let message = Message::parse(bytes).unwrap();
        let out = String::from_utf8(super::decorate(&message, &list).unwrap()).unwrap();
        assert!(
            out.contains("Content-Type: text/plain; charset=\"utf-8\"; format=\"flowed\"\r\n"),
            "{out}"
        );
        assert!(out.ends_with("\r\n\r\nCafé\r\n€ 5\r\n"), "{out}");
    }

    #[test]
    fn multipart_mixed_gets_new_parts() {
        let raw = "From: a@example.com\nContent-Type: multipart/mixed; boundary=\"XX\"\n\npre\n--XX\nContent-Type: text/plain\n\nbody\n--XX--\nepilogue\n";
        let out = decorated(raw, "H\n", "F\n");
        assert_eq!(
            body(&out),
            "pre\r\n--XX\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Disposition: inline\r\n\r\nH\r\n\r\n--XX\r\n\
Content-Type: text/plain\r\n\r\nbody\r\n--XX\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Disposition: inline\r\n\r\nF\r\n\r\n--XX--\r\nepilogue\r\n"
        );
        let reparsed = mail_parser::MessageParser::new()
            .parse(out.as_bytes())
            .unwrap();
        assert_eq!(reparsed.parts.len(), 4);
    }

    #[test]
    fn other_types_are_wrapped() {
        let raw = "From: a@example.com\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n<p>x</p>\n";
        let out = decorated(raw, "", "F\n");
        let message = Message::parse(out.as_bytes()).unwrap();
        let ct = message.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
        assert_eq!(message.fields_named("Content-Type").count(), 1);
        assert_eq!(message.fields_named("MIME-Version").count(), 1);
        let parsed = mail_parser::MessageParser::new()
            .parse(out.as_bytes())
            .unwrap();
        assert_eq!(parsed.body_html(0).as_deref(), Some("<p>x</p>\r\n"));
        assert_eq!(parsed.parts.len(), 3);
        assert!(body(&out).contains("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>x</p>\r\n\r\n--"), "{out}");
    }
}
