//! The LMTP server session: the state machine that turns the client's bytes into replies and
//! [`Step`]s, one connection at a time.
//!
//! The shell drives it: `feed` bytes, `poll` for the next [`Step`], answer RCPT verdicts and
//! end-of-data replies, and write `take_output`. Input is consumed in order and a command's
//! failure never discards what follows (PIPELINING); `poll` says `NeedInput` only once every
//! buffered byte is consumed, so all pipelined replies are out before the shell blocks.
//!
//! The session does no I/O and reads no clock: timeouts and shutdown are told to it
//! (`timeout`, `begin_shutdown`). Verb handling lives in `verbs`, message content in `data`.

mod data;
mod verbs;

use std::mem;
use std::sync::Arc;

use memchr::memchr;

use super::body::Body;
use super::command::{self, Command};
use super::config::Config;
use super::dot::DotDecoder;
use super::error::UsageError;
use super::step::{MailParams, Step, Verdict};
use crate::Reply;

/// One LMTP connection's protocol state. See the crate documentation for the driving loop.
#[derive(Debug)]
pub struct Session {
    config: Arc<Config>,
    /// Bytes fed and not yet consumed start at `input_pos`.
    input: Vec<u8>,
    input_pos: usize,
    /// The start of a command line whose end has not arrived yet.
    partial_line: Vec<u8>,
    /// The current command line is over the limit: skip to its LF, then reply 500 5.5.2.
    discarding_line: bool,
    output: Vec<u8>,
    phase: Phase,
    /// The client's LHLO argument, once LHLO succeeded.
    lhlo: Option<String>,
    /// The mail transaction, from an accepted MAIL to its end.
    tx: Option<Envelope>,
    /// Bad commands so far (reset by a delivery with at least one 2xx).
    errors: usize,
    shutdown: bool,
    eof: bool,
    next_body_id: u64,
}

/// What the session is reading, or waiting for.
#[derive(Debug)]
enum Phase {
    /// Command lines.
    Command,
    /// DATA content, until CRLF.CRLF.
    Data(DotDecoder),
    /// The octets of a BDAT chunk.
    Chunk(ChunkRead),
    /// A verdict for this forward-path.
    AwaitRcpt(String),
    /// The end-of-data replies for this many recipients.
    AwaitMessage(usize),
    /// Over: only `Close` from now on.
    Closed,
}

/// A BDAT chunk being read.
#[derive(Debug)]
struct ChunkRead {
    remaining: usize,
    size: usize,
    last: bool,
    fate: ChunkFate,
}

/// What becomes of a BDAT chunk once its octets are in; decided when the command arrives.
#[derive(Debug)]
enum ChunkFate {
    /// Part of the message body.
    Keep,
    /// Discarded, then refused with this reply. `error` says whether it counts as a bad command.
    Refuse { reply: Reply, error: bool },
    /// Discarded without any reply: BDAT LAST with no accepted recipient (RFC 2033 §4.3).
    Silent,
}

/// The mail transaction in progress.
#[derive(Debug)]
struct Envelope {
    reverse_path: String,
    params: MailParams,
    recipients: Vec<String>,
    /// The body while it arrives: from 354, or from the first accepted BDAT chunk.
    body: Option<Body>,
    chunking: Chunking,
}

/// Where a transaction stands with BDAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunking {
    NotStarted,
    Receiving,
    /// A chunk was refused: further BDATs get 503 until RSET.
    Failed,
}

impl Session {
    /// A new session; nothing is queued until [`greeting`](Self::greeting).
    pub fn new(config: Arc<Config>) -> Session {
        Session {
            config,
            input: Vec::new(),
            input_pos: 0,
            partial_line: Vec::new(),
            discarding_line: false,
            output: Vec::new(),
            phase: Phase::Command,
            lhlo: None,
            tx: None,
            errors: 0,
            shutdown: false,
            eof: false,
            next_body_id: 1,
        }
    }

    /// Queues the `220` greeting.
    pub fn greeting(&mut self) {
        let greeting = Reply::greeting(&self.config.hostname);
        self.reply(&greeting);
    }

