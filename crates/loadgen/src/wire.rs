//! The client's side of the LMTP wire, without I/O: the commands it writes, the dot-stuffed
//! body, and the server's replies parsed one at a time.
//!
//! Reply parsing is smtp-proto's `ResponseReceiver`; [`ReplyReader`] keeps the bytes after the
//! last complete reply for the next call, because a server answering pipelined commands (and
//! LMTP's one reply per recipient after the data) often sends several replies in one segment.
//! Nothing here knows which reply answers which command: that is `client`'s job.

use std::fmt;

use smtp_proto::response::parser::ResponseReceiver;

/// One complete server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code (`[class, subject, detail]`), when the reply had one.
    pub enhanced: Option<[u8; 3]>,
    /// The text after the code(s); the lines of a multi-line reply are joined by `\n`.
    pub text: String,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The queue id a server names in its acknowledgement (`250 2.0.0 Ok: queued as ID`, as
    /// mailcast and Postfix say it), if the text has one.
    pub fn queue_id(&self) -> Option<&str> {
        let (_, rest) = self.text.split_once("queued as ")?;
        rest.split_whitespace().next()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some([class, subject, detail]) = self.enhanced {
            write!(f, " {class}.{subject}.{detail}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text.replace('\n', " / "))?;
        }
        Ok(())
    }
}

/// What the server offered in its LHLO reply, as far as the client cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// PIPELINING (mandatory in LMTP, but a client does not rely on it).
    pub pipelining: bool,
    /// SIZE: the client then declares each message's size in MAIL FROM.
    pub size: bool,
}

impl Capabilities {
    /// Reads the keywords of an LHLO reply's text (first line: the server's name).
    pub fn parse(text: &str) -> Capabilities {
        let mut capabilities = Capabilities::default();
        for line in text.lines().skip(1) {
            let keyword = line.split_whitespace().next().unwrap_or("");
            if keyword.eq_ignore_ascii_case("PIPELINING") {
                capabilities.pipelining = true;
            } else if keyword.eq_ignore_ascii_case("SIZE") {
                capabilities.size = true;
            }
        }
        capabilities
    }
}

/// Buffered server input and the reply parser.
#[derive(Default)]
pub struct ReplyReader {
    input: Vec<u8>,
    start: usize,
    receiver: ResponseReceiver,
}

impl ReplyReader {
    /// Buffers bytes read from the server.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The next complete reply, `Ok(None)` when more bytes are needed, or why the bytes are
    /// not a reply.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, String> {
        if self.start == self.input.len() {
            return Ok(None);
        }
        let mut bytes = self.input[self.start..].iter();
        let before = bytes.len();
        let parsed = self.receiver.parse(&mut bytes);
        self.start += before - bytes.len();
        match parsed {
            Ok(response) => {
                self.receiver.reset();
                if !(200..600).contains(&response.code) {
                    return Err(format!("reply code {} out of range", response.code));
                }
                let enhanced = (response.esc != [0, 0, 0]).then_some(response.esc);
                Ok(Some(Reply {
                    code: response.code,
                    enhanced,
                    text: response.message,
                }))
            }
            Err(smtp_proto::Error::NeedsMoreData { .. }) => Ok(None),
            Err(error) => Err(format!("unparsable reply: {error:?}")),
        }
    }
}

/// `LHLO name`.
pub fn lhlo(out: &mut Vec<u8>, name: &str) {
    line(out, &["LHLO ", name]);
}

/// `MAIL FROM:<path>`, with `SIZE=` when the server offered SIZE.
pub fn mail_from(out: &mut Vec<u8>, path: &str, size: Option<usize>) {
    match size {
        Some(size) => line(out, &["MAIL FROM:<", path, "> SIZE=", &size.to_string()]),
        None => line(out, &["MAIL FROM:<", path, ">"]),
    }
}

/// `RCPT TO:<path>`.
pub fn rcpt_to(out: &mut Vec<u8>, path: &str) {
    line(out, &["RCPT TO:<", path, ">"]);
}

/// `DATA`.
pub fn data(out: &mut Vec<u8>) {
    out.extend_from_slice(b"DATA\r\n");
}

/// `RSET`.
pub fn rset(out: &mut Vec<u8>) {
    out.extend_from_slice(b"RSET\r\n");
}

