//! The tokio shell around one protocol session: a socket, two reused buffers and timeouts.
//!
//! It only connects, reads, writes and waits; every decision is the protocol core's. TCP
//! connections get TCP_NODELAY, so that the last segment of a body is never held back waiting
//! for the server's delayed ACK. Each read and each write is bounded by the timeout the core
//! names ([`Timer`]); a timeout, an I/O error or the end of the stream ends the session.
//!
//! TLS: implicit TLS wraps the TCP stream before the greeting; STARTTLS wraps it when the
//! session asks for it ([`Session::wants_tls`]), after which the session says EHLO again.
//! Either way the handshake is bounded by the command timeout, and a failed one ends the
//! session ([`SessionErrorKind::Tls`]).
//!
//! Not here: pooling (`relay`), retries (the daemon).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

use crate::config::Timeouts;
use crate::envelope::{Envelope, Message};
use crate::outcome::RcptOutcome;
use crate::protocol::{Capabilities, Feed, Session, SessionConfig, Step, Timer};
use crate::security::SessionSecurity;
use crate::tls::TlsClient;
use crate::trouble::{SessionError, SessionErrorKind, Stage};

/// Size of the read buffer: room for the replies to a thousand pipelined RCPTs in a few reads.
const READ_BUFFER: usize = 16 * 1024;

/// Where a connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A TCP host (name or address) and port.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix-domain socket (the usual way to reach an LMTP server).
    Unix(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The socket under a connection.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Taken apart for a handshake that did not complete.
    Gone,
}

impl Stream {
    async fn open(target: &Target) -> io::Result<Stream> {
        match target {
            Target::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
            Target::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        }
    }

