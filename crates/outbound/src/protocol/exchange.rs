//! One mail transaction (MAIL, RCPTs, DATA or BDAT, body) as a state machine that turns server
//! replies into client bytes and per-recipient outcomes, whoever drives it.
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
//! An [`Exchange`] owns only its own progress. The session (buffered replies, the queue of
//! replies expected, capabilities) and the message are passed in on every call, so that a
//! driver can keep two exchanges on one session: `engine` runs them one after another, or
//! overlapped across the end of data when [`Exchange::chainable`] says so. What this module
//! does not do: decide which exchange a reply belongs to, or when the session is ready.

use super::body::{BodyEncoder, Framing, encoded_len};
use super::command::{self, MailParams};
use super::session::{Expect, Session, State};
use crate::envelope::{is_writable_path, needs_smtputf8};
use crate::outcome::RcptOutcome;
use crate::reply::Reply;
use crate::trouble::{self, SessionError, SessionErrorKind, Stage};

/// The most body octets appended to the output buffer per step: large enough that a typical
/// message goes out in one write with its terminator, small enough to bound the buffer.
pub(crate) const PIECE: usize = 256 * 1024;

/// The most RCPT replies a pipelining client leaves due. Beyond it the client would write
/// while the server's replies pile up unread, and a server that stops reading until its
/// replies drain would deadlock with it; when half the window is answered, the next RCPTs go.
const WINDOW: usize = 1000;

/// The parts of a message an exchange reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'p> {
    pub(crate) mail_from: &'p str,
    pub(crate) rcpts: &'p [String],
    pub(crate) body: &'p [u8],
}

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
    /// Commands and replies.
    Running,
    /// Sending the body (the server said 354, or BDAT went out).
    Body,
    /// Every recipient is decided, or the session failed.
    Done,
}

/// The progress of one transaction.
pub(crate) struct Exchange {
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

impl Exchange {
    /// Starts a transaction for `parts` on `session`, which the caller checked can take it:
    /// appends the first commands to `out`, or decides every recipient locally when no address
    /// can be written.
    pub(crate) fn start(session: &mut Session, parts: Parts<'_>, out: &mut Vec<u8>) -> Exchange {
        let capabilities = &session.capabilities;
        let lmtp = session.config.lmtp;
        let bdat = session.config.use_chunking && capabilities.chunking;
        let plan = Plan {
            pipelined: capabilities.pipelining,
            bdat,
            bdat_with_envelope: bdat && capabilities.pipelining && !lmtp,
            lmtp,
        };
        let mut exchange = Exchange {
            plan,
            phase: Phase::Running,
            outcomes: vec![None; parts.rcpts.len()],
            accepted: Vec::new(),
            next_rcpt: 0,
            rcpt_replies_due: 0,
            mail_accepted: false,
            mail_refusal: None,
            encoder: BodyEncoder::new(if bdat { Framing::Bdat } else { Framing::Data }),
            end_of_data_sent: false,
            failure: None,
        };
        exchange.send_envelope(session, parts, out);
        exchange
    }

    /// An exchange that never started because the session could not take it: every recipient
    /// is deferred with `kind`.
    pub(crate) fn refused(rcpts: usize, kind: SessionErrorKind) -> Exchange {
        Exchange {
            plan: Plan {
                pipelined: false,
                bdat: false,
                bdat_with_envelope: false,
                lmtp: false,
            },
            phase: Phase::Done,
            outcomes: vec![None; rcpts],
            accepted: Vec::new(),
            next_rcpt: 0,
            rcpt_replies_due: 0,
            mail_accepted: false,
            mail_refusal: None,
            encoder: BodyEncoder::new(Framing::Data),
            end_of_data_sent: false,
            failure: Some((kind, Stage::Mail)),
        }
    }

    /// Whether every recipient is decided (or the session failed).
    pub(crate) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Whether body octets are still to be appended.
    pub(crate) fn in_body(&self) -> bool {
        self.phase == Phase::Body
    }

