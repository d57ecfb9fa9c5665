//! One client session outside its transactions: the greeting, EHLO/LHLO (with the HELO
//! fallback for SMTP), the capabilities, and QUIT.
//!
//! The session owns what outlives a transaction: the buffered server input, the queue of
//! replies still expected, and the capabilities. Transactions borrow it (see `transaction`).
//!
//! STARTTLS and AUTH sit between the hello and [`State::Ready`], as [`SessionSecurity`] asks:
//! - **STARTTLS** (RFC 3207) after a hello that offers it. On its 220 the session stops
//!   ([`Session::wants_tls`]): the shell runs the handshake and calls
//!   [`Session::tls_established`], which throws away everything learnt before (buffered input,
//!   capabilities) and says EHLO again. Octets that came after the 220, before the handshake,
//!   are a protocol violation (response injection, CVE-2011-0411 style), never replies.
//!   `required` without STARTTLS on offer, or with it refused, ends the session politely (QUIT)
//!   before any mail; `opportunistic` goes on in plain text.
//! - **AUTH** (RFC 4954) once the session is encrypted, or in plain text only when allowed;
//!   see `auth`. A refusal (535) ends the session politely; it is a session failure, so every
//!   recipient is deferred, never failed.

use std::collections::VecDeque;

use super::auth::{self, AuthWait};
use super::capabilities::Capabilities;
use super::command;
use super::pipeline::Pipeline;
use super::reader::ReplyReader;
use super::transaction::Transaction;
use crate::security::{SessionSecurity, TlsMode};
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
    /// The reply to STARTTLS.
    StartTls,
    /// A reply in an AUTH exchange.
    Auth(AuthWait),
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
            Expect::StartTls => Stage::StartTls,
            Expect::Auth(_) => Stage::Auth,
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
    /// Boxed, as is `abandoned`: a connection's size matters to those who hold many.
    security: Box<SessionSecurity>,
    /// The 220 to STARTTLS came: the shell must run the handshake now.
    tls_wanted: bool,
    /// The session is encrypted (implicit TLS, or after STARTTLS).
    encrypted: bool,
    /// Why the session is being closed with QUIT before it was ready: reported once the
    /// QUIT is answered (or the connection goes away).
    abandoned: Option<Box<(SessionErrorKind, Stage)>>,
}

impl Session {
    /// A session waiting for the server's greeting.
    pub fn new(config: SessionConfig) -> Session {
        Session::with_security(config, SessionSecurity::default())
    }

    /// A session waiting for the server's greeting that will use STARTTLS and AUTH as
    /// `security` says.
    pub fn with_security(config: SessionConfig, security: SessionSecurity) -> Session {
        Session {
            config,
            reader: ReplyReader::default(),
            expects: VecDeque::from([Expect::Greeting]),
            capabilities: Capabilities::default(),
            state: State::Opening,
            encrypted: security.encrypted,
            security: Box::new(security),
            tls_wanted: false,
            abandoned: None,
        }
    }

    /// Whether the server accepted STARTTLS and the shell must now run the TLS handshake,
    /// then call [`Session::tls_established`] (or [`Session::fail`] if the handshake failed).
    pub fn wants_tls(&self) -> bool {
        self.tls_wanted
    }

    /// The TLS handshake after STARTTLS succeeded: everything learnt in plain text is
    /// forgotten and EHLO/LHLO is sent again (appended to `out`).
    pub fn tls_established(&mut self, out: &mut Vec<u8>) {
        self.tls_wanted = false;
        self.encrypted = true;
        self.reader = ReplyReader::default();
        self.capabilities = Capabilities::default();
        self.say_hello(out);
    }

    /// Whether the session is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
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

