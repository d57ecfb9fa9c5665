//! Where the returned original message starts inside a text part, so that nothing after it is
//! ever read as part of the report: [`report_text`] (and [`marker_offset`] on raw bytes, so
//! that a single-part bounce is not even parsed past it).
//!
//! Text bounces often quote the original inline after a separator line. The original can hold
//! anything: other addresses, a forwarded bounce, DSN fields. Every reader of a text part
//! (the text-form DSN fallback, the challenge check, the detectors) sees only what comes
//! before the first line that starts, after optional blanks and ignoring ASCII case, with:
//!
//! - two or more dashes, optional blanks, then a phrase naming the copy: `below this line`
//!   (qmail, Yahoo: `--- Below this line is a copy of the message.`), `this is a copy` (Exim),
//!   `original message`, `unsent message` (Sendmail), `start of returned`, `returned message`,
//!   `returned mail`, `forwarded message`, and the same in German, French, Spanish, Italian,
//!   Portuguese, Dutch and Polish (`Ursprüngliche Nachricht`, `Message d'origine`, `Mensaje
//!   original`, `Messaggio originale`, `Mensagem original`, `Oorspronkelijk bericht`,
//!   `Wiadomość oryginalna`);
//! - `Original message headers:` (Exchange) or `Original message follows`;
//! - a header field that only a message copy has at the start of a line: `Return-Path:`,
//!   `Received:`, `DKIM-Signature:`.
//!
//! The scan is a plain pass over the lines (no regex), so it costs next to nothing even on the
//! largest text part.

/// Phrases after a dashed separator.
const DASHED: [&str; 17] = [
    "below this line",
    "this is a copy",
    "original message",
    "unsent message",
    "start of returned",
    "returned message",
    "returned mail",
    "forwarded message",
    "ursprüngliche nachricht",
    "message d'origine",
    "message original",
    "mensaje original",
    "messaggio originale",
    "mensagem original",
    "oorspronkelijk bericht",
    "wiadomość oryginalna",
    "oryginalna wiadomość",
];

/// Line openings without dashes.
const PLAIN: [&str; 5] = [
    "original message headers:",
    "original message follows",
    "return-path:",
    "received:",
    "dkim-signature:",
];

/// `text` up to the first line that starts the returned original message.
pub(crate) fn report_text(text: &str) -> &str {
    // Marker lines start at a line start, which is always a char boundary.
    &text[..marker_offset(text.as_bytes()).unwrap_or(text.len())]
}

/// The offset of the first line of `bytes` that starts the returned original message.
pub(crate) fn marker_offset(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        if is_marker(&bytes[start..end]) {
            return Some(start);
        }
        start = end + 1;
    }
    None
}

fn is_marker(line: &[u8]) -> bool {
    let t = trim_blanks(line);
    if t.starts_with(b"--") {
        let rest = trim_blanks(&t[t.iter().take_while(|&&c| c == b'-').count()..]);
        return DASHED.iter().any(|p| starts_with_ci(rest, p));
    }
    PLAIN.iter().any(|p| starts_with_ci(t, p))
}

fn trim_blanks(line: &[u8]) -> &[u8] {
    &line[line
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count()..]
}

fn starts_with_ci(line: &[u8], lower: &str) -> bool {
    line.len() >= lower.len() && line[..lower.len()].eq_ignore_ascii_case(lower.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_the_first_copy_marker() {
        for (text, kept) in [
            (
                "report\n--- Below this line is a copy of the message.\nTo: x@example.org\n",
                "report\n",
            ),
            (
                "report\r\n------ This is a copy of the message, including all the headers. ------\r\n",
                "report\r\n",
            ),
            ("report\n   ----- Original message -----\n", "report\n"),
            (
                "report\nOriginal message headers:\n\nReceived: x\n",
                "report\n",
            ),
            (
                "report\nReturn-Path: <ant-bounces@lists.example.org>\n",
                "report\n",
            ),
            ("report\nRECEIVED: from mx.example.org\n", "report\n"),
            (
                "report\n-------- Ursprüngliche Nachricht --------\n",
                "report\n",
            ),
            ("report\n----- Message d'origine -----\n", "report\n"),
            (
                "report\n   ----- Transcript of session follows -----\nmore\n",
                "report\n   ----- Transcript of session follows -----\nmore\n",
            ),
            (
                "a line that mentions the original message headers:\n",
                "a line that mentions the original message headers:\n",
            ),
            ("no marker at all", "no marker at all"),
            ("Received: from mx.example.org\n", ""),
            ("", ""),
        ] {
            assert_eq!(report_text(text), kept, "{text:?}");
        }
    }
}
