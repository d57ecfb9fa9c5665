//! `convert_html_to_plaintext`: every `text/html` leaf becomes `text/plain`.
//!
//! Mailman writes each HTML part to a file and runs `[mailman] html_to_plain_text_command`
//! (`lynx -dump`) on it; mailcast renders it in process with the `html2text` crate (html5ever's
//! parser, the HTML standard's error recovery), wrapped at [`WIDTH`] columns, no subprocess and
//! no temporary file. As in Mailman, the content is decoded with the part's charset (bad bytes
//! replaced), the type becomes `text/plain`, and a part that cannot be converted stays HTML.
//! The text keeps the part's charset when that charset can represent it, else it is UTF-8;
//! it is written `7bit` when ASCII, else quoted-printable.

use crate::charset::Charset;
use crate::header_block::Eol;
use crate::mime::{TransferEncoding, qp_encode};

use super::tree::Part;

/// Columns the text is wrapped at (what `lynx -dump` uses, less one).
pub(crate) const WIDTH: usize = 78;

/// Converts every `text/html` leaf under `part`; returns how many were converted.
pub(crate) fn to_plaintext(part: &mut Part<'_>, eol: Eol) -> usize {
    let mut converted = 0;
    part.for_each_leaf(&mut |leaf| {
        if leaf.ctype == "text/html" && convert(leaf, eol) {
            converted += 1;
        }
    });
    converted
}

fn convert(leaf: &mut Part<'_>, eol: Eol) -> bool {
    let super::tree::Body::Leaf(content) = &leaf.body else {
        return false;
    };
    let field_value = |name: &str| {
        leaf.field_raw(name).map(|f| {
            let text = String::from_utf8_lossy(&f).into_owned();
            text.split_once(':')
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        })
    };
    let encoding =
        TransferEncoding::from_header(field_value("Content-Transfer-Encoding").as_deref());
    let label = charset_param(field_value("Content-Type").as_deref().unwrap_or(""));
    let charset = label
        .as_deref()
        .and_then(Charset::from_label)
        .unwrap_or(Charset::Ascii);
    let html = charset.decode_lossy(&encoding.decode(content));
    let Some(text) = render(&html) else {
        return false;
    };
    let text = text.replace("\r\n", "\n");
    let (charset, bytes) = match charset.encode(&text) {
        Some(bytes) if !charset.is_stateful() => (charset, bytes),
        _ => (Charset::Utf8, text.into_bytes()),
    };
    let (cte, body) = if bytes.is_ascii() {
        ("7bit", with_eol(&bytes, eol))
    } else {
        ("quoted-printable", qp_encode(&bytes, eol))
    };
    let e = eol.as_str();
    leaf.edit_header(
        &["Content-Type", "Content-Transfer-Encoding"],
        &[
            format!(
                "Content-Type: text/plain; charset=\"{}\"{e}",
                charset.label()
            )
            .into_bytes(),
            format!("Content-Transfer-Encoding: {cte}{e}").into_bytes(),
        ],
    );
    leaf.ctype = "text/plain".to_string();
    leaf.set_leaf(body);
    true
}

/// The text of an HTML document, `None` when the renderer fails.
pub(crate) fn render(html: &str) -> Option<String> {
    html2text::config::plain_no_decorate()
        .link_footnotes(true)
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), WIDTH)
        .ok()
}

/// Lines ended with `eol`.
fn with_eol(text: &[u8], eol: Eol) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 40);
    for line in text.split_inclusive(|&b| b == b'\n') {
        match line.strip_suffix(b"\n") {
            Some(l) => {
                out.extend_from_slice(l);
                out.extend_from_slice(eol.as_bytes());
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

/// The `charset` parameter of a `Content-Type` value, if any.
fn charset_param(value: &str) -> Option<String> {
    let mut terminated = value.as_bytes().to_vec();
    terminated.extend_from_slice(b"\r\n");
    match mail_parser::parsers::MessageStream::new(&terminated).parse_content_type() {
        mail_parser::HeaderValue::ContentType(ct) => ct.attribute("charset").map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_links_and_entities() {
        let text = render("<p>Hello <b>world</b> &amp; <a href=\"https://x.example/\">all</a></p>")
            .expect("renders");
        assert!(text.contains("Hello"), "{text}");
        assert!(text.contains("world & "), "{text}");
        assert!(text.contains("https://x.example/"), "{text}");
        assert!(!text.contains("**"), "{text}");
    }

    #[test]
    fn hostile_html_does_not_panic() {
        let deep = "<div>".repeat(20_000) + "x" + &"</div>".repeat(20_000);
        let _ = render(&deep);
        let tables = "<table><tr><td>".repeat(2_000);
        let _ = render(&tables);
        let _ = render("<p>\u{0}<<<>>>&#xFFFFFFFF;&bogus;</p");
        let _ = render("");
    }
}
