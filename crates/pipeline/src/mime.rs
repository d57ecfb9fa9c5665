//! MIME plumbing shared by decoration and approval stripping: content transfer encodings
//! (decode and re-encode a part body the same way), deterministic multipart boundaries, and
//! locating the leaf parts of a message by byte range.
//!
//! Decoders are lenient like Python's `email` package (a broken `=` escape stays literal,
//! stray characters in base64 are skipped): a post is never lost for a sloppy encoding.
//! Encoders produce lines of at most 76 characters. Charsets are not handled here (see
//! [`crate::charset`]), and parts inside an attached `message/rfc822` are never touched.

use mail_builder::encoders::base64::Base64Encoder;
use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::header_block::Eol;

/// A part's `Content-Transfer-Encoding`, reduced to what matters for rewriting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// `7bit`, or no header at all: the body is ASCII text as is.
    SevenBit,
    /// `8bit` or `binary` (or an unknown token): the body is as is, 8-bit allowed.
    EightBit,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `base64`.
    Base64,
}

impl TransferEncoding {
    /// Reads a `Content-Transfer-Encoding` value (`None` when the header is absent).
    pub(crate) fn from_header(value: Option<&str>) -> TransferEncoding {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("7bit") => TransferEncoding::SevenBit,
            Some("quoted-printable") => TransferEncoding::QuotedPrintable,
            Some("base64") => TransferEncoding::Base64,
            Some(_) => TransferEncoding::EightBit,
        }
    }

    /// Decodes a body.
    pub(crate) fn decode(self, body: &[u8]) -> Vec<u8> {
        match self {
            TransferEncoding::SevenBit | TransferEncoding::EightBit => body.to_vec(),
            TransferEncoding::QuotedPrintable => qp_decode(body),
            TransferEncoding::Base64 => base64_decode(body),
        }
    }

    /// Encodes content for this encoding; identity encodings return it unchanged.
    pub(crate) fn encode(self, content: &[u8], eol: Eol) -> Vec<u8> {
        match self {
            TransferEncoding::SevenBit | TransferEncoding::EightBit => content.to_vec(),
            TransferEncoding::QuotedPrintable => qp_encode(content, eol),
            TransferEncoding::Base64 => base64_encode(content, eol),
        }
    }
}

