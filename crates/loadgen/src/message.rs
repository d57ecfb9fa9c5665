//! The messages the generator sends: realistic list posts of a chosen size, each with its own
//! `Message-ID`.
//!
//! A post looks like what an MTA hands to a list server over LMTP: two `Received:` lines, a
//! DKIM signature, the usual author headers, and a plain-text body of ordinary lines. Only the
//! `Message-ID` and the `Subject` change from one message to the next, and both have a fixed
//! width, so every message of a run has exactly the configured size (unless the headers alone
//! are larger). No body line starts with a dot, but the client dot-stuffs anyway.
//!
//! This module does no I/O and reads no clock: the caller passes the date and the run token.
//! It does not vary content between messages beyond the ids (no MIME structure, no 8-bit
//! text); a benchmark of intake does not need more.

use std::io::Write;

/// What the generated messages look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSpec {
    /// Total size of each message in octets (header section and body, CRLF line ends).
    pub size: usize,
    /// The author, for `From:` (an address, without a display name).
    pub from: String,
    /// The list address, for `To:`.
    pub to: String,
    /// The date, already in RFC 5322 form (`Sat, 30 Nov 2026 02:15:57 +0000`).
    pub date: String,
    /// Makes Message-IDs unique across runs (for example the start time in hex).
    pub run_token: String,
}

/// Builds message number `seq` of connection `connection` into a reused buffer.
#[derive(Debug, Clone)]
pub struct MessageFactory {
    /// Everything before the `Message-ID:` line.
    head: Vec<u8>,
    /// Everything after the `Subject:` line: the remaining headers, the blank line, the body.
    tail: Vec<u8>,
    run_token: String,
    domain: String,
}

/// Width of the connection number in ids and subjects.
const CONNECTION_DIGITS: usize = 5;
/// Width of the message number in ids and subjects.
const SEQ_DIGITS: usize = 9;

/// The sentences body lines are made of (plain ASCII, none starting with a dot).
const TEXT: &[&str] = &[
    "Thanks for the quick review; I rebased the branch and the CI run is green again.",
    "The mirror in the second data centre lagged by about forty seconds during the backup.",
    "Could someone with access to the build farm restart the arm64 worker this afternoon?",
    "I read the proposal twice and I think the migration plan needs one more rollback step.",
    "Attached below are the numbers from last night, measured on the same machine as before.",
    "Please keep replies on the list so that the archive stays useful for the next person.",
];

impl MessageFactory {
    /// Prepares the parts shared by every message of `spec`.
    pub fn new(spec: &MessageSpec) -> MessageFactory {
        let domain = spec
            .from
            .rsplit_once('@')
            .map_or("loadgen.invalid", |(_, domain)| domain)
            .to_string();
        let mut head = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = write!(
            head,
            "Received: from mx.{domain} (mx.{domain} [192.0.2.25])\r\n\
             \tby lists.example.org (Postfix) with ESMTPS id 4Xk9Lm2Qz3z1Bq\r\n\
             \tfor <{to}>; {date}\r\n\
             Received: from [198.51.100.7] (unknown [198.51.100.7])\r\n\
             \tby mx.{domain} (Postfix) with ESMTPSA id 8C1F2A0E41\r\n\
             \tfor <{to}>; {date}\r\n\
             DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=mail;\r\n\
             \tt=1764468957; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n\
             \th=Date:From:To:Subject:Message-ID:MIME-Version:Content-Type;\r\n\
             \tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSwganVzdCBiYXNlNjQgb2YgdGhlIHJpZ2h0\r\n\
             \t IHNpemUgdG8gbWFrZSB0aGUgaGVhZGVyIHNlY3Rpb24gbG9vayBsaWtlIGEgcmVhbCBwb3N0IGZy\r\n\
             \t b20gYSBzaWduaW5nIGRvbWFpbiwgc28gdGhhdCBwYXJzaW5nIGNvc3RzIHdoYXQgaXQgY29zdHM=\r\n\
             Date: {date}\r\n",
            to = spec.to,
            date = spec.date,
        );
        let mut tail = Vec::new();
        let _ = write!(
            tail,
            "From: Load Generator <{from}>\r\n\
             To: {to}\r\n\
             MIME-Version: 1.0\r\n\
             User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0\r\n\
             Content-Language: en-US\r\n\
             Content-Type: text/plain; charset=UTF-8; format=flowed\r\n\
             Content-Transfer-Encoding: 7bit\r\n\
             \r\n",
            from = spec.from,
            to = spec.to,
        );
        let mut factory = MessageFactory {
            head,
            tail,
            run_token: spec.run_token.clone(),
            domain,
        };
        let fixed = factory.head.len() + factory.tail.len() + factory.variable_len();
        factory
            .tail
            .extend_from_slice(&body(spec.size.saturating_sub(fixed)));
        factory
    }