    /// Drives the opening (greeting, hello, STARTTLS, AUTH) or the closing (after
    /// [`Session::quit`]); appends commands to `out`. `Done` means ready for transactions,
    /// closed after QUIT, or (when [`Session::wants_tls`]) that the shell must run the TLS
    /// handshake now. An `Err` after a polite QUIT (TLS required but not offered, AUTH
    /// refused) carries the reason.
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
        match self.expects.front() {
            Some(expect) => Ok(Step::Read(expect.timer())),
            None => match self.abandoned.take().map(|reason| *reason) {
                Some((kind, stage)) => Err(self.fail_at(kind, stage)),
                None => Ok(Step::Done),
            },
        }
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
        // A session being given up reports why, not how its QUIT went.
        if let Some((kind, stage)) = self.abandoned.take().map(|reason| *reason) {
            return self.fail_at(kind, stage);
        }
        let stage = match self.tls_wanted {
            true => Stage::Tls,
            false => self
                .expects
                .front()
                .map_or(Stage::Quit, |expect| expect.stage()),
        };
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
        self.tls_wanted = false;
        self.expects.clear();
        SessionError::new(kind, stage)
    }

    /// Gives the session up before any mail: QUIT now, the failure once it is answered.
    fn give_up(&mut self, kind: SessionErrorKind, stage: Stage, out: &mut Vec<u8>) {
        command::quit(out);
        self.expects.clear();
        self.expects.push_back(Expect::Quit);
        self.state = State::Quitting;
        self.abandoned = Some(Box::new((kind, stage)));
    }

    fn say_hello(&mut self, out: &mut Vec<u8>) {
        let verb = if self.config.lmtp { "LHLO" } else { "EHLO" };
        command::hello(out, verb, &self.config.helo_name);
        self.expects.push_back(Expect::Hello);
    }

    /// After a hello: STARTTLS if wanted and offered, else AUTH if configured, else ready.
    fn after_hello(&mut self, out: &mut Vec<u8>) {
        let wants_starttls = matches!(
            self.security.starttls,
            TlsMode::Opportunistic | TlsMode::Required
        );
        if wants_starttls && !self.encrypted {
            if self.capabilities.starttls {
                out.extend_from_slice(b"STARTTLS\r\n");
                self.expects.push_back(Expect::StartTls);
                return;
            }
            if self.security.starttls == TlsMode::Required {
                return self.give_up(SessionErrorKind::TlsNotOffered, Stage::Hello, out);
            }
        }
        self.authenticate(out);
    }

    /// AUTH if configured (and allowed on this session), else ready.
    fn authenticate(&mut self, out: &mut Vec<u8>) {
        let Some(credentials) = &self.security.credentials else {
            self.state = State::Ready;
            return;
        };
        if !self.encrypted && !self.security.plaintext_auth_ok {
            let why = "refusing to send the credentials over an unencrypted session \
                       (the relay is not on a loopback address; use TLS)";
            return self.give_up(SessionErrorKind::Auth(why.into()), Stage::Auth, out);
        }
        match auth::choose(credentials.mechanism, &self.capabilities.auth) {
            Ok(mechanism) => {
                let wait = auth::start(out, mechanism, credentials);
                self.expects.push_back(Expect::Auth(wait));
            }
            Err(why) => self.give_up(SessionErrorKind::Auth(why), Stage::Auth, out),
        }
    }

    fn on_auth_reply(&mut self, wait: AuthWait, reply: crate::reply::Reply, out: &mut Vec<u8>) {
        let done = matches!(wait, AuthWait::Plain | AuthWait::LoginDone);
        if done && reply.code == 235 {
            self.state = State::Ready;
            return;
        }
        if !done
            && reply.code == 334
            && let Some(credentials) = &self.security.credentials
            && let Some(next) = auth::answer(out, wait, credentials)
        {
            self.expects.push_back(Expect::Auth(next));
            return;
        }
        if !done && reply.code == 334 {
            return self.give_up(
                SessionErrorKind::Protocol(format!("unexpected AUTH prompt {reply}")),
                Stage::Auth,
                out,
            );
        }
        if reply.code == 334 {
            // A server asking for more after the last answer: cancel (RFC 4954 §4).
            out.extend_from_slice(b"*\r\n");
        }
        self.give_up(SessionErrorKind::AuthRefused(reply), Stage::Auth, out);
    }

    fn on_reply(
        &mut self,
        expect: Expect,
        reply: crate::reply::Reply,
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        match expect {
            Expect::Greeting if reply.is_positive() => self.say_hello(out),
            Expect::Hello if reply.is_positive() => {
                self.capabilities = Capabilities::parse(&reply.text);
                self.after_hello(out);
            }
            // An old SMTP server that does not know EHLO: try HELO, with no extensions.
            Expect::Hello if !self.config.lmtp && reply.code >= 500 => {
                command::hello(out, "HELO", &self.config.helo_name);
                self.expects.push_back(Expect::Helo);
            }
            Expect::Helo if reply.is_positive() => {
                self.capabilities = Capabilities::default();
                self.after_hello(out);
            }
            Expect::StartTls if reply.code == 220 => {
                if self.reader.has_unread() {
                    let violation = "octets after the 220 reply to STARTTLS, before the TLS \
                                     handshake (response injection)";
                    return Err(self.fail_at(
                        SessionErrorKind::Protocol(violation.into()),
                        Stage::StartTls,
                    ));
                }
                self.tls_wanted = true;
            }
            Expect::StartTls if self.security.starttls == TlsMode::Required => {
                self.give_up(
                    SessionErrorKind::StartTlsRefused(reply),
                    Stage::StartTls,
                    out,
                );
            }
            // Opportunistic: a refused STARTTLS leaves a usable plain session (RFC 3207 §4).
            Expect::StartTls => self.authenticate(out),
            Expect::Auth(wait) => self.on_auth_reply(wait, reply, out),
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
