//! End-of-data detection and dot-unstuffing for DATA (RFC 5321 §4.5.2).
//!
//! Only `<CR><LF>.<CR><LF>` ends data. The CRLF that ended the DATA command line counts as
//! the first CRLF, so an empty message is just `.<CR><LF>`. A line that starts (after a CRLF)
//! with a dot followed by anything else loses that dot. Every other byte is content, passed
//! on unchanged: `<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CR><LF>`, `<CR><LF>.<LF>` and
//! `<CR><LF>.<CR><CR><LF>` are content, never an end (no SMTP smuggling).
//!
//! This module does not judge content (bare CR/LF, NUL, sizes); `body` does that. It keeps
//! no buffer: its whole state is which of five positions in a line it is at.

use memchr::memchr;

/// Where the decoder is relative to the line structure of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Just after a CRLF (or at the start of data): a dot here is special.
    LineStart,
    /// A dot was seen at `LineStart`; it is withheld.
    Dot,
    /// `.` then CR were seen at `LineStart`; both are withheld.
    DotCr,
    /// Inside a line.
    Text,
    /// Inside a line, just after a CR.
    Cr,
}

/// Incremental DATA decoder: feed it raw bytes, it hands out content and finds the end.
#[derive(Debug)]
pub(crate) struct DotDecoder {
    state: State,
}

impl DotDecoder {
    /// A decoder positioned just after the CRLF of the DATA command.
    pub(crate) fn new() -> DotDecoder {
        DotDecoder {
            state: State::LineStart,
        }
    }

    /// Decodes as much of `input` as possible, passing content (in order) to `content`.
    ///
    /// Returns the number of bytes consumed and whether the end of data was reached. Without
    /// an end, all of `input` is consumed; with one, the bytes after it are left for the caller.
    pub(crate) fn decode(&mut self, input: &[u8], mut content: impl FnMut(&[u8])) -> (usize, bool) {
        let mut idx = 0;
        // Start of a run of input bytes that are content and not yet passed on.
        let mut run_start = 0;
        while idx < input.len() {
            let byte = input[idx];
            match self.state {
                State::Text => match memchr(b'\r', &input[idx..]) {
                    Some(offset) => {
                        idx += offset + 1;
                        self.state = State::Cr;
                    }
                    None => idx = input.len(),
                },
                State::Cr => {
                    idx += 1;
                    self.state = match byte {
                        b'\n' => State::LineStart,
                        b'\r' => State::Cr,
                        _ => State::Text,
                    };
                }
                State::LineStart => {
                    idx += 1;
                    self.state = match byte {
                        b'.' => {
                            content(&input[run_start..idx - 1]);
                            run_start = idx;
                            State::Dot
                        }
                        b'\r' => State::Cr,
                        _ => State::Text,
                    };
                }
                State::Dot => {
                    idx += 1;
                    if byte == b'\r' {
                        run_start = idx;
                        self.state = State::DotCr;
                    } else {
                        // A stuffed dot: it is dropped, and `byte` starts the content.
                        self.state = State::Text;
                    }
                }
                State::DotCr => {
                    if byte == b'\n' {
                        return (idx + 1, true);
                    }
                    // `.<CR>` followed by something else: the dot was stuffing, the CR content.
                    content(b"\r");
                    run_start = idx;
                    idx += 1;
                    self.state = if byte == b'\r' {
                        State::Cr
                    } else {
                        State::Text
                    };
                }
            }
        }
        content(&input[run_start..]);
        (input.len(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::DotDecoder;

    /// Decodes `input` fed in pieces of `step` bytes; returns content and the bytes left over.
    fn decode(input: &[u8], step: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut decoder = DotDecoder::new();
        let mut content = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            let (used, done) = decoder.decode(&input[pos..end], |c| content.extend_from_slice(c));
            pos += used;
            if done {
                return Some((content, input[pos..].to_vec()));
            }
        }
        None
    }

    fn check(input: &str, expected: Option<(&str, &str)>) {
        for step in 1..=input.len().max(1) {
            let got = decode(input.as_bytes(), step);
            let want = expected.map(|(c, r)| (c.as_bytes().to_vec(), r.as_bytes().to_vec()));
            assert_eq!(got, want, "input {input:?} split every {step} bytes");
        }
    }

    #[test]
    fn empty_message() {
        check(".\r\nNOOP\r\n", Some(("", "NOOP\r\n")));
    }

    #[test]
    fn unstuffing() {
        check(
            "a\r\n..b\r\n.c\r\n..\r\n\r\n.\r\n",
            Some(("a\r\n.b\r\nc\r\n.\r\n\r\n", "")),
        );
    }

    #[test]
    fn smuggling_sequences_are_content() {
        for body in ["a\n.\nb", "a\r.\rb", "a\n.\r\nb", "a\r\n.\nb", "a\r.\r\nb"] {
            let input = format!("{body}\r\n.\r\nX");
            let decoded = decode(input.as_bytes(), input.len()).unwrap();
            assert_eq!(decoded.1, b"X", "{body:?}");
            assert!(decoded.0.ends_with(b"b\r\n"), "{body:?}");
        }
        // `.<CR><CR><LF>` is a line of its own: the dot is stuffing, the CRs are content.
        check("a\r\n.\r\r\nb\r\n.\r\n", Some(("a\r\n\r\r\nb\r\n", "")));
    }

    #[test]
    fn dot_cr_then_text_keeps_the_cr() {
        check(".\rx\r\n.\r\n", Some(("\rx\r\n", "")));
    }

    #[test]
    fn no_end_without_crlf_dot_crlf() {
        check("a\r\n.", None);
        check("a\r\n.\r", None);
        check("a\n.\n", None);
    }
}
