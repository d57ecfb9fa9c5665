//! The crash test's LMTP client: pipelined, one transaction after another on one connection,
//! and honest about what it does not know.
//!
//! Unlike `support::Lmtp` it never panics on a broken connection: the server is killed under
//! it on purpose. It reports whether the break came before the end of data was written (the
//! server cannot have committed the message) or after it (it may have: a resend may store the
//! message twice, and that is the one documented cause of duplicates).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// A reply takes milliseconds; a silent server is a broken one.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// The verdict on one transaction.
#[derive(Debug)]
pub enum Sent {
    /// The reply after the end of data (or the refusal of MAIL, RCPT or DATA): code and text.
    Replied(u16, String),
    /// The connection broke before the end of data was written.
    BrokeBefore,
    /// The connection broke after the end of data, before the reply.
    BrokeAfter,
}

/// One LMTP session.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects, reads the greeting and says LHLO; `None` if the server is not (yet) there.
    pub async fn connect(addr: SocketAddr) -> Option<Client> {
        let stream = TcpStream::connect(addr).await.ok()?;
        // While no daemon listens, a connection to a port in the ephemeral range can be given
        // that same port as its source and connect to itself (TCP simultaneous open): it
        // would wait for its own greeting for ever.
        if stream.local_addr().ok()? == stream.peer_addr().ok()? {
            return None;
        }
        stream.set_nodelay(true).ok()?;
        let (read, writer) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            writer,
        };
        let (greeting, _) = client.reply().await?;
        if greeting != 220 {
            return None;
        }
        client.writer.write_all(b"LHLO crash.test\r\n").await.ok()?;
        let (hello, _) = client.reply().await?;
        (hello == 250).then_some(client)
    }

    /// MAIL, RCPT and DATA pipelined, then the dot-stuffed message and its end of data.
    pub async fn send(&mut self, from: &str, to: &str, message: &[u8]) -> Sent {
        let commands = format!("MAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
        if self.writer.write_all(commands.as_bytes()).await.is_err() {
            return Sent::BrokeBefore;
        }
        let mut replies = Vec::new();
        for _ in 0..3 {
            match self.reply().await {
                Some(reply) => replies.push(reply),
                None => return Sent::BrokeBefore,
            }
        }
        if let Some((code, text)) = replies.iter().find(|(code, _)| *code >= 400) {
            // A refused command (421 during shutdown, say): the session is not to be reused.
            return Sent::Replied(*code, text.clone());
        }
        let mut data = Vec::with_capacity(message.len() + 8);
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        data.extend_from_slice(b".\r\n");
        if self.writer.write_all(&data).await.is_err() {
            // Part of the body may have left; without the final dot the server stores nothing.
            return Sent::BrokeBefore;
        }
        match self.reply().await {
            Some((code, text)) => Sent::Replied(code, text),
            None => Sent::BrokeAfter,
        }
    }

    /// Reads one (possibly multi-line) reply; `None` when the connection broke or stayed
    /// silent for [`REPLY_TIMEOUT`] (treated as broken: the transaction is sent again).
    async fn reply(&mut self) -> Option<(u16, String)> {
        let mut text = Vec::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(REPLY_TIMEOUT, self.reader.read_line(&mut line));
            if read.await.ok()?.ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code: u16 = line.get(..3)?.parse().ok()?;
            text.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Some((code, text.join("\n")));
            }
        }
    }
}
