//! One connection to the sink: the server side of SMTP or LMTP, as a real server would speak it.
//!
//! Commands are parsed with smtp-proto's `RequestReceiver`, DATA is dot-unstuffed with its
//! `DataReceiver` (only CRLF `.` CRLF ends it) and BDAT chunks are taken octet-exact with its
//! `BdatReceiver`. Replies to pipelined commands are collected and flushed once the input read
//! so far is used up (RFC 2920), or before a scripted delay or hang-up. Several transactions per
//! connection, RSET, NOOP and QUIT work as in RFC 5321; LMTP answers once per accepted
//! recipient after the data (RFC 2033). Not here: TLS, AUTH, DSN, VRFY/EXPN beyond a 252/502.

use std::io;
use std::slice::Iter;

use smtp_proto::request::receiver::{BdatReceiver, DataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Shared;
use super::script::{Decision, When};
use super::transaction::Txn;
use crate::reply::Reply;

/// Whether the conversation goes on.
pub(super) enum Flow {
    Continue,
    /// Send what is due, then close (after QUIT, or a scripted 421).
    Close,
    /// Close now (scripted hang-up); what is due is still sent.
    Drop,
}

/// The body being received.
pub(super) enum Body {
    None,
    Data(DataReceiver),
    Bdat(BdatReceiver),
    /// A BDAT chunk that must be read and thrown away (refused chunk).
    Discard(BdatReceiver),
}

pub(super) struct ServerSession<'s> {
    pub(super) shared: &'s Shared,
    pub(super) connection: u64,
    pub(super) greeted: bool,
    pub(super) txn: Option<Txn>,
    requests: RequestReceiver,
    pub(super) body: Body,
    pub(super) out: Vec<u8>,
    /// Numbers the reads, to count how many carried a transaction's commands.
    pub(super) read_no: u64,
}

impl<'s> ServerSession<'s> {
    pub(super) fn new(shared: &'s Shared, connection: u64) -> ServerSession<'s> {
        ServerSession {
            shared,
            connection,
            greeted: false,
            txn: None,
            requests: RequestReceiver::default(),
            body: Body::None,
            out: Vec::new(),
            read_no: 0,
        }
    }

    /// Serves the connection until QUIT, a hang-up, or the client going away.
    pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        mut stream: S,
    ) -> io::Result<()> {
        let shared = self.shared;
        let config = &shared.config;
        match self.shared.decide(When::Connect, &[""]).await {
            Decision::Default => {
                let hostname = &config.hostname;
                let greeting = if config.lmtp { "LMTP" } else { "ESMTP" };
                self.say_line(&format!("220 {hostname} {greeting} mailcast test sink"));
            }
            Decision::Reply(reply) => {
                let closing = !reply.is_positive();
                self.say(&reply);
                if closing {
                    stream.write_all(&self.out).await?;
                    return Ok(());
                }
            }
            Decision::Drop => return Ok(()),
        }
        stream.write_all(&self.out).await?;
        self.out.clear();

        let mut input = vec![0u8; 64 * 1024];
        loop {
            let n = match config.idle_timeout {
                None => stream.read(&mut input).await?,
                Some(idle) => match tokio::time::timeout(idle, stream.read(&mut input)).await {
                    Ok(read) => read?,
                    Err(_) => {
                        shared.count(|c| c.idle_closed += 1);
                        let line =
                            format!("421 4.4.2 {} Error: timeout exceeded\r\n", config.hostname);
                        stream.write_all(line.as_bytes()).await?;
                        return Ok(());
                    }
                },
            };
            if n == 0 {
                return Ok(());
            }
            self.read_no += 1;
            shared.count(|c| c.reads += 1);
            let mut bytes = input[..n].iter();
            let flow = self.ingest(&mut bytes, &mut stream).await?;
            stream.write_all(&self.out).await?;
            self.out.clear();
            match flow {
                Flow::Continue => {}
                Flow::Close => return Ok(()),
                Flow::Drop => {
                    self.shared.count(|c| c.dropped += 1);
                    return Ok(());
                }
            }
        }
    }

    /// Handles everything in one read.
    async fn ingest<S: AsyncWrite + Unpin>(
        &mut self,
        bytes: &mut Iter<'_, u8>,
        stream: &mut S,
    ) -> io::Result<Flow> {
        while !bytes.as_slice().is_empty() {
            match &mut self.body {
                Body::None => {}
                Body::Data(receiver) => {
                    // A body receiver is only set up inside a transaction.
                    let txn = self
                        .txn
                        .as_mut()
                        .expect("a body is only read inside a transaction");
                    if !receiver.ingest(bytes, &mut txn.data) {
                        continue;
                    }
                    // `txn.data` was primed with the CRLF that ends the DATA line, so that a
                    // first line starting with "." is unstuffed too; take it off again.
                    txn.data.drain(..2);
                    self.body = Body::None;
                    self.check_lock_step(bytes);
                    let flow = self.end_of_data(stream).await?;
                    if !matches!(flow, Flow::Continue) {
                        return Ok(flow);
                    }
                    continue;
                }
                Body::Bdat(receiver) => {
                    // A body receiver is only set up inside a transaction.
                    let txn = self
                        .txn
                        .as_mut()
                        .expect("a body is only read inside a transaction");
                    if !receiver.ingest(bytes, &mut txn.data) {
                        continue;
                    }
                    let last = receiver.is_last;
                    self.body = Body::None;
                    if last {
                        let flow = self.end_of_data(stream).await?;
                        if !matches!(flow, Flow::Continue) {
                            return Ok(flow);
                        }
                    } else {
                        self.say_line("250 2.0.0 Chunk received");
                    }
                    continue;
                }
                Body::Discard(receiver) => {
                    if receiver.ingest(bytes, &mut Vec::new()) {
                        self.body = Body::None;
                    }
                    continue;
                }
            }
            let request = match self.requests.ingest(bytes) {
                Ok(request) => request.into_owned(),
                Err(ProtoError::NeedsMoreData { .. }) => break,
                Err(error) => {
                    self.refuse_syntax(&error);
                    continue;
                }
            };
            if !matches!(request, Request::Bdat { .. }) {
                self.check_lock_step(bytes);
            }
            let flow = self.handle(request, stream).await?;
            if !matches!(flow, Flow::Continue) {
                return Ok(flow);
            }
        }
        Ok(Flow::Continue)
    }

