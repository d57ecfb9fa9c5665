//! One connection to the sink: the server side of SMTP or LMTP, as a real server would speak it.
//!
//! Commands are parsed with smtp-proto's `RequestReceiver`, DATA is dot-unstuffed with its
//! `DataReceiver` (only CRLF `.` CRLF ends it) and BDAT chunks are taken octet-exact with its
//! `BdatReceiver`. Replies to pipelined commands are collected and flushed once the input read
//! so far is used up (RFC 2920), or before a scripted delay or hang-up. Several transactions per
//! connection, RSET, NOOP and QUIT work as in RFC 5321; LMTP answers once per accepted
//! recipient after the data (RFC 2033). With a certificate, STARTTLS (RFC 3207: input
//! pipelined behind it is thrown away, the session starts over after the handshake) or
//! implicit TLS; with credentials, AUTH (`auth`). Not here: DSN, VRFY/EXPN beyond a 252/502.

use std::io;
use std::slice::Iter;

use smtp_proto::request::receiver::{BdatReceiver, DataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Shared;
use super::auth::AuthPending;
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
    /// Send what is due (the 220 to STARTTLS), then run the TLS handshake.
    StartTls,
}

/// How a run over one stream ended.
enum Ended {
    Closed,
    StartTls,
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
    /// The session is encrypted.
    pub(super) tls: bool,
    /// The user who authenticated.
    pub(super) authenticated: Option<String>,
    /// An AUTH exchange waiting for a continuation line.
    pub(super) auth_pending: Option<AuthPending>,
    /// A continuation line received in part.
    auth_input: Vec<u8>,
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
            tls: false,
            authenticated: None,
            auth_pending: None,
            auth_input: Vec::new(),
        }
    }

    /// Serves a TCP connection: TLS at once (implicit) or after STARTTLS, when configured.
    pub(super) async fn serve_tcp(mut self, stream: TcpStream) -> io::Result<()> {
        let Some(acceptor) = self.shared.acceptor.clone() else {
            return self.serve(stream).await;
        };
        let implicit = self
            .shared
            .config
            .tls
            .as_ref()
            .is_some_and(|tls| tls.implicit);
        if implicit {
            let stream = acceptor.accept(stream).await?;
            self.tls = true;
            self.shared.count(|c| c.tls_sessions += 1);
            return self.serve(stream).await;
        }
        let mut stream = stream;
        if let Ended::Closed = self.run(&mut stream, true).await? {
            return Ok(());
        }
        if self
            .shared
            .config
            .tls
            .as_ref()
            .is_some_and(|tls| tls.fail_handshake)
        {
            self.shared.count(|c| c.dropped += 1);
            return Ok(());
        }
        let mut stream = acceptor.accept(stream).await?;
        self.shared.count(|c| c.tls_sessions += 1);
        // RFC 3207 §4.2: everything known before the handshake is forgotten.
        self.tls = true;
        self.greeted = false;
        self.txn = None;
        self.requests = RequestReceiver::default();
        self.body = Body::None;
        self.authenticated = None;
        self.auth_pending = None;
        self.auth_input.clear();
        self.run(&mut stream, false).await.map(|_| ())
    }

    /// Serves the connection until QUIT, a hang-up, or the client going away.
    pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        mut stream: S,
    ) -> io::Result<()> {
        self.run(&mut stream, true).await.map(|_| ())
    }

    /// Greets (unless after STARTTLS) and serves until the end or a STARTTLS.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        greet: bool,
    ) -> io::Result<Ended> {
        if greet {
            match self.greet(stream).await? {
                Flow::Continue => {}
                _ => return Ok(Ended::Closed),
            }
        }
        self.serve_commands(stream).await
    }

    async fn greet<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> io::Result<Flow> {
        let config = &self.shared.config;
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
                    return Ok(Flow::Close);
                }
            }
            Decision::Drop => return Ok(Flow::Drop),
        }
        stream.write_all(&self.out).await?;
        self.out.clear();
        Ok(Flow::Continue)
    }

    async fn serve_commands<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> io::Result<Ended> {
        let shared = self.shared;
        let config = &shared.config;
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
                        return Ok(Ended::Closed);
                    }
                },
            };
            if n == 0 {
                return Ok(Ended::Closed);
            }
            self.read_no += 1;
            shared.count(|c| c.reads += 1);
            let mut bytes = input[..n].iter();
            let flow = self.ingest(&mut bytes, stream).await?;
            stream.write_all(&self.out).await?;
            stream.flush().await?;
            self.out.clear();
            match flow {
                Flow::Continue => {}
                Flow::Close => return Ok(Ended::Closed),
                Flow::Drop => {
                    self.shared.count(|c| c.dropped += 1);
                    return Ok(Ended::Closed);
                }
                // Whatever came behind STARTTLS in this read is thrown away (RFC 3207 §4.2).
                Flow::StartTls => return Ok(Ended::StartTls),
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
            if self.auth_pending.is_some() {
                let rest = bytes.as_slice();
                match memchr::memchr(b'\n', rest) {
                    Some(end) => {
                        self.auth_input.extend_from_slice(&rest[..end]);
                        *bytes = rest[end + 1..].iter();
                        let line = std::mem::take(&mut self.auth_input);
                        let line = String::from_utf8_lossy(&line);
                        self.auth_line(line.trim_end_matches('\r'));
                    }
                    None => {
                        self.auth_input.extend_from_slice(rest);
                        *bytes = [].iter();
                    }
                }
                continue;
            }
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
            Request::StartTls if self.shared.acceptor.is_some() && !self.tls => {
                self.say_line("220 2.0.0 Ready to start TLS");
                return Ok(Flow::StartTls);
            }
            Request::StartTls => self.say_line("454 4.7.0 TLS not available"),
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, &initial_response),
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
        if shared.acceptor.is_some() && !self.tls {
            lines.push("STARTTLS".into());
        }
        if config.auth.is_some() && self.authenticated.is_none() {
            lines.push("AUTH PLAIN LOGIN".into());
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
