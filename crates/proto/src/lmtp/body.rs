//! The message content of one transaction: its checks, its optional normalisation, and the
//! buffer the shell may drain while the message is still arriving.
//!
//! Content comes in already dot-unstuffed (DATA) or raw (BDAT). This module counts every
//! octet as it will be stored (taken by the shell or not), and notes the first reasons to
//! refuse the message: too big, a line too long, a NUL, a bare CR or LF (unless accepted).
//! Once a message is known to be refused, nothing more is buffered: memory stays bounded
//! however much the client sends. It does not know about dots, commands or replies.

use memchr::{memchr3, memchr3_iter};

use super::config::{BareLineEndings, Config};
use crate::Reply;

/// Why the session refuses a message at the end of data, in order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Refusal {
    TooBig,
    LineTooLong,
    Nul,
    BareLineEnding,
}

impl Refusal {
    /// The reply each accepted recipient gets.
    pub(crate) fn reply(self) -> Reply {
        match self {
            Refusal::TooBig => Reply::message_too_big(),
            Refusal::LineTooLong => Reply::data_line_too_long(),
            Refusal::Nul => Reply::nul_in_message(),
            Refusal::BareLineEnding => Reply::bare_line_ending(),
        }
    }
}

/// The body of the message being received.
#[derive(Debug)]
pub(crate) struct Body {
    id: u64,
    buffer: Vec<u8>,
    /// Octets of the stored form so far, including those the shell took.
    size: u64,
    /// Octets of the current line so far, line end included once seen.
    line_len: usize,
    /// The last content byte was a CR whose follower is not known yet.
    pending_cr: bool,
    refusal: Option<Refusal>,
    accept_bare: bool,
    max_size: u64,
    max_line: usize,
}

impl Body {
    /// An empty body with the session-unique `id`.
    pub(crate) fn new(id: u64, config: &Config) -> Body {
        Body {
            id,
            buffer: Vec::new(),
            size: 0,
            line_len: 0,
            pending_cr: false,
            refusal: None,
            accept_bare: config.bare_line_endings == BareLineEndings::Accept,
            max_size: config.max_message_size,
            max_line: config.max_line_length,
        }
    }