    /// Runs the TLS handshake over the plain TCP stream.
    async fn upgrade(&mut self, tls: &TlsClient) -> Result<(), SessionErrorKind> {
        let Stream::Tcp(tcp) = std::mem::replace(self, Stream::Gone) else {
            return Err(SessionErrorKind::Tls(
                "TLS needs a TCP connection (not a Unix socket)".into(),
            ));
        };
        match tls.handshake(tcp).await {
            Ok(stream) => {
                *self = Stream::Tls(Box::new(stream));
                Ok(())
            }
            Err(error) => Err(SessionErrorKind::Tls(error.to_string())),
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.read(buf).await,
            Stream::Unix(stream) => stream.read(buf).await,
            Stream::Tls(stream) => stream.read(buf).await,
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.write_all(buf).await,
            Stream::Unix(stream) => stream.write_all(buf).await,
            Stream::Tls(stream) => {
                stream.write_all(buf).await?;
                // rustls may keep records back until flushed.
                stream.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Reads whatever is there without waiting; `WouldBlock` when nothing is.
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.try_read(buf),
            Stream::Unix(stream) => stream.try_read(buf),
            Stream::Tls(stream) => {
                // One poll with a waker that does nothing: TLS records that carry no data
                // (session tickets) are consumed, and only data or the end count.
                let mut context = Context::from_waker(Waker::noop());
                let mut buf = ReadBuf::new(buf);
                match Pin::new(stream.as_mut()).poll_read(&mut context, &mut buf) {
                    Poll::Ready(Ok(())) => Ok(buf.filled().len()),
                    Poll::Ready(Err(error)) => Err(error),
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                }
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// One open SMTP or LMTP session with a server, ready for transactions.
pub struct Connection {
    stream: Stream,
    session: Session,
    /// For STARTTLS, when the session may ask for it.
    tls: Option<Arc<TlsClient>>,
    timeouts: Timeouts,
    out: Vec<u8>,
    input: Box<[u8]>,
    transactions: usize,
}

impl Connection {
    /// Connects, reads the greeting and says EHLO/LHLO (HELO if EHLO is refused).
    pub async fn connect(
        target: &Target,
        config: SessionConfig,
        timeouts: Timeouts,
    ) -> Result<Connection, SessionError> {
        let security = SessionSecurity::default();
        Connection::connect_secured(target, config, security, None, timeouts).await
    }

    /// Connects, runs the TLS handshake at once when `security` says the session is
    /// encrypted from the start (implicit TLS), reads the greeting, says EHLO/LHLO, and goes
    /// through STARTTLS and AUTH as `security` asks. `tls` is needed for any TLS.
    pub async fn connect_secured(
        target: &Target,
        config: SessionConfig,
        security: SessionSecurity,
        tls: Option<Arc<TlsClient>>,
        timeouts: Timeouts,
    ) -> Result<Connection, SessionError> {
        let implicit = security.encrypted;
        let mut stream = match timeout(timeouts.connect, Stream::open(target)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(SessionError::new(
                    SessionErrorKind::Connect(error),
                    Stage::Connect,
                ));
            }
            Err(_) => return Err(SessionError::new(SessionErrorKind::Timeout, Stage::Connect)),
        };
        if implicit {
            let handshake = match &tls {
                Some(tls) => timeout(timeouts.command, stream.upgrade(tls)).await,
                None => Ok(Err(SessionErrorKind::Tls(
                    "no TLS client configured".into(),
                ))),
            };
            match handshake {
                Ok(Ok(())) => {}
                Ok(Err(kind)) => return Err(SessionError::new(kind, Stage::Tls)),
                Err(_) => return Err(SessionError::new(SessionErrorKind::Timeout, Stage::Tls)),
            }
        }
        let mut connection = Connection {
            stream,
            session: Session::with_security(config, security),
            tls,
            timeouts,
            out: Vec::new(),
            input: vec![0; READ_BUFFER].into_boxed_slice(),
            transactions: 0,
        };
        connection.drive_session().await?;
        Ok(connection)
    }

    /// Runs one transaction. `Ok` holds one outcome per recipient, in envelope order; `Err`
    /// means the session failed (the connection is then unusable), and holds the outcomes too.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        body: &[u8],
    ) -> Result<Vec<RcptOutcome>, SessionError> {
        self.send_parts(&envelope.mail_from, &envelope.rcpts, body)
            .await
    }

    /// [`Connection::send`] with the envelope in parts, so that callers can pass a slice of a
    /// larger recipient list without copying it.
    pub async fn send_parts(
        &mut self,
        mail_from: &str,
        rcpts: &[String],
        body: &[u8],
    ) -> Result<Vec<RcptOutcome>, SessionError> {
        self.transactions += 1;
        let Connection {
            stream,
            session,
            timeouts,
            out,
            input,
            ..
        } = self;
        out.clear();
        let mut txn = session.transaction(mail_from, rcpts, body);
        loop {
            match txn.pump(out) {
                Step::Write(timer) => {
                    if let Err(kind) = write(stream, out, timeouts.pick(timer)).await {
                        return Err(txn.fail(kind));
                    }
                }
                Step::Read(timer) => match read(stream, input, timeouts.pick(timer)).await {
                    Ok(n) => txn.receive(&input[..n]),
                    Err(kind) => return Err(txn.fail(kind)),
                },
                Step::Done => return txn.finish(),
            }
        }
    }

    /// Runs the transactions `feed` supplies, one after another, pipelined across
    /// transactions when the server offers PIPELINING (see [`crate::protocol::Pipeline`]):
    /// every message `feed` gives comes back through [`Feed::finished`], in order, with one
    /// outcome per recipient. Returns when `feed` has no more messages (`Ok`), or when the
    /// session failed (`Err`: the connection is unusable; the messages in flight came back
    /// with the failure, the others were not taken).
    pub async fn send_pipelined<F: Feed + ?Sized>(
        &mut self,
        feed: &mut F,
    ) -> Result<(), SessionError> {
        let Connection {
            stream,
            session,
            timeouts,
            out,
            input,
            transactions,
            ..
        } = self;
        out.clear();
        let mut counted = Counted { feed, transactions };
        let mut pipeline = session.pipeline();
        loop {
            match pipeline.pump(out, &mut counted) {
                Step::Write(timer) => {
                    if let Err(kind) = write(stream, out, timeouts.pick(timer)).await {
                        pipeline.fail(kind, &mut counted);
                        break;
                    }
                }
                Step::Read(timer) => match read(stream, input, timeouts.pick(timer)).await {
                    Ok(n) => pipeline.receive(&input[..n]),
                    Err(kind) => {
                        pipeline.fail(kind, &mut counted);
                        break;
                    }
                },
                Step::Done => break,
            }
        }
        match pipeline.take_failure() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Sends QUIT, waits (at most the command timeout) for the reply, and closes.
    pub async fn quit(mut self) {
        self.out.clear();
        self.session.quit(&mut self.out);
        // Errors do not matter any more: the connection is closed either way.
        let _ = self.drive_session().await;
    }

    /// What the server offered in its EHLO/LHLO reply.
    pub fn capabilities(&self) -> &Capabilities {
        self.session.capabilities()
    }

    /// Whether the session is encrypted (implicit TLS, or after STARTTLS).
    pub fn is_encrypted(&self) -> bool {
        self.session.is_encrypted()
    }

    /// Transactions started on this connection so far.
    pub fn transactions(&self) -> usize {
        self.transactions
    }

    /// Whether the session can run another transaction.
    pub fn is_usable(&self) -> bool {
        self.session.is_ready()
    }

    /// Checks, without waiting, that an idle connection was not closed by the server in the
    /// meantime (end of stream, or an unsolicited reply such as 421). `false` means: drop it.
    pub(crate) fn is_still_open(&mut self) -> bool {
        if !self.session.is_ready() {
            return false;
        }
        // Nothing to read is the only good answer: bytes would be a reply nobody asked for,
        // zero bytes the end of the stream, and an error a broken socket.
        matches!(
            self.stream.try_read(&mut self.input),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// Pumps the session (opening or closing) until it is done.
    async fn drive_session(&mut self) -> Result<(), SessionError> {
        loop {
            match self.session.pump(&mut self.out)? {
                Step::Write(timer) => {
                    let limit = self.timeouts.pick(timer);
                    if let Err(kind) = write(&mut self.stream, &mut self.out, limit).await {
                        return Err(self.session.fail(kind));
                    }
                }
                Step::Read(timer) => {
                    let limit = self.timeouts.pick(timer);
                    match read(&mut self.stream, &mut self.input, limit).await {
                        Ok(n) => self.session.receive(&self.input[..n]),
                        Err(kind) => return Err(self.session.fail(kind)),
                    }
                }
                Step::Done if self.session.wants_tls() => self.start_tls().await?,
                Step::Done => return Ok(()),
            }
        }
    }

    /// The handshake after the server's 220 to STARTTLS, then the session goes on.
    async fn start_tls(&mut self) -> Result<(), SessionError> {
        let upgraded = match &self.tls {
            Some(tls) => timeout(self.timeouts.command, self.stream.upgrade(tls)).await,
            None => Ok(Err(SessionErrorKind::Tls(
                "no TLS client configured".into(),
            ))),
        };
        match upgraded {
            Ok(Ok(())) => {
                self.session.tls_established(&mut self.out);
                Ok(())
            }
            Ok(Err(kind)) => Err(self.session.fail(kind)),
            Err(_) => Err(self.session.fail(SessionErrorKind::Timeout)),
        }
    }
}

/// Counts the transactions a pipelined run starts on the connection.
struct Counted<'f, F: ?Sized> {
    feed: &'f mut F,
    transactions: &'f mut usize,
}

impl<F: Feed + ?Sized> Feed for Counted<'_, F> {
    fn next(&mut self) -> Option<Message> {
        let message = self.feed.next()?;
        *self.transactions += 1;
        Some(message)
    }

    fn finished(&mut self, message: Message, result: Result<Vec<RcptOutcome>, SessionError>) {
        self.feed.finished(message, result);
    }
}

impl Timeouts {
    fn pick(&self, timer: Timer) -> Duration {
        match timer {
            Timer::Command => self.command,
            Timer::Data => self.data,
        }
    }
}

/// Writes all of `out`, then clears it.
async fn write(
    stream: &mut Stream,
    out: &mut Vec<u8>,
    limit: Duration,
) -> Result<(), SessionErrorKind> {
    let result = timeout(limit, stream.write_all(out)).await;
    out.clear();
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(SessionErrorKind::Io(error)),
        Err(_) => Err(SessionErrorKind::Timeout),
    }
}

/// Reads some bytes; the end of the stream is a failure (the server closed the connection).
async fn read(
    stream: &mut Stream,
    input: &mut [u8],
    limit: Duration,
) -> Result<usize, SessionErrorKind> {
    match timeout(limit, stream.read(input)).await {
        Ok(Ok(0)) => Err(SessionErrorKind::Closed),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(error)) => Err(SessionErrorKind::Io(error)),
        Err(_) => Err(SessionErrorKind::Timeout),
    }
}
