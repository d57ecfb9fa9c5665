//! One LMTP connection: the thin tokio shell around `proto::lmtp::Session`.
//!
//! It only reads, feeds, writes and awaits: RCPT verdicts and end-of-data replies come from
//! [`Acceptor`]. Output is flushed whenever the session needs input, before a commit is
//! awaited, and at close. Large bodies are moved into a spool spill file while they arrive, so
//! a connection's memory is bounded by `lmtp.spill_threshold`, not by the message size. The idle
//! timeout applies between commands, the data timeout to a whole DATA/BDAT phase.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailcast_proto::lmtp::{Session, Step};
use mailcast_spool::SpillFile;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span, warn};

use mailcast_pipeline::split_header_section;

use crate::inbound::accept::{Acceptor, Received, Spilled};

/// Timeouts of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Between commands.
    pub idle: Duration,
    /// For a whole DATA or BDAT phase.
    pub data: Duration,
}

/// Longest header section kept in memory while a large body is spilled; beyond it, the rest
/// of the header section goes to the file as if it were body (intake then sees no blank line).
const MAX_HEADER_IN_MEMORY: usize = 1 << 20;

/// The part of a large body already taken from the session: the header section in memory (the
/// intake fix-ups rewrite it), everything after it in a spill file.
struct Spill {
    body_id: u64,
    head: Vec<u8>,
    head_done: bool,
    file: SpillFile,
    /// A write to the spill file failed: part of the body is gone, the message must get 4xx.
    failed: bool,
}

impl Spill {
    fn push(&mut self, chunk: Vec<u8>) {
        let rest = if self.head_done {
            chunk
        } else {
            self.head.extend_from_slice(&chunk);
            match split_header_section(&self.head) {
                Some(end) => {
                    self.head_done = true;
                    self.head.split_off(end)
                }
                None if self.head.len() >= MAX_HEADER_IN_MEMORY => {
                    self.head_done = true;
                    Vec::new()
                }
                None => Vec::new(),
            }
        };
        if !rest.is_empty()
            && !self.failed
            && let Err(e) = self.file.write_all(&rest)
        {
            warn!(error = %e, "cannot write spill file");
            self.failed = true;
        }
    }
}

/// Serves one connection until QUIT, timeout, shutdown or a broken socket.
pub async fn serve<S>(
    stream: S,
    peer: Option<SocketAddr>,
    acceptor: Arc<Acceptor>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let span =
        info_span!("lmtp", peer = %peer.map_or_else(|| "unix".to_string(), |p| p.to_string()));
    async move {
        if let Err(e) = drive(stream, &acceptor, &shutdown).await {
            debug!(error = %e, "connection ended");
        }
    }
    .instrument(span)
    .await
}

async fn drive<S>(
    mut stream: S,
    acceptor: &Acceptor,
    shutdown: &CancellationToken,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let timeouts = acceptor.timeouts();
    let mut session = Session::new(acceptor.session_config());
    session.greeting();
    let mut buf = vec![0u8; 64 * 1024];
    let mut spill: Option<Spill> = None;
    let mut data_started: Option<Instant> = None;
    let mut shutting_down = false;
    loop {
        match session.poll() {
            Step::NeedInput => {
                flush(&mut stream, &mut session).await?;
                if session.in_data() {
                    data_started.get_or_insert_with(Instant::now);
                    spill_if_large(acceptor, &mut session, &mut spill);
                } else {
                    data_started = None;
                }
                let deadline = match data_started {
                    Some(start) => start + timeouts.data,
                    None => Instant::now() + timeouts.idle,
                };
                tokio::select! {
                    read = tokio::time::timeout_at(deadline, stream.read(&mut buf)) => match read {
                        Ok(Ok(0)) => session.eof(),
                        Ok(Ok(n)) => session.feed(&buf[..n]),
                        Ok(Err(e)) => return Err(e),
                        Err(_) => session.timeout(),
                    },
                    () = shutdown.cancelled(), if !shutting_down => {
                        shutting_down = true;
                        session.begin_shutdown();
                    }
                }
            }
            Step::Rcpt(rcpt) => {
                let verdict = acceptor.check_recipient(&rcpt.forward_path);
                session
                    .answer_rcpt(verdict)
                    .expect("the session asked for this verdict, so it accepts it");
            }
            Step::Message(tx) => {
                flush(&mut stream, &mut session).await?;
                let taken = spill.take().filter(|s| s.body_id == tx.body_id);
                let spill_failed = taken.as_ref().is_some_and(|s| s.failed);
                let received = Received {
                    transaction: tx,
                    spill: taken.map(|s| Spilled {
                        head: s.head,
                        file: s.file,
                    }),
                    spill_failed,
                };
                let replies = acceptor.deliver(received).await;
                session
                    .answer_message(replies)
                    .expect("the acceptor returns one reply per accepted recipient");
            }
            Step::Close => {
                flush(&mut stream, &mut session).await?;
                let _ = stream.shutdown().await;
                return Ok(());
            }
        }
    }
}

async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut Session,
) -> std::io::Result<()> {
    if session.has_output() {
        let out = session.take_output();
        stream.write_all(&out).await?;
        stream.flush().await?;
    }
    Ok(())
}

/// Moves the body buffered so far into a spill file once it passes the threshold.
fn spill_if_large(acceptor: &Acceptor, session: &mut Session, spill: &mut Option<Spill>) {
    let Some(body_id) = session.body_id() else {
        return;
    };
    if session.body_len() < acceptor.spill_threshold() {
        return;
    }
    if spill.as_ref().is_some_and(|s| s.body_id != body_id) {
        *spill = None;
    }
    if spill.is_none() {
        match acceptor.create_spill() {
            Ok(file) => {
                *spill = Some(Spill {
                    body_id,
                    head: Vec::new(),
                    head_done: false,
                    file,
                    failed: false,
                })
            }
            Err(e) => {
                // Keep buffering in memory; the commit reports the disk problem as a 4xx.
                warn!(error = %e, "cannot create spill file");
                return;
            }
        }
    }
    if let Some(s) = spill.as_mut() {
        s.push(session.take_body());
    }
}
