//! The message body on the wire: CRLF normalisation, dot-stuffing and the end-of-data marker,
//! produced on the fly in bounded pieces.
//!
//! Line ends are normalised exactly as Python's smtplib does for Mailman (`_fix_eols`): CRLF
//! stays, and a bare LF or a bare CR each become CRLF, so no stray CR or LF is ever forwarded
//! (protocols.md §5.4: a client that forwards them can smuggle a second message past the next
//! server). For DATA, every line starting with `.` gets a second `.` (RFC 5321 §4.5.2), a body
//! that does not end with a line end gets one, and `.` CRLF follows in the same piece as the last
//! body bytes, so that the terminator never travels in a segment of its own (the delayed-ACK
//! stall that cost mlmmj 443 s). For BDAT the same normalisation applies without stuffing or
//! terminator, and [`encoded_len`] gives the exact octet count the BDAT command announces.
//!
//! What this module does not do: it does not look at headers or MIME structure, fold long lines
//! or re-encode 8-bit content.

use memchr::memchr2;

/// How the body is framed after the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `DATA`: dot-stuffed, ended by `.` CRLF.
    Data,
    /// `BDAT <n> LAST`: normalised, not stuffed, no terminator.
    Bdat,
}

/// Where the encoder stands in a body that is encoded piece by piece.
#[derive(Debug, Clone)]
pub(crate) struct BodyEncoder {
    framing: Framing,
    pos: usize,
    line_start: bool,
    finished: bool,
}

impl BodyEncoder {
    /// An encoder at the start of a body.
    pub(crate) fn new(framing: Framing) -> BodyEncoder {
        BodyEncoder {
            framing,
            pos: 0,
            line_start: true,
            finished: false,
        }
    }

    /// Appends the next piece of the encoded `body` to `out`, about `budget` octets (a piece
    /// can exceed it by the few octets of a line end, a stuffed dot and the terminator).
    /// Returns `true` once the whole body, and for DATA the terminator, has been appended.
    pub(crate) fn encode_piece(&mut self, body: &[u8], budget: usize, out: &mut Vec<u8>) -> bool {
        if !self.finished {
            let stuff = self.framing == Framing::Data;
            encode(
                body,
                &mut self.pos,
                &mut self.line_start,
                stuff,
                budget,
                out,
            );
            if self.pos == body.len() {
                if !self.line_start {
                    out.extend_from_slice(b"\r\n");
                    self.line_start = true;
                }
                if stuff {
                    out.extend_from_slice(b".\r\n");
                }
                self.finished = true;
            }
        }
        self.finished
    }
}

/// The number of octets `BDAT` must announce for `body`: the normalised body, with a final line
/// end added when missing.
pub(crate) fn encoded_len(body: &[u8]) -> usize {
    let mut counter = Counter(0);
    let (mut pos, mut line_start) = (0, true);
    encode(
        body,
        &mut pos,
        &mut line_start,
        false,
        usize::MAX,
        &mut counter,
    );
    counter.0 + if line_start { 0 } else { 2 }
}

/// Where encoded octets go: a buffer, or a counter.
trait Output {
    fn put(&mut self, bytes: &[u8]);
    fn produced(&self) -> usize;
}

impl Output for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn produced(&self) -> usize {
        self.len()
    }
}

struct Counter(usize);

impl Output for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    fn produced(&self) -> usize {
        self.0
    }
}