/// `QUIT`.
pub fn quit(out: &mut Vec<u8>) {
    out.extend_from_slice(b"QUIT\r\n");
}

/// Appends `message` dot-stuffed (RFC 5321 §4.5.2), a CRLF if it does not end with one, and
/// the end of data `.` line.
pub fn body(out: &mut Vec<u8>, message: &[u8]) {
    out.reserve(message.len() + 5);
    let mut at_line_start = true;
    let mut rest = message;
    while !rest.is_empty() {
        if at_line_start && rest[0] == b'.' {
            out.push(b'.');
        }
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        out.extend_from_slice(&rest[..end]);
        at_line_start = rest[end - 1] == b'\n';
        rest = &rest[end..];
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

fn line(out: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]]) -> Vec<Reply> {
        let mut reader = ReplyReader::default();
        let mut replies = Vec::new();
        for chunk in chunks {
            reader.push(chunk);
            while let Some(reply) = reader.next_reply().expect("valid replies") {
                replies.push(reply);
            }
        }
        replies
    }

    #[test]
    fn replies_split_at_every_byte_boundary() {
        let wire: &[u8] =
            b"250 2.1.0 Ok\r\n550-5.1.1 No such\r\n550 5.1.1 list\r\n354 Go ahead\r\n\
            250 2.0.0 Ok: queued as 019ad3f0c2b1d-5e2a9c01\r\n";
        let expected = read_all(&[wire]);
        assert_eq!(expected.len(), 4);
        assert_eq!(expected[1].code, 550);
        assert_eq!(expected[1].text, "No such\nlist");
        assert_eq!(expected[2].enhanced, None);
        assert_eq!(expected[3].queue_id(), Some("019ad3f0c2b1d-5e2a9c01"));
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(read_all(&[a, b]), expected, "split at {split}");
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(read_all(&bytes), expected);
    }

    #[test]
    fn garbage_is_not_a_reply() {
        let mut reader = ReplyReader::default();
        reader.push(b"hello there\r\n");
        assert!(reader.next_reply().is_err());
        let mut reader = ReplyReader::default();
        reader.push(b"150 odd\r\n");
        assert!(reader.next_reply().is_err());
    }

    #[test]
    fn queue_ids_are_read_from_the_usual_texts() {
        let reply = |text: &str| Reply {
            code: 250,
            enhanced: Some([2, 0, 0]),
            text: text.into(),
        };
        assert_eq!(reply("Ok: queued as 4Xk9Lm").queue_id(), Some("4Xk9Lm"));
        assert_eq!(reply("Ok: queued as 17").queue_id(), Some("17"));
        assert_eq!(reply("<a@b> Delivered").queue_id(), None);
        assert_eq!(
            reply("Ok: queued as 17").to_string(),
            "250 2.0.0 Ok: queued as 17"
        );
    }

    #[test]
    fn capabilities_come_from_the_keyword_lines() {
        let caps = Capabilities::parse("lists.example.org\nPIPELINING\nSIZE 33554432\n8BITMIME");
        assert_eq!(
            caps,
            Capabilities {
                pipelining: true,
                size: true
            }
        );
        // The first line is the server's name, even if it looks like a keyword.
        assert_eq!(
            Capabilities::parse("PIPELINING\nENHANCEDSTATUSCODES"),
            Capabilities::default()
        );
    }

    #[test]
    fn body_is_dot_stuffed_and_terminated() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
            (b".a\r\n..b\r\nc.\r\n", b"..a\r\n...b\r\nc.\r\n.\r\n"),
            (b"no final line end", b"no final line end\r\n.\r\n"),
            (b"x\r\n.", b"x\r\n..\r\n.\r\n"),
            (b"", b".\r\n"),
        ];
        for (message, wire) in cases {
            let mut out = Vec::new();
            body(&mut out, message);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(wire),
                "for {:?}",
                String::from_utf8_lossy(message)
            );
        }
    }

    #[test]
    fn commands_are_single_crlf_lines() {
        let mut out = Vec::new();
        mail_from(&mut out, "a@example.net", Some(4096));
        rcpt_to(&mut out, "bench@lists.example.org");
        data(&mut out);
        assert_eq!(
            out,
            b"MAIL FROM:<a@example.net> SIZE=4096\r\nRCPT TO:<bench@lists.example.org>\r\nDATA\r\n"
        );
    }
}
