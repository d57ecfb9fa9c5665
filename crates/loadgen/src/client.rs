//! The lean LMTP client the generator drives: one connection, one transaction after another,
//! as Postfix's cached LMTP connections do.
//!
//! A transaction is two round trips when the server offers PIPELINING: MAIL, the RCPTs and
//! DATA in one write and their replies; then the dot-stuffed body with its final `.` in one
//! write and one reply per accepted recipient. The clock starts when the write of the final
//! `.` returns, and stops at the last reply: that is the latency the generator reports, the
//! time the server took to make the message durable and say so. Without PIPELINING the
//! commands go in lock-step. Every read and write is bounded by one timeout.
//!
//! Unlike `mailcast_outbound::Connection`, it keeps the text of every reply (the queue id in
//! the 250) and the moment the end of data was written. It does no retries and keeps no
//! statistics; the `load` module does both.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use mailcast_outbound::Target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::timeout;

use crate::wire::{self, Capabilities, Reply, ReplyReader};

/// Size of the read buffer.
const READ_BUFFER: usize = 16 * 1024;

/// Where a failure happened, which tells whether the server may have taken the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connecting, the greeting, LHLO.
    Opening,
    /// Before the end of data was completely written: the server cannot have committed it.
    BeforeEndOfData,
    /// After the end of data, before every reply arrived: the server may have committed the
    /// message; sending it again may store it twice.
    AwaitingReplies,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Opening => "opening the session",
            Phase::BeforeEndOfData => "before the end of data",
            Phase::AwaitingReplies => "waiting for the replies to the end of data",
        })
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The connection could not be opened.
    #[error("cannot connect: {0}")]
    Connect(#[source] io::Error),
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
    /// No progress within the timeout.
    #[error("timed out")]
    Timeout,
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// The server's bytes were not the replies the protocol allows.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The greeting or LHLO was refused (or a 421 ended the session).
    #[error("session refused: {0}")]
    Refused(Reply),
}

/// A failure that ends the connection.
#[derive(Debug, thiserror::Error)]
#[error("{kind} ({phase})")]
pub struct ClientError {
    /// Where it happened.
    pub phase: Phase,
    /// What happened.
    #[source]
    pub kind: ErrorKind,
}

/// The replies of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The verdict for each recipient, in envelope order: the refusal of MAIL, RCPT or DATA
    /// when there was one, else its reply after the end of data.
    pub verdicts: Vec<Reply>,
    /// From the end of data written to the last reply; `None` when no data was sent.
    pub latency: Option<Duration>,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// One open LMTP session.
pub struct LmtpClient {
    stream: Stream,
    reader: ReplyReader,
    capabilities: Capabilities,
    timeout: Duration,
    out: Vec<u8>,
    input: Box<[u8]>,
    /// A transaction may still be open on the server (DATA was refused): RSET first.
    needs_rset: bool,
}

impl LmtpClient {
    /// Connects, reads the greeting and says LHLO.
    pub async fn connect(
        target: &Target,
        helo_name: &str,
        limit: Duration,
    ) -> Result<LmtpClient, ClientError> {
        let opening = |kind| ClientError {
            phase: Phase::Opening,
            kind,
        };
        let stream = match timeout(limit, open(target)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(opening(ErrorKind::Connect(error))),
            Err(_) => return Err(opening(ErrorKind::Timeout)),
        };
        let mut client = LmtpClient {
            stream,
            reader: ReplyReader::default(),
            capabilities: Capabilities::default(),
            timeout: limit,
            out: Vec::with_capacity(8 * 1024),
            input: vec![0; READ_BUFFER].into_boxed_slice(),
            needs_rset: false,
        };
        let greeting = client.reply().await.map_err(opening)?;
        if greeting.code != 220 {
            return Err(opening(ErrorKind::Refused(greeting)));
        }
        wire::lhlo(&mut client.out, helo_name);
        client.flush().await.map_err(opening)?;
        let hello = client.reply().await.map_err(opening)?;
        if !hello.is_positive() {
            return Err(opening(ErrorKind::Refused(hello)));
        }
        client.capabilities = Capabilities::parse(&hello.text);
        Ok(client)
    }

    /// What the server offered.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Runs one transaction. `Err` means the connection is unusable; its phase tells whether
    /// the server may have committed the message.
    pub async fn send(
        &mut self,
        mail_from: &str,
        rcpts: &[String],
        message: &[u8],
    ) -> Result<Exchange, ClientError> {
        let before = |kind| ClientError {
            phase: Phase::BeforeEndOfData,
            kind,
        };
        let size = self.capabilities.size.is_some().then_some(message.len());
        let (accepted, mut verdicts) = if self.capabilities.pipelining {
            self.envelope_pipelined(mail_from, rcpts, size)
                .await
                .map_err(before)?
        } else {
            self.envelope_lockstep(mail_from, rcpts, size)
                .await
                .map_err(before)?
        };
        let Some(accepted) = accepted else {
            return Ok(Exchange {
                verdicts,
                latency: None,
            });
        };
        wire::body(&mut self.out, message);
        self.flush().await.map_err(before)?;
        let end_of_data = Instant::now();
        for index in accepted {
            let reply = self.reply().await.map_err(|kind| ClientError {
                phase: Phase::AwaitingReplies,
                kind,
            })?;
            verdicts[index] = reply;
        }
        Ok(Exchange {
            verdicts,
            latency: Some(end_of_data.elapsed()),
        })
    }