    /// Whether the next transaction may be written right behind this one: the server offers
    /// PIPELINING, the body went with DATA and its end-of-data dot is out, so that all this
    /// transaction still waits for is the reply (SMTP) or replies (LMTP) to the dot, after
    /// which the server's transaction is over whatever they say (RFC 2920 §3.1 lets the
    /// message content start a command group). Not after BDAT: a refused BDAT leaves the
    /// transaction open and needs an RSET before the next MAIL.
    pub(crate) fn chainable(&self) -> bool {
        self.plan.pipelined
            && !self.plan.bdat
            && self.end_of_data_sent
            && self.phase == Phase::Running
    }

    /// Appends the next piece of the body to `out` (see [`PIECE`]); once the whole body is in,
    /// waits for the end-of-data replies.
    pub(crate) fn encode_body(&mut self, session: &mut Session, body: &[u8], out: &mut Vec<u8>) {
        if self.phase != Phase::Body {
            return;
        }
        let budget = PIECE.saturating_sub(out.len()).max(1);
        if self.encoder.encode_piece(body, budget, out) {
            self.end_of_data_sent = true;
            self.phase = Phase::Running;
            if !self.plan.bdat {
                if self.plan.lmtp {
                    let deliveries = self.accepted.iter().map(|&i| Expect::Delivery(i));
                    session.expects.extend(deliveries);
                } else {
                    session.expects.push_back(Expect::EndOfData);
                }
            }
        }
    }

    /// Marks the exchange complete once the session expects nothing more of it.
    pub(crate) fn complete(&mut self) {
        self.phase = Phase::Done;
    }

    /// Records a session failure: nothing more is written, unanswered recipients are deferred.
    pub(crate) fn fail(&mut self, kind: SessionErrorKind, stage: Stage) {
        if self.failure.is_none() {
            self.failure = Some((kind, stage));
        }
        self.phase = Phase::Done;
    }

    /// Where the exchange stands for reporting a failure, given the first reply it waits for.
    pub(crate) fn stage(&self, first_expected: Option<Expect>) -> Stage {
        if self.phase == Phase::Body {
            return Stage::Body;
        }
        first_expected.map_or(Stage::Mail, Expect::stage)
    }

