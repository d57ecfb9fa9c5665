//! One mail transaction (MAIL, RCPTs, DATA or BDAT, body) on a ready session, as a state
//! machine that turns server replies into client bytes and per-recipient outcomes.
//!
//! How commands are grouped depends on what the server offers:
//! - **PIPELINING**: MAIL, every RCPT and DATA in one write, then the replies; the body only
//!   after the 354 (RFC 2920: DATA is the synchronisation point). Past a thousand recipients
//!   the RCPTs go in groups, so that replies never pile up unread ([`WINDOW`]).
//! - **PIPELINING + CHUNKING (SMTP)**, when configured: MAIL, every RCPT, `BDAT <n> LAST` and
//!   the body in one write, with no 354 round trip.
//! - **LMTP + CHUNKING**: MAIL and every RCPT in one write; `BDAT <n> LAST` and the body only
//!   once an RCPT was accepted, because an LMTP server answers BDAT LAST with *no* reply at all
//!   when no recipient was accepted (RFC 2033 §4.3), which a pipelining client cannot tell
//!   from a slow one.
//! - **No PIPELINING**: lock-step, one command per reply.
//!
//! When no RCPT is accepted, no body is sent: the server refuses the pipelined DATA and the
//! client sends RSET; if an SMTP server answers 354 anyway, the client ends the data with a
//! lone `.` (RFC 2197). In LMTP that 354 is a protocol violation. Outcomes follow `trouble`.
//!
//! This module does no I/O and keeps no clock: the shell writes what it is given, reads when
//! asked, and enforces the timeout [`Step`] names.

use super::body::{BodyEncoder, Framing, encoded_len};
use super::command::{self, MailParams};
use super::session::{Expect, Session, State, Step, Timer};
use crate::envelope::{is_writable_path, needs_smtputf8};
use crate::outcome::RcptOutcome;
use crate::reply::Reply;
use crate::trouble::{self, SessionError, SessionErrorKind, Stage};

/// The most body octets appended to the output buffer per step: large enough that a typical
/// message goes out in one write with its terminator, small enough to bound the buffer.
const PIECE: usize = 256 * 1024;

/// The most RCPT replies a pipelining client leaves due. Beyond it the client would write
/// while the server's replies pile up unread, and a server that stops reading until its
/// replies drain would deadlock with it; when half the window is answered, the next RCPTs go.
const WINDOW: usize = 1000;

/// How the commands of this transaction are grouped (see the module doc).
#[derive(Debug, Clone, Copy)]
struct Plan {
    pipelined: bool,
    bdat: bool,
    bdat_with_envelope: bool,
    lmtp: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Running,
    Body,
    Done,
}

/// A transaction in progress on a borrowed [`Session`].
///
/// Drive it with [`Transaction::pump`] (and [`Transaction::receive`] after each read) until
/// it returns [`Step::Done`], then call [`Transaction::finish`]. If the shell fails (I/O error,
/// timeout, end of stream), call [`Transaction::fail`] instead.
pub struct Transaction<'a> {
    session: &'a mut Session,
    mail_from: &'a str,
    rcpts: &'a [String],
    body: &'a [u8],
    plan: Plan,
    phase: Phase,
    outcomes: Vec<Option<RcptOutcome>>,
    accepted: Vec<usize>,
    next_rcpt: usize,
    rcpt_replies_due: usize,
    mail_accepted: bool,
    mail_refusal: Option<Reply>,
    encoder: BodyEncoder,
    end_of_data_sent: bool,
    failure: Option<(SessionErrorKind, Stage)>,
}

