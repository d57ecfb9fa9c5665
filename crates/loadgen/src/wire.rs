//! The client's side of the LMTP wire, without I/O: the commands it writes, the dot-stuffed
//! body, and the server's replies parsed one at a time.
//!
//! Replies, their reader and the LHLO capabilities are the outbound crate's (the same parsing
//! as mailcast's own SMTP client); this module adds the queue id of an acknowledgement.
//! Nothing here knows which reply answers which command: that is `client`'s job.

pub use mailcast_outbound::Reply;
pub use mailcast_outbound::protocol::{Capabilities, ReplyReader};

/// The queue id a server names in its acknowledgement (`250 2.0.0 Ok: queued as ID`, as
/// mailcast and Postfix say it), if the text has one.
pub fn queue_id(reply: &Reply) -> Option<&str> {
    let (_, rest) = reply.text.split_once("queued as ")?;
    rest.split_whitespace().next()
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
    use mailcast_outbound::EnhancedCode;

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
        assert_eq!(queue_id(&expected[3]), Some("019ad3f0c2b1d-5e2a9c01"));
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
        let reply = |text: &str| Reply::new(250, Some(EnhancedCode::new(2, 0, 0)), text);
        assert_eq!(queue_id(&reply("Ok: queued as 4Xk9Lm")), Some("4Xk9Lm"));
        assert_eq!(queue_id(&reply("Ok: queued as 17")), Some("17"));
        assert_eq!(queue_id(&reply("<a@b> Delivered")), None);
        assert_eq!(
            reply("Ok: queued as 17").to_string(),
            "250 2.0.0 Ok: queued as 17"
        );
    }

    #[test]
    fn capabilities_come_from_the_keyword_lines() {
        let caps = Capabilities::parse("lists.example.org\nPIPELINING\nSIZE 33554432\n8BITMIME");
        assert!(caps.pipelining);
        assert_eq!(caps.size, Some(33554432));
        // The first line is the server's name, even if it looks like a keyword.
        let caps = Capabilities::parse("PIPELINING\nENHANCEDSTATUSCODES");
        assert!(!caps.pipelining);
        assert!(caps.enhanced_status_codes);
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