    /// Sends QUIT and waits for its reply; errors no longer matter.
    pub async fn quit(mut self) {
        wire::quit(&mut self.out);
        if self.flush().await.is_ok() {
            let _ = self.reply().await;
        }
    }

    /// MAIL, RCPTs and DATA in one write. Returns the indexes of the accepted recipients when
    /// the server said 354, and the verdicts so far (refusals; placeholders for the others).
    async fn envelope_pipelined(
        &mut self,
        mail_from: &str,
        rcpts: &[String],
        size: Option<usize>,
    ) -> Result<(Option<Vec<usize>>, Vec<Reply>), ErrorKind> {
        let rset = std::mem::take(&mut self.needs_rset);
        if rset {
            wire::rset(&mut self.out);
        }
        wire::mail_from(&mut self.out, mail_from, size);
        for rcpt in rcpts {
            wire::rcpt_to(&mut self.out, rcpt);
        }
        wire::data(&mut self.out);
        self.flush().await?;
        if rset {
            self.reply().await?;
        }
        let mail = self.reply().await?;
        let mut verdicts = Vec::with_capacity(rcpts.len());
        let mut accepted = Vec::new();
        for index in 0..rcpts.len() {
            let reply = self.reply().await?;
            if mail.is_positive() && reply.is_positive() {
                accepted.push(index);
            }
            verdicts.push(if mail.is_positive() {
                reply
            } else {
                mail.clone()
            });
        }
        let data = self.reply().await?;
        self.after_data(data, accepted, verdicts)
    }

    /// The same, one command per reply.
    async fn envelope_lockstep(
        &mut self,
        mail_from: &str,
        rcpts: &[String],
        size: Option<usize>,
    ) -> Result<(Option<Vec<usize>>, Vec<Reply>), ErrorKind> {
        if std::mem::take(&mut self.needs_rset) {
            wire::rset(&mut self.out);
            self.flush().await?;
            self.reply().await?;
        }
        wire::mail_from(&mut self.out, mail_from, size);
        self.flush().await?;
        let mail = self.reply().await?;
        if !mail.is_positive() {
            return Ok((None, vec![mail; rcpts.len()]));
        }
        let mut verdicts = Vec::with_capacity(rcpts.len());
        let mut accepted = Vec::new();
        for (index, rcpt) in rcpts.iter().enumerate() {
            wire::rcpt_to(&mut self.out, rcpt);
            self.flush().await?;
            let reply = self.reply().await?;
            if reply.is_positive() {
                accepted.push(index);
            }
            verdicts.push(reply);
        }
        if accepted.is_empty() {
            self.needs_rset = true;
            return Ok((None, verdicts));
        }
        wire::data(&mut self.out);
        self.flush().await?;
        let data = self.reply().await?;
        self.after_data(data, accepted, verdicts)
    }

    /// Applies the reply to DATA: 354 lets the body go, anything else refuses every recipient
    /// accepted so far (and leaves a transaction open on the server).
    fn after_data(
        &mut self,
        data: Reply,
        accepted: Vec<usize>,
        mut verdicts: Vec<Reply>,
    ) -> Result<(Option<Vec<usize>>, Vec<Reply>), ErrorKind> {
        if data.code == 354 {
            if accepted.is_empty() {
                // RFC 2033 §4.2: DATA with no accepted recipient must fail with 503.
                return Err(ErrorKind::Protocol(
                    "354 after every RCPT was refused".into(),
                ));
            }
            return Ok((Some(accepted), verdicts));
        }
        if data.code == 421 {
            return Err(ErrorKind::Refused(data));
        }
        for &index in &accepted {
            verdicts[index] = data.clone();
        }
        self.needs_rset = true;
        Ok((None, verdicts))
    }

    /// Writes and clears the output buffer.
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        let written = match &mut self.stream {
            Stream::Tcp(stream) => timeout(self.timeout, stream.write_all(&self.out)).await,
            Stream::Unix(stream) => timeout(self.timeout, stream.write_all(&self.out)).await,
        };
        self.out.clear();
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ErrorKind::Io(error)),
            Err(_) => Err(ErrorKind::Timeout),
        }
    }

    /// The next reply, reading as needed.
    async fn reply(&mut self) -> Result<Reply, ErrorKind> {
        loop {
            if let Some(reply) = self.reader.next_reply().map_err(ErrorKind::Protocol)? {
                return Ok(reply);
            }
            let read = match &mut self.stream {
                Stream::Tcp(stream) => timeout(self.timeout, stream.read(&mut self.input)).await,
                Stream::Unix(stream) => timeout(self.timeout, stream.read(&mut self.input)).await,
            };
            match read {
                Ok(Ok(0)) => return Err(ErrorKind::Closed),
                Ok(Ok(n)) => self.reader.push(&self.input[..n]),
                Ok(Err(error)) => return Err(ErrorKind::Io(error)),
                Err(_) => return Err(ErrorKind::Timeout),
            }
        }
    }
}

async fn open(target: &Target) -> io::Result<Stream> {
    match target {
        Target::Tcp { host, port } => {
            let stream = TcpStream::connect((host.as_str(), *port)).await?;
            // The final `.` must not wait for the server's delayed ACK.
            stream.set_nodelay(true)?;
            Ok(Stream::Tcp(stream))
        }
        Target::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
    }
}