/// Quoted-printable decoding (RFC 2045 §6.7), lenient: an `=` not followed by two hex digits
/// or a line break is kept literally. Soft line breaks (`=` at the end of a line) are removed.
pub(crate) fn qp_decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = &body[i + 1..];
        // A soft line break, possibly with transport padding before it.
        let pad = rest
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        match &rest[pad..] {
            [b'\r', b'\n', ..] => i += 1 + pad + 2,
            [b'\n', ..] => i += 1 + pad + 1,
            [] if pad == rest.len() => i = body.len(),
            [h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() && pad == 0 => {
                out.push(hex(*h) << 4 | hex(*l));
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Quoted-printable encoding of text content: line breaks (`\r\n` or `\n`) stay hard line
/// breaks written with `eol`, lines are soft-broken at 76 characters, trailing white space and
/// every byte outside printable ASCII is escaped.
pub(crate) fn qp_encode(content: &[u8], eol: Eol) -> Vec<u8> {
    const MAX: usize = 76;
    let mut out = Vec::with_capacity(content.len() + content.len() / 8 + 16);
    let mut lines = content.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let line = if !last {
            line.strip_suffix(b"\r").unwrap_or(line)
        } else {
            line
        };
        let mut col = 0;
        for (i, &b) in line.iter().enumerate() {
            let at_end = i + 1 == line.len();
            let literal =
                (b'!'..=b'~').contains(&b) && b != b'=' || ((b == b' ' || b == b'\t') && !at_end);
            let width = if literal { 1 } else { 3 };
            // Leave room for the soft-break '=' unless this is the line's last character.
            let limit = if at_end { MAX } else { MAX - 1 };
            if col + width > limit {
                out.push(b'=');
                out.extend_from_slice(eol.as_bytes());
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            col += width;
        }
        if !last {
            out.extend_from_slice(eol.as_bytes());
        }
    }
    out
}

/// Base64 decoding that skips anything outside the alphabet (line breaks, stray characters).
pub(crate) fn base64_decode(body: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    let mut padded = clean;
    while !padded.len().is_multiple_of(4) {
        padded.push(b'=');
    }
    mail_parser::decoders::base64::base64_decode(&padded).unwrap_or_default()
}

/// Base64 in lines of 76 characters, each ended with `eol` (the last one included).
pub(crate) fn base64_encode(content: &[u8], eol: Eol) -> Vec<u8> {
    let flat = Base64Encoder::new().encode(content).unwrap_or_default();
    let mut out = Vec::with_capacity(flat.len() + flat.len() / 76 * 2 + 2);
    for chunk in flat.chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(eol.as_bytes());
    }
    out
}

/// A multipart boundary that does not occur in `content`, derived from it (no randomness).
pub(crate) fn boundary_for(content: &[u8]) -> String {
    // FNV-1a: cheap and deterministic; uniqueness is checked below, not assumed.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in content {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut attempt = 0u32;
    loop {
        let boundary = format!("==============={:016x}{attempt:02}==", hash);
        if !contains(content, boundary.as_bytes()) {
            return boundary;
        }
        attempt += 1;
        hash = hash.rotate_left(7) ^ u64::from(attempt);
    }
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A leaf part of the message, by byte range in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leaf {
    /// `type/subtype`, lower-cased (`text/plain` when the part has no Content-Type).
    pub(crate) mime_type: String,
    /// The part's transfer encoding.
    pub(crate) encoding: TransferEncoding,
    /// Where the part's body starts and ends in the message.
    pub(crate) body: std::ops::Range<usize>,
}

/// The leaf parts of a message in document order (not descending into attached messages).
pub(crate) fn leaves(raw: &[u8]) -> Vec<Leaf> {
    // Only the MIME headers matter here; skipping the others (Received, DKIM) halves the cost.
    let Some(parsed) = MessageParser::new()
        .with_mime_headers()
        .default_header_ignore()
        .parse(raw)
    else {
        return Vec::new();
    };
    parsed
        .parts
        .iter()
        .filter(|part| !matches!(part.body, PartType::Multipart(_)))
        .map(|part| {
            let mime_type = match part.content_type() {
                Some(ct) => {
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase()
                }
                None => "text/plain".to_string(),
            };
            let cte = part.content_transfer_encoding();
            Leaf {
                mime_type,
                encoding: TransferEncoding::from_header(cte),
                body: part.offset_body as usize..(part.offset_end as usize).min(raw.len()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_round_trips_text_and_respects_line_length() {
        let text = "Grüße aus Köln = 100 % \t\r\nzweite Zeile mit Leerzeichen am Ende   \r\n"
            .to_string()
            + &"x".repeat(200);
        let encoded = qp_encode(text.as_bytes(), Eol::Crlf);
        for line in encoded.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "{:?}", String::from_utf8_lossy(line));
        }
        assert_eq!(qp_decode(&encoded), text.as_bytes());
    }

    #[test]
    fn qp_decode_is_lenient() {
        assert_eq!(qp_decode(b"a=3Db=\r\nc =zz d=4"), b"a=bc =zz d=4");
        assert_eq!(qp_decode(b"soft= \r\nbreak"), b"softbreak");
    }

    #[test]
    fn base64_round_trips() {
        let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let encoded = base64_encode(&content, Eol::Crlf);
        assert!(encoded.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert_eq!(base64_decode(&encoded), content);
        assert_eq!(base64_decode(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8"), b"hello");
    }

    #[test]
    fn boundary_avoids_the_content() {
        let b = boundary_for(b"hello");
        let mut content = b"hello ".to_vec();
        content.extend_from_slice(b.as_bytes());
        let b2 = boundary_for(&content);
        assert!(!contains(&content, b2.as_bytes()));
        assert_eq!(boundary_for(b"same"), boundary_for(b"same"));
    }

    #[test]
    fn leaves_give_exact_body_ranges() {
        let raw = b"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\npreamble\r\n--B\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--B\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+\r\n--B--\r\n";
        let leaves = leaves(raw);
        assert_eq!(leaves.len(), 2);
        assert_eq!(leaves[0].mime_type, "text/plain");
        assert_eq!(&raw[leaves[0].body.clone()], b"first");
        assert_eq!(leaves[1].encoding, TransferEncoding::Base64);
        assert_eq!(&raw[leaves[1].body.clone()], b"PGI+");
    }
}