impl<'a> Transaction<'a> {
    pub(crate) fn new(
        session: &'a mut Session,
        mail_from: &'a str,
        rcpts: &'a [String],
        body: &'a [u8],
    ) -> Transaction<'a> {
        let capabilities = &session.capabilities;
        let lmtp = session.config.lmtp;
        let bdat = session.config.use_chunking && capabilities.chunking;
        let plan = Plan {
            pipelined: capabilities.pipelining,
            bdat,
            bdat_with_envelope: bdat && capabilities.pipelining && !lmtp,
            lmtp,
        };
        Transaction {
            session,
            mail_from,
            rcpts,
            body,
            plan,
            phase: Phase::Start,
            outcomes: vec![None; rcpts.len()],
            accepted: Vec::new(),
            next_rcpt: 0,
            rcpt_replies_due: 0,
            mail_accepted: false,
            mail_refusal: None,
            encoder: BodyEncoder::new(if bdat { Framing::Bdat } else { Framing::Data }),
            end_of_data_sent: false,
            failure: None,
        }
    }

    /// Buffers bytes read from the server.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.session.reader.push(bytes);
    }

    /// Advances the transaction: consumes buffered replies, appends commands or body octets to
    /// `out`, and says what the shell must do next.
    pub fn pump(&mut self, out: &mut Vec<u8>) -> Step {
        if self.phase == Phase::Start {
            self.start(out);
        }
        // Replies are taken only while nothing is waiting to be written and no body is being
        // sent, so that a reply is never applied before the command it answers went out.
        while self.phase == Phase::Running && out.is_empty() {
            let Some(&expect) = self.session.expects.front() else {
                break;
            };
            match self.session.reader.next_reply() {
                Ok(None) => break,
                Ok(Some(reply)) => {
                    self.session.expects.pop_front();
                    if let Err((kind, stage)) = self.on_reply(expect, reply, out) {
                        self.abort(kind, stage, out);
                    }
                }
                Err(violation) => {
                    self.abort(SessionErrorKind::Protocol(violation), expect.stage(), out);
                }
            }
        }
        if self.phase == Phase::Body && out.len() < PIECE {
            if self.encoder.encode_piece(self.body, PIECE - out.len(), out) {
                self.end_of_body();
            }
            return Step::Write(Timer::Data);
        }
        if self.phase == Phase::Done {
            return Step::Done;
        }
        if !out.is_empty() {
            let timer = if self.end_of_data_sent {
                Timer::Data
            } else {
                Timer::Command
            };
            return Step::Write(timer);
        }
        match self.session.expects.front() {
            Some(expect) => Step::Read(expect.timer()),
            None => {
                self.phase = Phase::Done;
                self.session.state = State::Ready;
                Step::Done
            }
        }
    }

    /// Ends the transaction on a failure the shell saw (I/O error, timeout, end of stream):
    /// the session ends, and every recipient not yet answered is deferred.
    pub fn fail(mut self, kind: SessionErrorKind) -> SessionError {
        let stage = self.stage();
        self.abort(kind, stage, &mut Vec::new());
        match self.finish() {
            Err(error) => error,
            // `abort` recorded a failure, so `finish` returns it.
            Ok(_) => unreachable!("a failed transaction finishes with its failure"),
        }
    }

    /// The result once [`Transaction::pump`] returned [`Step::Done`]: one outcome per
    /// recipient, in envelope order; `Err` when the session failed on the way (the outcomes
    /// are then inside the error). Called earlier, the transaction counts as interrupted.
    pub fn finish(mut self) -> Result<Vec<RcptOutcome>, SessionError> {
        if self.phase != Phase::Done {
            let stage = self.stage();
            self.abort(SessionErrorKind::Interrupted, stage, &mut Vec::new());
        }
        let mail_refusal = self.mail_refusal.take().map(trouble::outcome_for_refusal);
        let unanswered = self
            .failure
            .as_ref()
            .map(|(kind, stage)| trouble::unanswered_outcome(kind, *stage));
        let outcomes = self
            .outcomes
            .into_iter()
            .map(|outcome| {
                outcome
                    .or_else(|| mail_refusal.clone())
                    .or_else(|| unanswered.clone())
                    // Every path to Done answers every recipient; this is only a safety net.
                    .unwrap_or_else(|| {
                        trouble::unanswered_outcome(
                            &SessionErrorKind::Interrupted,
                            Stage::EndOfData,
                        )
                    })
            })
            .collect();
        match self.failure {
            None => Ok(outcomes),
            Some((kind, stage)) => Err(SessionError::with_outcomes(
                kind,
                stage,
                outcomes,
                self.end_of_data_sent,
            )),
        }
    }

    /// Where the transaction stands, for reporting a failure.
    fn stage(&self) -> Stage {
        if self.phase == Phase::Body {
            return Stage::Body;
        }
        self.session
            .expects
            .front()
            .map_or(Stage::Mail, |expect| expect.stage())
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        self.phase = Phase::Running;
        if self.session.state != State::Ready {
            self.abort(SessionErrorKind::Ended, Stage::Mail, out);
            return;
        }
        if !is_writable_path(self.mail_from) {
            self.outcomes.fill(Some(trouble::unwritable_sender()));
            self.phase = Phase::Done;
            return;
        }
        for (outcome, rcpt) in self.outcomes.iter_mut().zip(self.rcpts) {
            if rcpt.is_empty() || !is_writable_path(rcpt) {
                *outcome = Some(trouble::unwritable_recipient());
            }
        }
        if self.outcomes.iter().all(Option::is_some) {
            self.phase = Phase::Done;
            return;
        }
        self.session.state = State::Busy;
        let capabilities = &self.session.capabilities;
        let params = MailParams {
            size: capabilities.size.map(|_| self.body.len()),
            eight_bit: capabilities.eight_bit_mime && !self.body.is_ascii(),
            smtputf8: capabilities.smtputf8 && needs_smtputf8(self.mail_from, self.rcpts),
        };
        command::mail_from(out, self.mail_from, params);
        self.session.expects.push_back(Expect::Mail);
        if !self.plan.pipelined {
            return;
        }
        self.send_rcpt_group(out);
    }

    /// Pipelining: appends RCPTs until [`WINDOW`] replies are due or none is left, and after
    /// the last one the DATA or BDAT that goes with the envelope.
    fn send_rcpt_group(&mut self, out: &mut Vec<u8>) {
        while self.rcpt_replies_due < WINDOW && self.send_next_rcpt(out) {}
        if self.next_rcpt < self.rcpts.len() {
            return;
        }
        if self.plan.bdat_with_envelope {
            command::bdat_last(out, encoded_len(self.body));
            self.session.expects.push_back(Expect::Bdat);
            self.phase = Phase::Body;
        } else if !self.plan.bdat {
            command::data(out);
            self.session.expects.push_back(Expect::Data);
        }
    }

    /// Appends the RCPT of the next writable recipient; `false` when none is left.
    fn send_next_rcpt(&mut self, out: &mut Vec<u8>) -> bool {
        while self.next_rcpt < self.rcpts.len() {
            let index = self.next_rcpt;
            self.next_rcpt += 1;
            if self.outcomes[index].is_none() {
                command::rcpt_to(out, &self.rcpts[index]);
                self.session.expects.push_back(Expect::Rcpt(index));
                self.rcpt_replies_due += 1;
                return true;
            }
        }
        false
    }

    /// After the last RCPT reply, when DATA or BDAT was not pipelined with the envelope.
    fn finish_envelope(&mut self, out: &mut Vec<u8>) {
        if self.accepted.is_empty() {
            command::rset(out);
            self.session.expects.push_back(Expect::Rset);
        } else if self.plan.bdat {
            command::bdat_last(out, encoded_len(self.body));
            if self.plan.lmtp {
                let deliveries = self.accepted.iter().map(|&i| Expect::Delivery(i));
                self.session.expects.extend(deliveries);
            } else {
                self.session.expects.push_back(Expect::Bdat);
            }
            self.phase = Phase::Body;
        } else {
            command::data(out);
            self.session.expects.push_back(Expect::Data);
        }
    }

    /// The body (and, for DATA, its terminator) is entirely in the output buffer.
    fn end_of_body(&mut self) {
        self.end_of_data_sent = true;
        self.phase = Phase::Running;
        if !self.plan.bdat {
            if self.plan.lmtp {
                let deliveries = self.accepted.iter().map(|&i| Expect::Delivery(i));
                self.session.expects.extend(deliveries);
            } else {
                self.session.expects.push_back(Expect::EndOfData);
            }
        }
    }

    /// Applies one reply; `Err` ends the session.
    fn on_reply(
        &mut self,
        expect: Expect,
        reply: Reply,
        out: &mut Vec<u8>,
    ) -> Result<(), (SessionErrorKind, Stage)> {
        if reply.code == 421 {
            return Err((SessionErrorKind::Refused(reply), expect.stage()));
        }
        if reply.is_intermediate() && expect != Expect::Data {
            let violation = format!("intermediate reply {reply} where none is allowed");
            return Err((SessionErrorKind::Protocol(violation), expect.stage()));
        }
        match expect {
            Expect::Mail => {
                if reply.is_positive() {
                    self.mail_accepted = true;
                    if !self.plan.pipelined && !self.send_next_rcpt(out) {
                        self.finish_envelope(out);
                    }
                } else {
                    self.mail_refusal = Some(reply);
                }
            }
            Expect::Rcpt(index) => {
                self.rcpt_replies_due -= 1;
                if self.mail_refusal.is_none() {
                    if reply.is_positive() {
                        self.accepted.push(index);
                    } else {
                        self.outcomes[index] = Some(trouble::outcome_for_refusal(reply));
                    }
                }
                let all_sent = self.next_rcpt == self.rcpts.len();
                let envelope_done = if self.plan.pipelined {
                    if !all_sent && self.rcpt_replies_due <= WINDOW / 2 && self.mail_accepted {
                        self.send_rcpt_group(out);
                    }
                    all_sent
                        && self.plan.bdat
                        && !self.plan.bdat_with_envelope
                        && self.rcpt_replies_due == 0
                } else {
                    !self.send_next_rcpt(out)
                };
                if envelope_done && self.mail_accepted {
                    self.finish_envelope(out);
                }
            }
            Expect::Data => self.on_data_reply(reply, out)?,
            Expect::Bdat | Expect::EndOfData => {
                let transaction_open = self.mail_accepted && !self.accepted.is_empty();
                let positive = reply.is_positive();
                if transaction_open {
                    let outcome = if positive {
                        RcptOutcome::Delivered
                    } else {
                        trouble::outcome_for_refusal(reply)
                    };
                    for &index in &self.accepted {
                        self.outcomes[index] = Some(outcome.clone());
                    }
                }
                // A refused BDAT leaves the transaction half open (RFC 3030 §2).
                if expect == Expect::Bdat && self.mail_accepted && !(positive && transaction_open) {
                    command::rset(out);
                    self.session.expects.push_back(Expect::Rset);
                }
            }
            Expect::Delivery(index) => {
                self.outcomes[index] = Some(if reply.is_positive() {
                    RcptOutcome::Delivered
                } else {
                    trouble::outcome_for_refusal(reply)
                });
            }
            Expect::Dot => {}
            Expect::Rset => {
                if !reply.is_positive() {
                    return Err((SessionErrorKind::Refused(reply), Stage::Rset));
                }
            }
            Expect::Greeting | Expect::Hello | Expect::Helo | Expect::Quit => {
                let violation = format!("reply {reply} for {expect:?} inside a transaction");
                return Err((SessionErrorKind::Protocol(violation), expect.stage()));
            }
        }
        Ok(())
    }

    fn on_data_reply(
        &mut self,
        reply: Reply,
        out: &mut Vec<u8>,
    ) -> Result<(), (SessionErrorKind, Stage)> {
        let transaction_open = self.mail_accepted && !self.accepted.is_empty();
        if reply.code == 354 {
            if transaction_open {
                self.phase = Phase::Body;
            } else if self.plan.lmtp {
                let violation = "354 to DATA although no recipient was accepted".to_string();
                return Err((SessionErrorKind::Protocol(violation), Stage::Data));
            } else {
                command::lone_dot(out);
                self.session.expects.push_back(Expect::Dot);
            }
        } else if reply.is_positive() {
            let violation = format!("positive reply {reply} to DATA");
            return Err((SessionErrorKind::Protocol(violation), Stage::Data));
        } else {
            for &index in &self.accepted {
                self.outcomes[index] = Some(trouble::outcome_for_refusal(reply.clone()));
            }
            if self.mail_accepted {
                command::rset(out);
                self.session.expects.push_back(Expect::Rset);
            }
        }
        Ok(())
    }

    /// Ends the session: nothing more is written, unanswered recipients will be deferred.
    fn abort(&mut self, kind: SessionErrorKind, stage: Stage, out: &mut Vec<u8>) {
        if self.failure.is_none() {
            self.failure = Some((kind, stage));
        }
        out.clear();
        self.phase = Phase::Done;
        self.session.state = State::Ended;
        self.session.expects.clear();
    }
}