    /// Appends bytes read from the client. Ignored once the session is closed.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.phase, Phase::Closed) {
            self.input.extend_from_slice(bytes);
        }
    }

    /// The client closed its side: the next `poll` returns `Close` once input is consumed.
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// Advances the session as far as the buffered input allows.
    ///
    /// # Panics
    /// If a `Step::Rcpt` or `Step::Message` has not been answered yet: the shell must call
    /// `answer_rcpt` or `answer_message` first. That is a bug in the shell.
    pub fn poll(&mut self) -> Step {
        loop {
            match self.phase {
                Phase::Closed => return Step::Close,
                Phase::AwaitRcpt(_) => panic!("poll() while a RCPT verdict is awaited"),
                Phase::AwaitMessage(_) => panic!("poll() while end-of-data replies are awaited"),
                Phase::Command | Phase::Data(_) | Phase::Chunk(_) => {}
            }
            if self.input_pos == self.input.len() {
                self.input.clear();
                self.input_pos = 0;
                if self.eof {
                    self.close();
                    return Step::Close;
                }
                return Step::NeedInput;
            }
            let step = match self.phase {
                Phase::Command => self.read_command(),
                Phase::Data(_) => self.read_data(),
                Phase::Chunk(_) => self.read_chunk(),
                _ => None,
            };
            if let Some(step) = step {
                return step;
            }
        }
    }

    /// Answers the pending [`Step::Rcpt`]. An accepted recipient joins the transaction.
    pub fn answer_rcpt(&mut self, verdict: Verdict) -> Result<(), UsageError> {
        let Phase::AwaitRcpt(_) = self.phase else {
            return Err(UsageError::NoRcptPending);
        };
        let (reply, accepted) = match verdict {
            Verdict::Accept => (Reply::recipient_ok(), true),
            Verdict::AcceptWith(reply) if reply.is_positive() => (reply, true),
            Verdict::Reject(reply) if !reply.is_positive() => (reply, false),
            Verdict::AcceptWith(reply) | Verdict::Reject(reply) => {
                return Err(UsageError::InvalidReply { code: reply.code() });
            }
        };
        if !reply.is_recipient_reply() {
            return Err(UsageError::InvalidReply { code: reply.code() });
        }
        let Phase::AwaitRcpt(forward_path) = mem::replace(&mut self.phase, Phase::Command) else {
            unreachable!("checked above");
        };
        if accepted {
            // A pending RCPT implies a transaction: MAIL came first and nothing ended it since.
            if let Some(tx) = self.tx.as_mut() {
                tx.recipients.push(forward_path);
            }
        }
        self.reply(&reply);
        Ok(())
    }

    /// Answers the pending [`Step::Message`] with one reply per accepted recipient, in order.
    pub fn answer_message(&mut self, replies: Vec<Reply>) -> Result<(), UsageError> {
        let Phase::AwaitMessage(expected) = self.phase else {
            return Err(UsageError::NoMessagePending);
        };
        if replies.len() != expected {
            return Err(UsageError::ReplyCount {
                expected,
                got: replies.len(),
            });
        }
        if let Some(bad) = replies.iter().find(|r| !r.is_recipient_reply()) {
            return Err(UsageError::InvalidReply { code: bad.code() });
        }
        self.phase = Phase::Command;
        for reply in &replies {
            self.reply(reply);
        }
        if replies.iter().any(Reply::is_positive) {
            self.errors = 0;
        }
        self.check_shutdown();
        Ok(())
    }

    /// Takes the queued reply bytes, to be written to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        mem::take(&mut self.output)
    }

    /// True if reply bytes are queued.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// True while a message body is arriving: after 354 until the end of data, and in a BDAT
    /// transaction from the first accepted chunk until BDAT LAST. Use the data timeout then.
    pub fn in_data(&self) -> bool {
        self.body().is_some()
    }

    /// The number of the body now arriving, if any; the same number is in
    /// [`Transaction::body_id`](super::Transaction::body_id). A body taken under a number that
    /// is no longer current and never reached a `Step::Message` was refused or abandoned.
    pub fn body_id(&self) -> Option<u64> {
        self.body().map(Body::id)
    }

    /// Octets of the arriving body buffered now (not yet taken).
    pub fn body_len(&self) -> usize {
        self.body().map_or(0, Body::buffered)
    }

    /// Drains the arriving body's buffer, e.g. to spill it to disk. Size limits still count
    /// what was taken.
    pub fn take_body(&mut self) -> Vec<u8> {
        self.tx
            .as_mut()
            .and_then(|tx| tx.body.as_mut())
            .map(Body::take)
            .unwrap_or_default()
    }

    /// The client's LHLO argument, once LHLO succeeded (for logs).
    pub fn lhlo_name(&self) -> Option<&str> {
        self.lhlo.as_deref()
    }

    /// The shell's timer expired: queue `421 4.4.2` and close.
    pub fn timeout(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            let reply = Reply::timeout(&self.config.hostname);
            self.reply(&reply);
            self.close();
        }
    }

    /// Graceful shutdown: with no transaction in progress, queue `421 4.3.2` and close now;
    /// otherwise let the transaction finish (DATA and its replies included) and close with
    /// that 421 as soon as it ends. Call `poll` afterwards.
    pub fn begin_shutdown(&mut self) {
        self.shutdown = true;
        if !matches!(self.phase, Phase::AwaitRcpt(_) | Phase::AwaitMessage(_)) {
            self.check_shutdown();
        }
    }

    /// True once the session has closed (QUIT, timeout, shutdown, error limit, end of input).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    fn body(&self) -> Option<&Body> {
        self.tx.as_ref().and_then(|tx| tx.body.as_ref())
    }

    /// Reads and executes one command line, if a whole one is buffered.
    fn read_command(&mut self) -> Option<Step> {
        let rest = &self.input[self.input_pos..];
        let Some(lf) = memchr(b'\n', rest) else {
            // No line end yet: keep the start, unless it is already too long.
            if !self.discarding_line {
                if self.partial_line.len() + rest.len() >= self.config.max_command_line {
                    self.discarding_line = true;
                    self.partial_line = Vec::new();
                } else {
                    self.partial_line.extend_from_slice(rest);
                }
            }
            self.input_pos = self.input.len();
            return None;
        };
        let end = self.input_pos + lf + 1;
        let too_long =
            self.discarding_line || self.partial_line.len() + lf + 1 > self.config.max_command_line;
        let command = if too_long {
            None
        } else if self.partial_line.is_empty() {
            Some(command::parse(&self.input[self.input_pos..end]))
        } else {
            self.partial_line
                .extend_from_slice(&self.input[self.input_pos..end]);
            Some(command::parse(&self.partial_line))
        };
        self.input_pos = end;
        self.partial_line.clear();
        self.discarding_line = false;
        let step = match command {
            Some(command) => self.execute(command),
            None => {
                self.error(Reply::command_too_long());
                None
            }
        };
        self.check_shutdown();
        step
    }

    /// Queues a reply.
    fn reply(&mut self, reply: &Reply) {
        reply.write_to(&mut self.output);
    }

    /// Queues the reply to a bad command, and closes with 421 at the error limit.
    fn error(&mut self, reply: Reply) {
        self.reply(&reply);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.reply(&Reply::too_many_errors());
            self.close();
        }
    }

    /// After a shutdown request, closes with 421 as soon as no transaction is in progress.
    /// A message waiting for its end-of-data replies is still in progress: its transaction
    /// has been handed to the shell, but the replies are owed first.
    fn check_shutdown(&mut self) {
        let owed = matches!(self.phase, Phase::AwaitRcpt(_) | Phase::AwaitMessage(_));
        if self.shutdown && self.tx.is_none() && !owed && !matches!(self.phase, Phase::Closed) {
            self.reply(&Reply::shutting_down());
            self.close();
        }
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.tx = None;
        self.input = Vec::new();
        self.input_pos = 0;
        self.partial_line = Vec::new();
    }

    /// A fresh body for the transaction in progress.
    fn new_body(&mut self) -> Body {
        let id = self.next_body_id;
        self.next_body_id += 1;
        Body::new(id, &self.config)
    }

    /// Executes one parsed command.
    fn execute(&mut self, command: Command) -> Option<Step> {
        match command {
            Command::Lhlo(result) => self.handle_lhlo(result),
            Command::Helo => self.error(Reply::use_lhlo()),
            Command::Mail(result) => self.handle_mail(result),
            Command::Rcpt(result) => return self.handle_rcpt(result),
            Command::Data(result) => self.handle_data(result),
            Command::Bdat(result) => return self.handle_bdat(result),
            Command::Rset(result) => self.handle_rset(result),
            Command::Noop => self.reply(&Reply::ok()),
            Command::Quit => {
                self.reply(&Reply::bye());
                self.close();
            }
            Command::Vrfy(Ok(())) => self.reply(&Reply::cannot_vrfy()),
            Command::Vrfy(Err(reply)) => self.error(reply),
            Command::Expn => self.error(Reply::expn_refused()),
            Command::Help => {
                let help = Reply::help(self.config.chunking);
                self.reply(&help);
            }
            Command::NotImplemented => self.error(Reply::not_implemented()),
            Command::Unknown => self.error(Reply::unknown_command()),
        }
        None
    }
}