/// Encodes `body[*pos..]` into `out` until `budget` more octets were produced or the body ends.
fn encode<O: Output>(
    body: &[u8],
    pos: &mut usize,
    line_start: &mut bool,
    stuff: bool,
    budget: usize,
    out: &mut O,
) {
    let limit = out.produced().saturating_add(budget);
    while *pos < body.len() && out.produced() < limit {
        let rest = &body[*pos..];
        if *line_start {
            *line_start = false;
            if stuff && rest[0] == b'.' {
                out.put(b".");
            }
        }
        let room = limit - out.produced();
        match memchr2(b'\r', b'\n', rest) {
            Some(end) if end <= room => {
                out.put(&rest[..end]);
                out.put(b"\r\n");
                let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
                *pos += end + if crlf { 2 } else { 1 };
                *line_start = true;
            }
            found => {
                // The line goes on past this piece (or past the body): emit what fits.
                let take = found.unwrap_or(rest.len()).min(room.max(1));
                out.put(&rest[..take]);
                *pos += take;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn whole(body: &[u8], framing: Framing) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(BodyEncoder::new(framing).encode_piece(body, usize::MAX, &mut out));
        out
    }

    #[test]
    fn data_framing_cases() {
        let cases: [(&[u8], &[u8]); 10] = [
            (b"", b".\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"a\r\n.b\r\n..c\r\n", b"a\r\n..b\r\n...c\r\n.\r\n"),
            (b"bare\nlf\n.x\n", b"bare\r\nlf\r\n..x\r\n.\r\n"),
            (b"bare\rcr\r.x", b"bare\r\ncr\r\n..x\r\n.\r\n"),
            (b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n"),
            (
                b"smuggle\n.\nMAIL FROM:<x>\r\n",
                b"smuggle\r\n..\r\nMAIL FROM:<x>\r\n.\r\n",
            ),
        ];
        for (body, wire) in cases {
            assert_eq!(
                whole(body, Framing::Data),
                wire,
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn bdat_framing_normalises_without_stuffing() {
        assert_eq!(whole(b".a\nb\r", Framing::Bdat), b".a\r\nb\r\n");
        assert_eq!(whole(b"", Framing::Bdat), b"");
        assert_eq!(encoded_len(b".a\nb\r"), 7);
        assert_eq!(encoded_len(b"abc"), 5);
        assert_eq!(encoded_len(b""), 0);
    }

    /// Undoes DATA framing the way a receiving server does.
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("terminator");
        let mut out = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    fn normalise(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < body.len() {
            match body[i] {
                b'\r' if body.get(i + 1) == Some(&b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    i += 2;
                    continue;
                }
                b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
            i += 1;
        }
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    proptest! {
        #[test]
        fn pieces_concatenate_to_the_whole(
            body in proptest::collection::vec(prop::sample::select(b"ab.\r\n".to_vec()), 0..200),
            budget in 1usize..40,
        ) {
            for framing in [Framing::Data, Framing::Bdat] {
                let mut encoder = BodyEncoder::new(framing);
                let mut out = Vec::new();
                let mut pieces = 0;
                loop {
                    let before = out.len();
                    let done = encoder.encode_piece(&body, budget, &mut out);
                    prop_assert!(out.len() - before <= budget + 6);
                    pieces += 1;
                    prop_assert!(pieces <= body.len() + 2);
                    if done { break; }
                }
                prop_assert_eq!(&out, &whole(&body, framing));
            }
        }

        #[test]
        fn wire_form_is_clean_and_round_trips(
            body in proptest::collection::vec(prop::sample::select(b"ab.\r\n".to_vec()), 0..200),
        ) {
            let wire = whole(&body, Framing::Data);
            // No bare CR or LF anywhere, and the only end-of-data marker is the last one.
            for (i, &b) in wire.iter().enumerate() {
                if b == b'\r' { prop_assert_eq!(wire.get(i + 1), Some(&b'\n')); }
                if b == b'\n' { prop_assert!(i > 0 && wire[i - 1] == b'\r'); }
            }
            let marker = memchr::memmem::find(&wire, b"\r\n.\r\n");
            prop_assert!(marker.is_none() || marker == Some(wire.len() - 5));
            prop_assert!(!wire.starts_with(b".\r\n") || wire.len() == 3);
            prop_assert_eq!(unstuff(&wire), normalise(&body));
            let bdat = whole(&body, Framing::Bdat);
            prop_assert_eq!(bdat.len(), encoded_len(&body));
            prop_assert_eq!(bdat, normalise(&body));
        }
    }
}
