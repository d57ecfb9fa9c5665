//! Writing header values safely: RFC 2047 encoded words, folding at 78 columns, and the
//! guarantee that no value can start a new header line.
//!
//! Every value mailcast writes into a header goes through [`field`]: CR, LF, NUL and other
//! control characters become spaces first (protocols.md §5.4), non-ASCII text becomes encoded
//! words in the requested charset (UTF-8 when that charset cannot represent it), and the
//! result is folded at spaces. [`mailbox`] formats `Name <address>` the way Python's
//! `formataddr` does. Decoding is not here: see [`crate::message`].

use std::borrow::Cow;

use mail_builder::encoders::base64::Base64Encoder;

use crate::charset::Charset;
use crate::header_block::Eol;

/// Lines are folded to stay within this many columns (RFC 5322 §2.1.1).
const FOLD_AT: usize = 78;
/// Longest encoded word (RFC 2047 §2).
const MAX_WORD: usize = 75;

/// How a value is to be written.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Unstructured text (Subject, free text): non-ASCII words become encoded words.
    Text(&'a str),
    /// Unstructured text whose non-ASCII words are encoded in this charset when it can
    /// represent them (the Subject keeps the poster's charset).
    TextIn(&'a str, Charset),
    /// A structured value already in wire form (addresses built with [`mailbox`], URLs,
    /// tokens): only sanitised and folded.
    Raw(&'a str),
}

/// Renders a complete header field, `Name: value` plus the line terminator.
pub fn field(name: &str, value: Value<'_>, eol: Eol) -> Vec<u8> {
    let encoded: Cow<'_, str> = match value {
        Value::Text(text) => Cow::Owned(encode_text(&sanitize(text), Charset::Utf8)),
        Value::TextIn(text, charset) => Cow::Owned(encode_text(&sanitize(text), charset)),
        Value::Raw(raw) => sanitize(raw),
    };
    let mut out = Vec::with_capacity(name.len() + encoded.len() + 8);
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    fold_into(&mut out, name.len() + 1, encoded.trim(), eol);
    out.extend_from_slice(eol.as_bytes());
    out
}

/// Replaces CR, LF, NUL and every other control character except TAB with a space, so that a
/// value can never end the header line it is written on.
pub fn sanitize(value: &str) -> Cow<'_, str> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        Cow::Owned(
            value
                .chars()
                .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    }
}

/// `Name <address>` as Python's `formataddr` writes it: the bare address without a name,
/// a quoted name when it contains specials, encoded words when it is not ASCII.
pub fn mailbox(display_name: Option<&str>, address: &str) -> String {
    let address = sanitize(address);
    let name = display_name.map(sanitize);
    match name.as_deref().map(str::trim) {
        None | Some("") => address.into_owned(),
        Some(name) if !name.is_ascii() => format!(
            "{} <{address}>",
            encode_words(name, Charset::Utf8).join(" ")
        ),
        Some(name) if name.contains(|c: char| "()<>[]:;@\\,.\"".contains(c)) => {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\" <{address}>")
        }
        Some(name) => format!("{name} <{address}>"),
    }
}

/// Encodes the words of an unstructured text that need it: runs of words containing non-ASCII
/// characters (or something that looks like an encoded word) become encoded words, ASCII words
/// stay as they are.
pub fn encode_text(text: &str, charset: Charset) -> String {
    let needs = |word: &str| !word.is_ascii() || word.contains("=?");
    if !needs(text) {
        return text.to_string();
    }
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if needs(words[i]) {
            let mut j = i;
            while j + 1 < words.len() && needs(words[j + 1]) {
                j += 1;
            }
            out.extend(encode_words(&words[i..=j].join(" "), charset));
            i = j + 1;
        } else {
            out.push(words[i].to_string());
            i += 1;
        }
    }
    out.join(" ")
}

/// Encodes `text` as one or more encoded words of at most 75 characters, never splitting a
/// character. Falls back to UTF-8 when `charset` cannot represent the text or is stateful.
pub fn encode_words(text: &str, charset: Charset) -> Vec<String> {
    let charset = match charset {
        Charset::Ascii => Charset::Utf8,
        c if c.is_stateful() || c.encode(text).is_none() => Charset::Utf8,
        c => c,
    };
    // Every character encodes on its own in a stateless charset.
    let encoded = charset
        .encode(text)
        .unwrap_or_else(|| text.as_bytes().to_vec());
    // Python's SHORTEST rule: whichever of Q and B is shorter for the whole text.
    let q_total: usize = encoded.iter().map(|&b| q_width(b)).sum();
    let use_b = encoded.len().div_ceil(3) * 4 < q_total;
    let label = charset.label();
    let overhead = label.len() + 7; // "=?" + label + "?Q?" + "?="
    let mut words = Vec::new();
    let mut chunk: Vec<u8> = Vec::new();
    let mut q_len = 0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let bytes = charset.encode(c.encode_utf8(&mut buf)).unwrap_or_default();
        let fits = if use_b {
            overhead + (chunk.len() + bytes.len()).div_ceil(3) * 4 <= MAX_WORD
        } else {
            overhead + q_len + bytes.iter().map(|&b| q_width(b)).sum::<usize>() <= MAX_WORD
        };
        if !fits && !chunk.is_empty() {
            words.push(render_word(label, &chunk, use_b));
            chunk.clear();
            q_len = 0;
        }
        q_len += bytes.iter().map(|&b| q_width(b)).sum::<usize>();
        chunk.extend_from_slice(&bytes);
    }
    if !chunk.is_empty() {
        words.push(render_word(label, &chunk, use_b));
    }
    words
}