    /// The Message-ID of message `seq` of `connection`, without angle brackets.
    pub fn message_id(&self, connection: usize, seq: u64) -> String {
        format!(
            "{}.{connection:0cw$}.{seq:0sw$}@{}",
            self.run_token,
            self.domain,
            cw = CONNECTION_DIGITS,
            sw = SEQ_DIGITS
        )
    }

    /// Writes the message into `out` (cleared first) and returns its Message-ID.
    pub fn build(&self, connection: usize, seq: u64, out: &mut Vec<u8>) -> String {
        let id = self.message_id(connection, seq);
        out.clear();
        out.extend_from_slice(&self.head);
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "Message-ID: <{id}>\r\nSubject: [load] connection {connection:0cw$} message {seq:0sw$}\r\n",
            cw = CONNECTION_DIGITS,
            sw = SEQ_DIGITS
        );
        out.extend_from_slice(&self.tail);
        id
    }

    /// Length of the two lines that change per message (fixed, thanks to the fixed widths).
    fn variable_len(&self) -> usize {
        let id_len =
            self.run_token.len() + 1 + CONNECTION_DIGITS + 1 + SEQ_DIGITS + 1 + self.domain.len();
        let message_id = "Message-ID: <>\r\n".len() + id_len;
        let subject =
            "Subject: [load] connection  message \r\n".len() + CONNECTION_DIGITS + SEQ_DIGITS;
        message_id + subject
    }
}

/// A body of exactly `len` octets (when `len` allows a final CRLF), in lines of plain text.
fn body(len: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(len);
    let mut sentences = TEXT.iter().cycle();
    while body.len() + 2 < len {
        // `cycle` over a non-empty slice never ends.
        let sentence = sentences.next().map_or("", |s| s);
        let room = len - body.len() - 2;
        body.extend_from_slice(&sentence.as_bytes()[..sentence.len().min(room)]);
        body.extend_from_slice(b"\r\n");
    }
    if body.len() < len {
        // One or two octets left: blank line ends, so the size stays exact.
        body.extend_from_slice(&b"\r\n"[..len - body.len()]);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: usize) -> MessageSpec {
        MessageSpec {
            size,
            from: "poster@example.net".into(),
            to: "bench@lists.example.org".into(),
            date: "Sat, 30 Nov 2026 02:15:57 +0000".into(),
            run_token: "19ad3f0c2b1".into(),
        }
    }

    #[test]
    fn every_message_has_the_configured_size() {
        for size in [2048, 4096, 4097, 65536] {
            let factory = MessageFactory::new(&spec(size));
            let mut out = Vec::new();
            for (connection, seq) in [(0, 0), (15, 123_456), (99_999, 999_999_999)] {
                factory.build(connection, seq, &mut out);
                assert_eq!(out.len(), size, "size {size}, message {connection}/{seq}");
            }
        }
    }

    #[test]
    fn message_ids_are_unique_and_in_the_header() {
        let factory = MessageFactory::new(&spec(4096));
        let mut out = Vec::new();
        let a = factory.build(3, 7, &mut out);
        let text = String::from_utf8(out.clone()).expect("ASCII");
        assert!(text.contains(&format!("\r\nMessage-ID: <{a}>\r\n")));
        assert_eq!(a, "19ad3f0c2b1.00003.000000007@example.net");
        assert_ne!(a, factory.build(3, 8, &mut out));
        assert_ne!(a, factory.build(4, 7, &mut out));
    }

    #[test]
    fn lines_end_in_crlf_and_none_starts_with_a_dot() {
        let factory = MessageFactory::new(&spec(4096));
        let mut out = Vec::new();
        factory.build(1, 1, &mut out);
        assert!(out.ends_with(b"\r\n"));
        let text = String::from_utf8(out).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("a blank line");
        assert!(head.lines().any(|l| l.starts_with("From: ")));
        for line in text.split("\r\n") {
            assert!(
                !line.contains('\n') && !line.contains('\r'),
                "bare line end"
            );
            assert!(!line.starts_with('.'), "a line starts with a dot: {line:?}");
            assert!(line.len() <= 998, "line too long");
        }
        assert!(body.len() > 2000);
    }

    #[test]
    fn tiny_sizes_keep_the_headers_whole() {
        let factory = MessageFactory::new(&spec(10));
        let mut out = Vec::new();
        factory.build(0, 0, &mut out);
        assert!(out.len() > 10);
        assert!(out.ends_with(b"\r\n\r\n"));
    }
}
