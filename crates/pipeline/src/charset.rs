//! MIME charsets: turning text into a part's or an encoded word's bytes and back.
//!
//! MIME labels are not WHATWG labels: `iso-8859-1` must mean ISO 8859-1 (not windows-1252)
//! and `us-ascii` must mean ASCII, so those two are handled here; every other label goes to
//! `encoding_rs`. Encoders never substitute: text a charset cannot represent is reported as
//! `None`, and the caller falls back to UTF-8. This module knows nothing about messages.

use encoding_rs::Encoding;

/// A charset a text can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// US-ASCII (also the MIME default when no charset is given).
    Ascii,
    /// ISO 8859-1, byte = code point.
    Latin1,
    /// UTF-8.
    Utf8,
    /// Any other charset `encoding_rs` knows and can encode into.
    Other(&'static Encoding),
}

impl Charset {
    /// Looks up a MIME charset label; `None` for unknown labels and for charsets that cannot be
    /// produced (UTF-16, the replacement encoding).
    pub fn from_label(label: &str) -> Option<Charset> {
        let label = label.trim().trim_matches('"');
        let lower = label.to_ascii_lowercase();
        match lower.as_str() {
            "" | "us-ascii" | "ascii" | "ansi_x3.4-1968" | "us" => return Some(Charset::Ascii),
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1" => {
                return Some(Charset::Latin1);
            }
            "utf-8" | "utf8" => return Some(Charset::Utf8),
            _ => {}
        }
        let encoding = Encoding::for_label_no_replacement(lower.as_bytes())?;
        if encoding == encoding_rs::UTF_8 {
            Some(Charset::Utf8)
        } else if encoding.output_encoding() != encoding {
            None
        } else {
            Some(Charset::Other(encoding))
        }
    }

    /// The label written into MIME headers.
    pub fn label(self) -> &'static str {
        match self {
            Charset::Ascii => "us-ascii",
            Charset::Latin1 => "iso-8859-1",
            Charset::Utf8 => "utf-8",
            Charset::Other(encoding) => mime_label(encoding),
        }
    }

    /// Whether the charset carries state across characters (ISO-2022-JP), so that a text
    /// cannot be encoded one character at a time.
    pub fn is_stateful(self) -> bool {
        matches!(self, Charset::Other(e) if e == encoding_rs::ISO_2022_JP)
    }

    /// Encodes `text`; `None` if some character cannot be represented.
    pub fn encode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Charset::Ascii => text.is_ascii().then(|| text.as_bytes().to_vec()),
            Charset::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect(),
            Charset::Utf8 => Some(text.as_bytes().to_vec()),
            Charset::Other(encoding) => {
                let mut encoder = encoding.new_encoder();
                let capacity =
                    encoder.max_buffer_length_from_utf8_without_replacement(text.len())?;
                let mut out = Vec::with_capacity(capacity);
                let (result, _) =
                    encoder.encode_from_utf8_to_vec_without_replacement(text, &mut out, true);
                match result {
                    encoding_rs::EncoderResult::InputEmpty => Some(out),
                    _ => None,
                }
            }
        }
    }

    /// Decodes `bytes`; `None` if they are not valid in this charset.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Ascii => bytes
                .is_ascii()
                .then(|| String::from_utf8_lossy(bytes).into_owned()),
            Charset::Latin1 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
            Charset::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
            Charset::Other(encoding) => encoding
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|text| text.into_owned()),
        }
    }

    /// Decodes `bytes`, replacing what is not valid in this charset with U+FFFD (Python's
    /// `errors='replace'`).
    pub fn decode_lossy(self, bytes: &[u8]) -> String {
        match self {
            Charset::Ascii => bytes
                .iter()
                .map(|&b| {
                    if b.is_ascii() {
                        char::from(b)
                    } else {
                        '\u{fffd}'
                    }
                })
                .collect(),
            Charset::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Other(encoding) => encoding.decode_without_bom_handling(bytes).0.into_owned(),
        }
    }
}

/// The conventional MIME spelling of an `encoding_rs` encoding.
fn mime_label(encoding: &'static Encoding) -> &'static str {
    match encoding.name() {
        "Shift_JIS" => "shift_jis",
        "EUC-JP" => "euc-jp",
        "EUC-KR" => "euc-kr",
        "ISO-2022-JP" => "iso-2022-jp",
        "KOI8-R" => "koi8-r",
        "KOI8-U" => "koi8-u",
        "Big5" => "big5",
        "GBK" => "gbk",
        "gb18030" => "gb18030",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_labels_keep_their_mime_meaning() {
        assert_eq!(Charset::from_label("ISO-8859-1"), Some(Charset::Latin1));
        assert_eq!(Charset::from_label("\"us-ascii\""), Some(Charset::Ascii));
        assert_eq!(Charset::from_label("UTF8"), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("utf-16"), None);
        assert_eq!(Charset::from_label("x-no-such-charset"), None);
        assert_eq!(
            Charset::from_label("koi8-r").map(Charset::label),
            Some("koi8-r")
        );
        // Latin-1 is not windows-1252: the euro sign does not fit.
        assert_eq!(Charset::Latin1.encode("€"), None);
        assert_eq!(Charset::Latin1.encode("café"), Some(b"caf\xe9".to_vec()));
        assert_eq!(Charset::Ascii.encode("café"), None);
    }

    #[test]
    fn other_charsets_round_trip_and_refuse_unmappable_text() {
        let koi8 = Charset::from_label("koi8-r").unwrap();
        let bytes = koi8.encode("Привет").unwrap();
        assert_eq!(bytes.len(), 6);
        assert_eq!(koi8.decode(&bytes).as_deref(), Some("Привет"));
        assert_eq!(koi8.encode("日本"), None);
        assert!(Charset::from_label("iso-2022-jp").unwrap().is_stateful());
        assert_eq!(Charset::Utf8.decode(b"\xff"), None);
    }

    #[test]
    fn lossy_decoding_replaces_what_does_not_fit() {
        for (charset, bytes, want) in [
            (Charset::Ascii, &b"caf\xe9"[..], "caf\u{fffd}"),
            (Charset::Latin1, b"caf\xe9", "café"),
            (Charset::Utf8, b"a\xffb", "a\u{fffd}b"),
            (Charset::from_label("koi8-r").unwrap(), b"\xf0\xd2", "Пр"),
        ] {
            assert_eq!(charset.decode_lossy(bytes), want, "{charset:?}");
        }
    }
}
