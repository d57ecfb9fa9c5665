//! One client session outside its transactions: the greeting, EHLO/LHLO (with the HELO
//! fallback for SMTP), the capabilities, and QUIT.
//!
//! The session owns what outlives a transaction: the buffered server input, the queue of
//! replies still expected, and the capabilities. Transactions borrow it (see `transaction`).
//! STARTTLS and AUTH would slot in between the hello and [`State::Ready`]; they are not
//! implemented yet, and nothing here sends them.

use std::collections::VecDeque;

use super::capabilities::Capabilities;
use super::command;
use super::pipeline::Pipeline;
use super::reader::ReplyReader;
use super::transaction::Transaction;
use crate::trouble::{SessionError, SessionErrorKind, Stage};

/// What the protocol core needs to know about the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The name sent in EHLO/LHLO/HELO.
    pub helo_name: String,
    /// LMTP (RFC 2033): LHLO, no HELO fallback, one reply per accepted recipient after the data.
    pub lmtp: bool,
    /// Use `BDAT <n> LAST` instead of DATA when the server offers CHUNKING.
    pub use_chunking: bool,
}

/// What the I/O shell must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write the whole output buffer to the server, clear it, then call again.
    Write(Timer),
    /// Read from the server, hand the bytes to `receive`, then call again.
    Read(Timer),
    /// The operation is complete.
    Done,
}

/// Which configured timeout bounds the current wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Greeting, hello, MAIL, RCPT, DATA (until 354), RSET and QUIT.
    Command,
    /// Sending the body, and waiting for the reply or replies to the end of data.
    Data,
}

/// A reply the session is waiting for, in the order the commands were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Greeting,
    Hello,
    Helo,
    Mail,
    /// The reply to the RCPT of recipient number `n` of the envelope.
    Rcpt(usize),
    Data,
    /// The single SMTP reply to `BDAT <n> LAST`.
    Bdat,
    /// The single SMTP reply to the end of data.
    EndOfData,
    /// LMTP: the reply for accepted recipient number `n` after the end of data or BDAT LAST.
    Delivery(usize),
    /// The reply to the lone `.` sent after an unexpected 354.
    Dot,
    Rset,
    Quit,
}

impl Expect {
    /// The stage a failure while waiting for this reply is reported at.
    pub(crate) fn stage(self) -> Stage {
        match self {
            Expect::Greeting => Stage::Greeting,
            Expect::Hello | Expect::Helo => Stage::Hello,
            Expect::Mail => Stage::Mail,
            Expect::Rcpt(_) => Stage::Rcpt,
            Expect::Data => Stage::Data,
            Expect::Bdat | Expect::EndOfData | Expect::Delivery(_) | Expect::Dot => {
                Stage::EndOfData
            }
            Expect::Rset => Stage::Rset,
            Expect::Quit => Stage::Quit,
        }
    }

    /// The timeout that bounds waiting for this reply.
    pub(crate) fn timer(self) -> Timer {
        match self {
            Expect::Bdat | Expect::EndOfData | Expect::Delivery(_) => Timer::Data,
            _ => Timer::Command,
        }
    }
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Greeting or hello outstanding.
    Opening,
    /// Ready for a transaction.
    Ready,
    /// A transaction is running.
    Busy,
    /// QUIT sent.
    Quitting,
    /// Failed or closed: never usable again.
    Ended,
}

/// The client side of one SMTP or LMTP session, without I/O.
pub struct Session {
    pub(crate) config: SessionConfig,
    pub(crate) reader: ReplyReader,
    pub(crate) expects: VecDeque<Expect>,
    pub(crate) capabilities: Capabilities,
    pub(crate) state: State,
}