fn render_word(label: &str, bytes: &[u8], use_b: bool) -> String {
    let mut word = format!("=?{label}?{}?", if use_b { 'B' } else { 'Q' });
    if use_b {
        let b64 = Base64Encoder::new().encode(bytes).unwrap_or_default();
        word.push_str(&String::from_utf8_lossy(&b64));
    } else {
        for &b in bytes {
            match b {
                b' ' => word.push('_'),
                b if q_safe(b) => word.push(char::from(b)),
                b => word.push_str(&format!("={b:02X}")),
            }
        }
    }
    word.push_str("?=");
    word
}

/// Characters allowed literally in a Q-encoded word anywhere, phrases included (RFC 2047 §5).
fn q_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!*+-/ ".contains(&b)
}

fn q_width(b: u8) -> usize {
    if q_safe(b) { 1 } else { 3 }
}

/// Appends `value` after a field name, each word preceded by a space or, when it would pass
/// 78 columns, by a fold; `column` is how much of the first line the name uses. A word longer
/// than a line is kept whole (up to the 998-octet hard limit, which our values never approach).
fn fold_into(out: &mut Vec<u8>, column: usize, value: &str, eol: Eol) {
    if value.is_empty() {
        return;
    }
    let mut col = column;
    // The field name counts as content, so even the first word may move to a new line.
    let mut line_has_word = true;
    for word in value.split(' ') {
        if line_has_word && col + 1 + word.len() > FOLD_AT {
            out.extend_from_slice(eol.as_bytes());
            col = 0;
        }
        out.push(b' ');
        out.extend_from_slice(word.as_bytes());
        col += 1 + word.len();
        line_has_word = !word.is_empty() || col > 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::decode_text;

    fn render(name: &str, value: Value<'_>) -> String {
        String::from_utf8(field(name, value, Eol::Crlf)).unwrap()
    }

    #[test]
    fn control_characters_cannot_start_a_new_field() {
        let out = render("Subject", Value::Text("hi\r\nBcc: victim@example.com\0"));
        assert_eq!(out, "Subject: hi  Bcc: victim@example.com\r\n");
        let out = render("X-Test", Value::Raw("a\nb"));
        assert_eq!(out, "X-Test: a b\r\n");
    }

    #[test]
    fn long_values_fold_at_78_columns_and_unfold_to_the_same_text() {
        let text = "word ".repeat(40);
        let out = render("Subject", Value::Text(text.trim()));
        for line in out.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        assert_eq!(
            out.trim_end().replace("\r\n", ""),
            format!("Subject: {}", text.trim())
        );
    }

    #[test]
    fn non_ascii_text_is_encoded_and_decodes_back() {
        for (text, charset) in [
            ("Café au lait", Charset::Latin1),
            ("Grüße aus Köln und überall", Charset::Utf8),
            (
                "日本語のメールの件名がとても長い場合でも正しく分割されること",
                Charset::Utf8,
            ),
            ("Привет мир", Charset::from_label("koi8-r").unwrap()),
            ("€uro in latin-1 falls back", Charset::Latin1),
        ] {
            let out = render("Subject", Value::TextIn(text, charset));
            assert!(out.is_ascii(), "{out}");
            for line in out.split("\r\n") {
                assert!(line.len() <= 78, "{line:?}");
            }
            let value = &out["Subject:".len()..];
            assert_eq!(decode_text(value.as_bytes()), text, "{out}");
        }
        assert!(
            render("Subject", Value::TextIn("Café", Charset::Latin1))
                .contains("=?iso-8859-1?Q?Caf=E9?=")
        );
        assert!(render("Subject", Value::TextIn("€", Charset::Latin1)).contains("=?utf-8?"));
    }

    #[test]
    fn mailbox_quotes_and_encodes_like_formataddr() {
        assert_eq!(mailbox(None, "a@example.com"), "a@example.com");
        assert_eq!(mailbox(Some(""), "a@example.com"), "a@example.com");
        assert_eq!(
            mailbox(Some("Anne Person"), "a@example.com"),
            "Anne Person <a@example.com>"
        );
        assert_eq!(
            mailbox(Some("Person, Anne"), "a@example.com"),
            "\"Person, Anne\" <a@example.com>"
        );
        assert_eq!(
            mailbox(Some("A \"B\" C."), "a@example.com"),
            "\"A \\\"B\\\" C.\" <a@example.com>"
        );
        let encoded = mailbox(Some("Jörg"), "j@example.com");
        assert_eq!(encoded, "=?utf-8?B?SsO2cmc=?= <j@example.com>");
        assert_eq!(
            mailbox(Some("Zoë Ann"), "z@example.com"),
            "=?utf-8?Q?Zo=C3=AB_Ann?= <z@example.com>"
        );
    }
}
