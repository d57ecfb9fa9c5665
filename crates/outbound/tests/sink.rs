//! The sink seen from a raw socket: it must speak SMTP and LMTP the way real servers do, or
//! the client's tests would prove nothing.

use mailcast_outbound::Target;
use mailcast_outbound::sink::{Sink, SinkConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client that writes raw bytes and reads whole replies.
struct Raw {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Raw {
    async fn connect(sink: &Sink) -> Raw {
        let Target::Tcp { host, port } = sink.target() else {
            panic!("a TCP sink")
        };
        let stream = TcpStream::connect((host.as_str(), port)).await.unwrap();
        Raw {
            stream,
            pending: Vec::new(),
        }
    }

    /// Sends `bytes`, then reads `replies` complete replies and returns their last lines.
    async fn say(&mut self, bytes: &str, replies: usize) -> Vec<String> {
        self.stream.write_all(bytes.as_bytes()).await.unwrap();
        self.replies(replies).await
    }

    async fn replies(&mut self, count: usize) -> Vec<String> {
        let mut replies = Vec::new();
        while replies.len() < count {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.pending.drain(..end + 2).collect();
                let line = String::from_utf8(line).unwrap().trim_end().to_string();
                if line.as_bytes().get(3) != Some(&b'-') {
                    replies.push(line);
                }
                continue;
            }
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "the sink closed the connection early; got {replies:?}"
            );
            self.pending.extend_from_slice(&buf[..n]);
        }
        replies
    }

    async fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 16];
        matches!(self.stream.read(&mut buf).await, Ok(0))
    }
}

fn codes(replies: &[String]) -> Vec<&str> {
    replies.iter().map(|line| &line[..3]).collect()
}

#[tokio::test]
async fn smtp_conversation_with_two_transactions() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let mut raw = Raw::connect(&sink).await;
    assert_eq!(codes(&raw.replies(1).await), ["220"]);
    assert_eq!(codes(&raw.say("EHLO c.test\r\n", 1).await), ["250"]);
    let replies = raw
        .say(
            "MAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n",
            4,
        )
        .await;
    assert_eq!(codes(&replies), ["250", "250", "250", "354"]);
    // The first line is dot-stuffed, and so is a line holding a lone dot.
    assert_eq!(
        codes(&raw.say("..first\r\n..\r\nlast\r\n.\r\n", 1).await),
        ["250"]
    );
    assert_eq!(
        codes(&raw.say("MAIL FROM:<>\r\nRSET\r\nNOOP\r\n", 3).await),
        ["250", "250", "250"]
    );
    let replies = raw
        .say("MAIL FROM:<>\r\nRCPT TO:<c@x>\r\nDATA\r\n", 3)
        .await;
    assert_eq!(codes(&replies), ["250", "250", "354"]);
    assert_eq!(
        codes(&raw.say(".\r\n", 1).await),
        ["250"],
        "an empty message"
    );
    assert_eq!(codes(&raw.say("QUIT\r\n", 1).await), ["221"]);
    assert!(raw.is_closed().await);

    let received = sink.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].rcpts, ["a@x", "b@x"]);
    assert_eq!(received[0].data, b".first\r\n.\r\nlast\r\n");
    assert_eq!(received[1].mail_from, "");
    assert_eq!(received[1].data, b"");
    let counters = sink.counters();
    assert_eq!(
        (counters.rsets, counters.quits, counters.delivered),
        (1, 1, 3)
    );
}

#[tokio::test]
async fn smtp_sequence_errors() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let mut raw = Raw::connect(&sink).await;
    raw.replies(1).await;
    assert_eq!(
        codes(&raw.say("MAIL FROM:<s@x>\r\n", 1).await),
        ["503"],
        "hello first"
    );
    raw.say("EHLO c.test\r\n", 1).await;
    assert_eq!(codes(&raw.say("RCPT TO:<a@x>\r\n", 1).await), ["503"]);
    assert_eq!(codes(&raw.say("DATA\r\n", 1).await), ["503"]);
    assert_eq!(
        codes(&raw.say("MAIL FROM:<s@x>\r\nDATA\r\n", 2).await),
        ["250", "554"]
    );
    assert_eq!(
        codes(&raw.say("LHLO c.test\r\nFOO\r\n", 2).await),
        ["502", "500"]
    );
    assert_eq!(
        sink.counters().bad_commands,
        1,
        "LHLO is refused, not garbage; FOO is"
    );
}

#[tokio::test]
async fn lmtp_replies_per_recipient_and_bdat_without_recipients_gets_none() {
    let sink = Sink::start(SinkConfig {
        chunking: true,
        ..SinkConfig::lmtp()
    })
    .await
    .unwrap();
    let mut raw = Raw::connect(&sink).await;
    raw.replies(1).await;
    assert_eq!(codes(&raw.say("EHLO c.test\r\n", 1).await), ["500"]);
    assert_eq!(codes(&raw.say("LHLO c.test\r\n", 1).await), ["250"]);
    let replies = raw
        .say(
            "MAIL FROM:<s@x>\r\nRCPT TO:<a@l>\r\nRCPT TO:<b@l>\r\nDATA\r\n",
            4,
        )
        .await;
    assert_eq!(codes(&replies), ["250", "250", "250", "354"]);
    let replies = raw.say("body\r\n.\r\n", 2).await;
    assert_eq!(
        replies,
        ["250 2.0.0 <a@l> Delivered", "250 2.0.0 <b@l> Delivered"]
    );

    // RFC 2033 §4.3: BDAT LAST with no accepted recipient gets no reply at all, so the next
    // reply is NOOP's.
    raw.stream
        .write_all(b"MAIL FROM:<s@x>\r\nBDAT 4 LAST\r\nbodyNOOP\r\n")
        .await
        .unwrap();
    assert_eq!(codes(&raw.replies(2).await), ["250", "250"]);
    assert_eq!(sink.counters().delivered, 2);
}
