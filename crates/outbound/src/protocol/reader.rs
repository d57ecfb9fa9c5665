//! Turns the server's bytes into replies, one at a time, keeping whatever follows.
//!
//! Parsing is smtp-proto's `ResponseReceiver`, which keeps a partly received reply between
//! calls. This wrapper adds what the client needs around it: the bytes after the last reply
//! the session asked for stay buffered (several replies in one read are normal under
//! PIPELINING, and LMTP sends one reply per recipient after the end of data), and codes outside
//! 200–599 are refused as protocol violations. It does not know which reply answers which command.

use smtp_proto::response::parser::ResponseReceiver;

use crate::reply::{EnhancedCode, Reply};

/// Buffered server input and the reply parser.
#[derive(Default)]
pub struct ReplyReader {
    input: Vec<u8>,
    start: usize,
    receiver: ResponseReceiver,
}

impl ReplyReader {
    /// Buffers bytes received from the server.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The next complete reply, `Ok(None)` when more bytes are needed, or the reason the bytes
    /// are not a valid reply.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, String> {
        if self.start == self.input.len() {
            return Ok(None);
        }
        let mut bytes = self.input[self.start..].iter();
        let before = bytes.len();
        let parsed = self.receiver.parse(&mut bytes);
        self.start += before - bytes.len();
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
        match parsed {
            Ok(response) => {
                self.receiver.reset();
                if !(200..600).contains(&response.code) {
                    return Err(format!("reply code {} out of range", response.code));
                }
                Ok(Some(Reply {
                    code: response.code,
                    enhanced: EnhancedCode::from_esc(response.esc),
                    text: response.message,
                }))
            }
            Err(smtp_proto::Error::NeedsMoreData { .. }) => Ok(None),
            Err(error) => Err(format!("unparsable reply: {error:?}")),
        }
    }

    /// Whether bytes are buffered that no reply has consumed yet.
    pub(crate) fn has_unread(&self) -> bool {
        self.start < self.input.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]]) -> Vec<Reply> {
        let mut reader = ReplyReader::default();
        let mut replies = Vec::new();
        for chunk in chunks {
            reader.push(chunk);
            while let Some(reply) = reader.next_reply().expect("valid") {
                replies.push(reply);
            }
        }
        replies
    }

    #[test]
    fn several_replies_in_one_read_and_one_reply_in_many() {
        let wire: &[u8] =
            b"250 2.1.0 Ok\r\n550-5.1.1 No such\r\n550 5.1.1 user\r\n354 End data\r\n250 ok\n";
        let expected = vec![
            Reply::new(250, Some(EnhancedCode::new(2, 1, 0)), "Ok"),
            Reply::new(550, Some(EnhancedCode::new(5, 1, 1)), "No such\nuser"),
            Reply::new(354, None, "End data"),
            Reply::new(250, None, "ok"),
        ];
        assert_eq!(read_all(&[wire]), expected);
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(read_all(&[a, b]), expected, "split at {split}");
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(read_all(&bytes), expected);
    }

    #[test]
    fn leftover_bytes_wait_for_the_next_call() {
        let mut reader = ReplyReader::default();
        reader.push(b"250 a\r\n251 b\r\n25");
        assert_eq!(reader.next_reply().unwrap().unwrap().code, 250);
        assert!(reader.has_unread());
        assert_eq!(reader.next_reply().unwrap().unwrap().code, 251);
        assert_eq!(reader.next_reply().unwrap(), None);
        reader.push(b"2 c\r\n");
        assert_eq!(reader.next_reply().unwrap().unwrap().code, 252);
        assert!(!reader.has_unread());
    }

    #[test]
    fn garbage_and_odd_codes_are_violations() {
        let mut reader = ReplyReader::default();
        reader.push(b"hello\r\n");
        assert!(reader.next_reply().is_err());
        let mut reader = ReplyReader::default();
        reader.push(b"199 what\r\n");
        assert!(reader.next_reply().is_err());
    }
}