    /// The session-unique number of this body.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Octets buffered now (not yet taken).
    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Total octets of the stored form so far, taken or not.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Drains the buffer.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    /// Adds content bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let plain = self.plain_lines(bytes);
        self.buffer.extend_from_slice(&bytes[..plain]);
        self.push_each(&bytes[plain..]);
    }

    /// Accounts for the longest prefix of `bytes` made of whole CRLF-ended lines with nothing
    /// to refuse (no bare CR or LF, no NUL, within the line and size limits) and returns its
    /// length; the caller stores those bytes unchanged, as [`Body::push_each`] would, in one
    /// copy. Returns 0 while a CR is pending or once the message is refused.
    fn plain_lines(&mut self, bytes: &[u8]) -> usize {
        if self.pending_cr
            || self.refusal.is_some()
            || self.size.saturating_add(bytes.len() as u64) > self.max_size
        {
            return 0;
        }
        let mut line_start = 0;
        let mut line_len = self.line_len;
        for hit in memchr3_iter(b'\r', b'\n', 0, bytes) {
            if hit < line_start {
                // The LF of a CRLF already taken.
                continue;
            }
            if bytes[hit] != b'\r' || bytes.get(hit + 1) != Some(&b'\n') {
                break;
            }
            let line_end = hit + 2;
            line_len += line_end - line_start;
            if line_len > self.max_line {
                break;
            }
            line_len = 0;
            line_start = line_end;
        }
        if line_start > 0 {
            self.line_len = 0;
            self.size += line_start as u64;
        }
        line_start
    }

    /// Adds content bytes one line ending at a time: every check, every normalisation.
    fn push_each(&mut self, mut bytes: &[u8]) {
        while let Some((&first, tail)) = bytes.split_first() {
            if self.pending_cr {
                self.pending_cr = false;
                if first == b'\n' {
                    self.line_end(b"\r\n");
                    bytes = tail;
                } else {
                    // Reprocess `first`: it may itself be a CR.
                    self.bare_cr();
                }
                continue;
            }
            let Some(pos) = memchr3(b'\r', b'\n', 0, bytes) else {
                self.text(bytes);
                return;
            };
            self.text(&bytes[..pos]);
            match bytes[pos] {
                b'\r' => self.pending_cr = true,
                b'\n' => self.bare_lf(),
                _ => {
                    self.refuse(Refusal::Nul);
                    self.text(&[0]);
                }
            }
            bytes = &bytes[pos + 1..];
        }
    }

    /// Ends the content: a trailing CR is bare. Returns the reason to refuse, if any.
    pub(crate) fn finish(&mut self) -> Option<Refusal> {
        if self.pending_cr {
            self.pending_cr = false;
            self.bare_cr();
        }
        self.refusal
    }

    /// Consumes the body, returning what is still buffered.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }

    fn text(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.count(bytes.len());
        if self.refusal.is_none() {
            self.buffer.extend_from_slice(bytes);
        }
    }

    fn line_end(&mut self, ending: &[u8]) {
        self.text(ending);
        self.line_len = 0;
    }

    fn bare_lf(&mut self) {
        if self.accept_bare {
            self.line_end(b"\r\n");
        } else {
            self.refuse(Refusal::BareLineEnding);
            self.line_end(b"\n");
        }
    }

    fn bare_cr(&mut self) {
        if self.accept_bare {
            self.line_end(b"\r\n");
        } else {
            self.refuse(Refusal::BareLineEnding);
            self.text(b"\r");
        }
    }

    fn count(&mut self, len: usize) {
        self.size = self.size.saturating_add(len as u64);
        self.line_len = self.line_len.saturating_add(len);
        if self.size > self.max_size {
            self.refuse(Refusal::TooBig);
        }
        if self.line_len > self.max_line {
            self.refuse(Refusal::LineTooLong);
        }
    }

    /// Notes a reason to refuse; the highest-precedence reason wins. Stops buffering.
    fn refuse(&mut self, refusal: Refusal) {
        self.refusal = Some(self.refusal.map_or(refusal, |old| old.min(refusal)));
        self.buffer = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(bare: BareLineEndings) -> Config {
        Config {
            max_message_size: 20,
            max_line_length: 8,
            bare_line_endings: bare,
            ..Config::default()
        }
    }

    /// Pushes `input` in pieces of `step` bytes; returns the buffer and the refusal.
    fn run(input: &[u8], bare: BareLineEndings, step: usize) -> (Vec<u8>, u64, Option<Refusal>) {
        let mut body = Body::new(1, &config(bare));
        for piece in input.chunks(step) {
            body.push(piece);
        }
        let refusal = body.finish();
        let size = body.size();
        (body.into_buffer(), size, refusal)
    }

    fn check(input: &[u8], bare: BareLineEndings, want: (&[u8], Option<Refusal>)) {
        for step in 1..=input.len() {
            let (buffer, size, refusal) = run(input, bare, step);
            assert_eq!((buffer.as_slice(), refusal), want, "{input:?} step {step}");
            if refusal.is_none() {
                assert_eq!(size, buffer.len() as u64);
            }
        }
    }

    #[test]
    fn clean_content_passes_through() {
        check(
            b"ab\r\ncd\r\n",
            BareLineEndings::Reject,
            (b"ab\r\ncd\r\n", None),
        );
    }

    #[test]
    fn bare_endings_are_refused_by_default() {
        use BareLineEndings::Reject;
        check(b"a\nb\r\n", Reject, (b"", Some(Refusal::BareLineEnding)));
        check(b"a\rb\r\n", Reject, (b"", Some(Refusal::BareLineEnding)));
        check(b"a\r", Reject, (b"", Some(Refusal::BareLineEnding)));
    }

    #[test]
    fn bare_endings_become_crlf_when_accepted() {
        use BareLineEndings::Accept;
        check(b"a\nb\rc\r\r\n", Accept, (b"a\r\nb\r\nc\r\n\r\n", None));
        check(b"a\r", Accept, (b"a\r\n", None));
    }

    #[test]
    fn limits_and_precedence() {
        use BareLineEndings::Reject;
        // Line of 9 octets with its CRLF: over the 8-octet limit.
        check(b"1234567\r\n", Reject, (b"", Some(Refusal::LineTooLong)));
        check(b"123456\r\n", Reject, (b"123456\r\n", None));
        check(b"a\0\r\n", Reject, (b"", Some(Refusal::Nul)));
        check(b"a\0\n", Reject, (b"", Some(Refusal::Nul)));
        let big = b"123\r\n123\r\n123\r\n123\r\n123\r\n";
        check(big, Reject, (b"", Some(Refusal::TooBig)));
    }

    /// The one-copy path for plain lines changes nothing: same bytes, size and refusal as
    /// adding every line ending one at a time, however the input is split.
    #[test]
    fn plain_lines_agree_with_one_at_a_time() {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![&b"ab"[..], b"\r\n", b"\r", b"\n", b"\0", b"x"]);
        let input = prop::collection::vec(piece, 0..24).prop_map(|p| p.concat());
        let splits = prop::collection::vec(1usize..8, 1..8);
        let bare = prop::sample::select(vec![BareLineEndings::Reject, BareLineEndings::Accept]);
        proptest!(|(input in input, splits in splits, bare in bare)| {
            let (mut fast, mut slow) = (Body::new(1, &config(bare)), Body::new(1, &config(bare)));
            let mut rest = &input[..];
            for step in splits.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, tail) = rest.split_at((*step).min(rest.len()));
                fast.push(piece);
                slow.push_each(piece);
                rest = tail;
            }
            prop_assert_eq!(fast.finish(), slow.finish());
            prop_assert_eq!(fast.size(), slow.size());
            prop_assert_eq!(fast.into_buffer(), slow.into_buffer());
        });
    }

    #[test]
    fn size_counts_taken_octets() {
        let mut body = Body::new(1, &config(BareLineEndings::Reject));
        body.push(b"1234\r\n");
        assert_eq!(body.take(), b"1234\r\n");
        body.push(b"1234\r\n");
        assert_eq!(body.buffered(), 6);
        assert_eq!(body.size(), 12);
        body.push(b"1234\r\n");
        assert_eq!(body.size(), 18);
        body.push(b"1234\r\n");
        assert_eq!(body.finish(), Some(Refusal::TooBig));
        assert_eq!(body.buffered(), 0);
    }
}