impl Session {
    /// A session waiting for the server's greeting.
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            reader: ReplyReader::default(),
            expects: VecDeque::from([Expect::Greeting]),
            capabilities: Capabilities::default(),
            state: State::Opening,
        }
    }

    /// Buffers bytes read from the server.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.reader.push(bytes);
    }

    /// What the server offered in its EHLO/LHLO reply.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The configuration the session was made with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether a transaction can start now.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// Whether the session failed or was closed; it can never be used again.
    pub fn has_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// Drives the opening (greeting, hello) or the closing (after [`Session::quit`]); appends
    /// commands to `out`. `Done` means ready for transactions, or closed after QUIT.
    pub fn pump(&mut self, out: &mut Vec<u8>) -> Result<Step, SessionError> {
        // A reply is never applied before the command it answers was written.
        while out.is_empty()
            && let Some(&expect) = self.expects.front()
        {
            match self.reader.next_reply() {
                Ok(None) => break,
                Ok(Some(reply)) => {
                    self.expects.pop_front();
                    self.on_reply(expect, reply, out)?;
                }
                Err(violation) => {
                    return Err(self.fail_at(SessionErrorKind::Protocol(violation), expect.stage()));
                }
            }
        }
        if !out.is_empty() {
            return Ok(Step::Write(Timer::Command));
        }
        Ok(match self.expects.front() {
            Some(expect) => Step::Read(expect.timer()),
            None => Step::Done,
        })
    }

    /// Starts closing a ready session: appends QUIT to `out`. Further [`Session::pump`] calls
    /// wait for the reply; a session that is not ready simply ends.
    pub fn quit(&mut self, out: &mut Vec<u8>) {
        if self.state == State::Ready {
            command::quit(out);
            self.expects.push_back(Expect::Quit);
            self.state = State::Quitting;
        } else {
            self.state = State::Ended;
            self.expects.clear();
        }
    }

    /// Ends the session because of a failure the shell saw (I/O error, timeout, end of
    /// stream) outside a transaction.
    pub fn fail(&mut self, kind: SessionErrorKind) -> SessionError {
        let stage = self
            .expects
            .front()
            .map_or(Stage::Quit, |expect| expect.stage());
        self.fail_at(kind, stage)
    }

    /// Starts a transaction; see [`Transaction`].
    pub fn transaction<'a>(
        &'a mut self,
        mail_from: &'a str,
        rcpts: &'a [String],
        body: &'a [u8],
    ) -> Transaction<'a> {
        Transaction::new(self, mail_from, rcpts, body)
    }

    /// Starts a run of transactions, each with its own message, pipelined across
    /// transactions when the server allows it; see [`Pipeline`].
    pub fn pipeline(&mut self) -> Pipeline<'_> {
        Pipeline::new(self)
    }

    fn fail_at(&mut self, kind: SessionErrorKind, stage: Stage) -> SessionError {
        self.state = State::Ended;
        self.expects.clear();
        SessionError::new(kind, stage)
    }

    fn on_reply(
        &mut self,
        expect: Expect,
        reply: crate::reply::Reply,
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        match expect {
            Expect::Greeting if reply.is_positive() => {
                let verb = if self.config.lmtp { "LHLO" } else { "EHLO" };
                command::hello(out, verb, &self.config.helo_name);
                self.expects.push_back(Expect::Hello);
            }
            Expect::Hello if reply.is_positive() => {
                self.capabilities = Capabilities::parse(&reply.text);
                self.state = State::Ready;
            }
            // An old SMTP server that does not know EHLO: try HELO, with no extensions.
            Expect::Hello if !self.config.lmtp && reply.code >= 500 => {
                command::hello(out, "HELO", &self.config.helo_name);
                self.expects.push_back(Expect::Helo);
            }
            Expect::Helo if reply.is_positive() => {
                self.capabilities = Capabilities::default();
                self.state = State::Ready;
            }
            Expect::Quit => {
                self.state = State::Ended;
            }
            Expect::Greeting | Expect::Hello | Expect::Helo => {
                return Err(self.fail_at(SessionErrorKind::Refused(reply), expect.stage()));
            }
            other => {
                let violation = format!("reply {reply} while no transaction expects {other:?}");
                return Err(self.fail_at(SessionErrorKind::Protocol(violation), other.stage()));
            }
        }
        Ok(())
    }
}