    async fn handle<S: AsyncWrite + Unpin>(
        &mut self,
        request: Request<String>,
        stream: &mut S,
    ) -> io::Result<Flow> {
        let lmtp = self.shared.config.lmtp;
        match request {
            Request::Lhlo { .. } if lmtp => self.hello(true),
            Request::Ehlo { .. } if !lmtp && self.shared.config.ehlo => self.hello(true),
            Request::Helo { .. } if !lmtp => self.hello(false),
            Request::Lhlo { .. } | Request::Ehlo { .. } | Request::Helo { .. } => {
                self.say_line(if lmtp {
                    "500 5.5.1 Use LHLO"
                } else {
                    "502 5.5.1 Command not implemented"
                })
            }
            Request::Mail { from } => return self.mail(from.address, from.size, stream).await,
            Request::Rcpt { to } => return self.rcpt(to.address, stream).await,
            Request::Data => return self.data(stream).await,
            Request::Bdat {
                chunk_size,
                is_last,
            } => return self.bdat(chunk_size, is_last, stream).await,
            Request::Rset => {
                self.txn = None;
                self.shared.count(|c| c.rsets += 1);
                self.say_line("250 2.0.0 Ok");
            }
            Request::Noop { .. } => self.say_line("250 2.0.0 Ok"),
            Request::Quit => {
                self.shared.count(|c| c.quits += 1);
                self.say_line("221 2.0.0 Bye");
                return Ok(Flow::Close);
            }
            Request::Vrfy { .. } => self.say_line("252 2.0.0 Cannot VRFY user"),
            Request::StartTls => self.say_line("454 4.7.0 TLS not available"),
            _ => {
                self.shared.count(|c| c.bad_commands += 1);
                self.say_line("502 5.5.1 Command not implemented");
            }
        }
        Ok(Flow::Continue)
    }

    fn hello(&mut self, extended: bool) {
        let shared = self.shared;
        let config = &shared.config;
        self.greeted = true;
        self.txn = None;
        if !extended {
            let line = format!("250 {}", config.hostname);
            self.say_line(&line);
            return;
        }
        let mut lines = vec![config.hostname.clone()];
        if config.pipelining {
            lines.push("PIPELINING".into());
        }
        if let Some(size) = config.size {
            lines.push(format!("SIZE {size}"));
        }
        if config.chunking {
            lines.push("CHUNKING".into());
        }
        lines.extend(["8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"].map(String::from));
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            self.out
                .extend_from_slice(format!("250{separator}{line}\r\n").as_bytes());
        }
    }

    /// Without PIPELINING, a client must wait for each reply: more input in the same read
    /// after a command (other than BDAT, whose chunk follows) is a synchronisation error.
    pub(super) fn check_lock_step(&mut self, rest: &Iter<'_, u8>) {
        if !self.shared.config.pipelining && !rest.as_slice().is_empty() {
            self.shared.count(|c| c.pipelining_violations += 1);
        }
    }

    fn refuse_syntax(&mut self, error: &ProtoError) {
        self.shared.count(|c| c.bad_commands += 1);
        let line = match error {
            ProtoError::UnknownCommand => "500 5.5.2 Command unrecognized",
            ProtoError::InvalidSenderAddress => "501 5.1.7 Bad sender address syntax",
            ProtoError::InvalidRecipientAddress => "501 5.1.3 Bad recipient address syntax",
            ProtoError::ResponseTooLong => "500 5.5.2 Line too long",
            _ => "501 5.5.4 Syntax error",
        };
        self.say_line(line);
    }

    /// Queues a reply (each line of a multi-line text with the code); a 421 closes the
    /// connection after it.
    pub(super) fn say(&mut self, reply: &Reply) -> Flow {
        let enhanced = reply
            .enhanced
            .map(|code| format!("{code} "))
            .unwrap_or_default();
        let mut lines = reply.text.split('\n').peekable();
        while let Some(line) = lines.next() {
            let separator = if lines.peek().is_some() { '-' } else { ' ' };
            let line = format!("{}{separator}{enhanced}{line}\r\n", reply.code);
            self.out.extend_from_slice(line.as_bytes());
        }
        if reply.code == 421 {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    pub(super) fn say_line(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
}