    /// One outcome per recipient, in envelope order; `Err` when the session failed on the way
    /// (the outcomes are then inside the error). The exchange must be done.
    pub(crate) fn finish(self) -> Result<Vec<RcptOutcome>, SessionError> {
        let mail_refusal = self.mail_refusal.map(trouble::outcome_for_refusal);
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

    fn send_envelope(&mut self, session: &mut Session, parts: Parts<'_>, out: &mut Vec<u8>) {
        if !is_writable_path(parts.mail_from) {
            self.outcomes.fill(Some(trouble::unwritable_sender()));
            self.phase = Phase::Done;
            return;
        }
        for (outcome, rcpt) in self.outcomes.iter_mut().zip(parts.rcpts) {
            if rcpt.is_empty() || !is_writable_path(rcpt) {
                *outcome = Some(trouble::unwritable_recipient());
            }
        }
        if self.outcomes.iter().all(Option::is_some) {
            self.phase = Phase::Done;
            return;
        }
        session.state = State::Busy;
        let capabilities = &session.capabilities;
        let params = MailParams {
            size: capabilities.size.map(|_| parts.body.len()),
            eight_bit: capabilities.eight_bit_mime && !parts.body.is_ascii(),
            smtputf8: capabilities.smtputf8 && needs_smtputf8(parts.mail_from, parts.rcpts),
        };
        command::mail_from(out, parts.mail_from, params);
        session.expects.push_back(Expect::Mail);
        if self.plan.pipelined {
            self.send_rcpt_group(session, parts, out);
        }
    }

    /// Pipelining: appends RCPTs until [`WINDOW`] replies are due or none is left, and after
    /// the last one the DATA or BDAT that goes with the envelope.
    fn send_rcpt_group(&mut self, session: &mut Session, parts: Parts<'_>, out: &mut Vec<u8>) {
        while self.rcpt_replies_due < WINDOW && self.send_next_rcpt(session, parts.rcpts, out) {}
        if self.next_rcpt < parts.rcpts.len() {
            return;
        }
        if self.plan.bdat_with_envelope {
            command::bdat_last(out, encoded_len(parts.body));
            session.expects.push_back(Expect::Bdat);
            self.phase = Phase::Body;
        } else if !self.plan.bdat {
            command::data(out);
            session.expects.push_back(Expect::Data);
        }
    }

    /// Appends the RCPT of the next writable recipient; `false` when none is left.
    fn send_next_rcpt(
        &mut self,
        session: &mut Session,
        rcpts: &[String],
        out: &mut Vec<u8>,
    ) -> bool {
        while self.next_rcpt < rcpts.len() {
            let index = self.next_rcpt;
            self.next_rcpt += 1;
            if self.outcomes[index].is_none() {
                command::rcpt_to(out, &rcpts[index]);
                session.expects.push_back(Expect::Rcpt(index));
                self.rcpt_replies_due += 1;
                return true;
            }
        }
        false
    }

    /// After the last RCPT reply, when DATA or BDAT was not pipelined with the envelope.
    fn finish_envelope(&mut self, session: &mut Session, parts: Parts<'_>, out: &mut Vec<u8>) {
        if self.accepted.is_empty() {
            command::rset(out);
            session.expects.push_back(Expect::Rset);
        } else if self.plan.bdat {
            command::bdat_last(out, encoded_len(parts.body));
            if self.plan.lmtp {
                let deliveries = self.accepted.iter().map(|&i| Expect::Delivery(i));
                session.expects.extend(deliveries);
            } else {
                session.expects.push_back(Expect::Bdat);
            }
            self.phase = Phase::Body;
        } else {
            command::data(out);
            session.expects.push_back(Expect::Data);
        }
    }

    /// Applies one reply, which answers `expect`; `Err` ends the session.
    pub(crate) fn on_reply(
        &mut self,
        session: &mut Session,
        parts: Parts<'_>,
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
                    if !self.plan.pipelined && !self.send_next_rcpt(session, parts.rcpts, out) {
                        self.finish_envelope(session, parts, out);
                    }
                } else {
                    self.mail_refusal = Some(reply);
                }
            }
            Expect::Rcpt(index) => self.on_rcpt_reply(session, parts, index, reply, out),
            Expect::Data => self.on_data_reply(session, reply, out)?,
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
                    session.expects.push_back(Expect::Rset);
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
            Expect::Greeting
            | Expect::Hello
            | Expect::Helo
            | Expect::StartTls
            | Expect::Auth(_)
            | Expect::Quit => {
                let violation = format!("reply {reply} for {expect:?} inside a transaction");
                return Err((SessionErrorKind::Protocol(violation), expect.stage()));
            }
        }
        Ok(())
    }

    fn on_rcpt_reply(
        &mut self,
        session: &mut Session,
        parts: Parts<'_>,
        index: usize,
        reply: Reply,
        out: &mut Vec<u8>,
    ) {
        self.rcpt_replies_due -= 1;
        if self.mail_refusal.is_none() {
            if reply.is_positive() {
                self.accepted.push(index);
            } else {
                self.outcomes[index] = Some(trouble::outcome_for_refusal(reply));
            }
        }
        let all_sent = self.next_rcpt == parts.rcpts.len();
        let envelope_done = if self.plan.pipelined {
            if !all_sent && self.rcpt_replies_due <= WINDOW / 2 && self.mail_accepted {
                self.send_rcpt_group(session, parts, out);
            }
            all_sent
                && self.plan.bdat
                && !self.plan.bdat_with_envelope
                && self.rcpt_replies_due == 0
        } else {
            !self.send_next_rcpt(session, parts.rcpts, out)
        };
        if envelope_done && self.mail_accepted {
            self.finish_envelope(session, parts, out);
        }
    }

    fn on_data_reply(
        &mut self,
        session: &mut Session,
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
                session.expects.push_back(Expect::Dot);
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
                session.expects.push_back(Expect::Rset);
            }
        }
        Ok(())
    }
}
