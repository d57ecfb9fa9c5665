//! The loop that runs mail transactions on a session, one after another, overlapping two of
//! them across the end of data when the server allows it (RFC 2920).
//!
//! The engine takes messages from a source only when the session can start one, and hands
//! each back with its result, in the order it took them. It keeps at most two exchanges:
//! - **running**: the transaction in its commands or body;
//! - **finishing**: a transaction whose end-of-data dot went out and that waits only for the
//!   reply (SMTP) or replies (LMTP) to it ([`Exchange::chainable`]). The next transaction's
//!   MAIL, RCPTs and DATA are written right behind that dot, in the same write, so a run of
//!   one-recipient transactions costs one write and one read each instead of two of each.
//!
//! Replies are matched to exchanges by position: everything the finishing exchange still
//! waits for was written before the running exchange's first command, so the first `due`
//! replies are its. A session failure (I/O, timeout, 421, protocol violation) ends both: each
//! defers its unanswered recipients and says whether its end of data had gone out, which is
//! what decides whether it may be sent again elsewhere.
//!
//! A reply is never applied before the command it answers was written: replies are read only
//! once the output buffer is empty and no body is being sent. No I/O, no clock: the shell
//! writes, reads and enforces the timeout [`Step`] names. The single [`super::Transaction`]
//! and the [`super::Pipeline`] are this engine with a source of one message or of many.

use std::collections::VecDeque;

use super::exchange::{Exchange, PIECE, Parts};
use super::session::{Expect, Session, State, Step, Timer};
use crate::outcome::RcptOutcome;
use crate::trouble::{SessionError, SessionErrorKind, Stage};

/// The result of one transaction: one outcome per recipient, or the session failure with them.
pub(crate) type TxnResult = Result<Vec<RcptOutcome>, SessionError>;

/// A message as the engine reads it.
pub(crate) trait AsParts {
    fn parts(&self) -> Parts<'_>;
}

/// Where the engine takes messages from and hands them back.
pub(crate) trait Source<M> {
    /// The next message, if any.
    fn next(&mut self) -> Option<M>;
    /// A message's result, in the order `next` gave them.
    fn finished(&mut self, message: M, result: TxnResult);
}

struct Inflight<M> {
    message: M,
    exchange: Exchange,
}

/// Which of the two exchanges something applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Finishing,
    Running,
}

/// The transactions in flight on one session.
pub(crate) struct Engine<M> {
    /// The exchange waiting only for its end-of-data replies, and how many are still due.
    finishing: Option<(Inflight<M>, usize)>,
    running: Option<Inflight<M>>,
    /// Results not yet handed back because an older exchange (the finishing one) is not done.
    completed: VecDeque<(M, TxnResult)>,
    /// The source said there are no more messages.
    exhausted: bool,
    /// The output buffer holds body octets (the write is bounded by the data timeout).
    body_in_out: bool,
    /// The failure that ended the session, if one did.
    failure: Option<(SessionErrorKind, Stage)>,
}

impl<M: AsParts> Engine<M> {
    pub(crate) fn new() -> Engine<M> {
        Engine {
            finishing: None,
            running: None,
            completed: VecDeque::new(),
            exhausted: false,
            body_in_out: false,
            failure: None,
        }
    }

    /// Advances: starts transactions, consumes buffered replies, appends commands and body
    /// octets to `out`, hands finished messages back to `source`, and says what the shell
    /// must do next. `Done` once the source has no more messages (or the session ended) and
    /// every message taken is answered.
    pub(crate) fn pump<S: Source<M> + ?Sized>(
        &mut self,
        session: &mut Session,
        out: &mut Vec<u8>,
        source: &mut S,
    ) -> Step {
        if out.is_empty() {
            self.body_in_out = false;
        }
        loop {
            self.flush(source);
            if self.running.is_none() && !self.exhausted && self.can_begin(session) {
                match source.next() {
                    Some(message) => self.begin(session, message, out),
                    None => self.exhausted = true,
                }
                continue;
            }
            if let Some(running) = self.running.as_mut()
                && running.exchange.in_body()
            {
                if out.len() >= PIECE {
                    return Step::Write(Timer::Data);
                }
                let body = running.message.parts().body;
                running.exchange.encode_body(session, body, out);
                self.body_in_out = true;
                if running.exchange.in_body() {
                    return Step::Write(Timer::Data);
                }
                if running.exchange.chainable() && self.finishing.is_none() {
                    // Everything the session expects now answers this exchange's dot.
                    let due = session.expects.len();
                    self.finishing = self.running.take().map(|inflight| (inflight, due));
                }
                continue;
            }
            if !out.is_empty() {
                let timer = if self.body_in_out {
                    Timer::Data
                } else {
                    Timer::Command
                };
                return Step::Write(timer);
            }
            if self.running.is_none() && self.finishing.is_none() {
                // Idle: whatever the session may still expect is not ours to read.
                if session.state == State::Busy && session.expects.is_empty() {
                    session.state = State::Ready;
                }
                self.flush(source);
                return Step::Done;
            }
            if let Some(&expect) = session.expects.front() {
                match session.reader.next_reply() {
                    Ok(Some(reply)) => {
                        session.expects.pop_front();
                        self.route(session, expect, reply, out);
                    }
                    Ok(None) => return Step::Read(expect.timer()),
                    Err(violation) => {
                        let blame = Some((self.owner_of_next_reply(), expect.stage()));
                        self.abort(session, SessionErrorKind::Protocol(violation), blame, out);
                    }
                }
                continue;
            }
            // Nothing is expected any more: the running exchange has every answer it needs,
            // and the session is free for the next one.
            if let Some(mut running) = self.running.take() {
                running.exchange.complete();
                let result = running.exchange.finish();
                self.completed.push_back((running.message, result));
                if session.state == State::Busy {
                    session.state = State::Ready;
                }
            }
        }
    }

    /// Ends the session on a failure the shell saw (I/O error, timeout, end of stream): every
    /// message in flight is handed back with its unanswered recipients deferred.
    pub(crate) fn fail<S: Source<M> + ?Sized>(
        &mut self,
        session: &mut Session,
        kind: SessionErrorKind,
        source: &mut S,
    ) {
        self.abort(session, kind, None, &mut Vec::new());
        self.flush(source);
    }

    /// Whether a message was taken from the source and not handed back yet.
    pub(crate) fn in_flight(&self) -> bool {
        self.running.is_some() || self.finishing.is_some() || !self.completed.is_empty()
    }

    /// The failure that ended the session, once.
    pub(crate) fn take_failure(&mut self) -> Option<(SessionErrorKind, Stage)> {
        self.failure.take()
    }

    /// Whether the session can take a new transaction now: idle, or busy only with a
    /// finishing exchange that the next one may follow.
    fn can_begin(&self, session: &Session) -> bool {
        match session.state {
            State::Ready => true,
            State::Busy => self.finishing.is_some(),
            State::Opening | State::Quitting | State::Ended => false,
        }
    }

    fn begin(&mut self, session: &mut Session, message: M, out: &mut Vec<u8>) {
        let exchange = Exchange::start(session, message.parts(), out);
        if exchange.is_done() {
            // Decided locally (no address could be written): nothing went out.
            let result = exchange.finish();
            self.completed.push_back((message, result));
        } else {
            self.running = Some(Inflight { message, exchange });
        }
    }

    /// Applies a reply to the exchange it answers.
    fn route(
        &mut self,
        session: &mut Session,
        expect: Expect,
        reply: crate::reply::Reply,
        out: &mut Vec<u8>,
    ) {
        let owner = self.owner_of_next_reply();
        let applied = if let Some((finishing, due)) = self.finishing.as_mut()
            && *due > 0
        {
            *due -= 1;
            let parts = finishing.message.parts();
            let applied = finishing
                .exchange
                .on_reply(session, parts, expect, reply, out);
            if applied.is_ok() && *due == 0 {
                self.complete_finishing();
            }
            applied
        } else if let Some(running) = self.running.as_mut() {
            let parts = running.message.parts();
            running
                .exchange
                .on_reply(session, parts, expect, reply, out)
        } else {
            let violation = format!("reply {reply} while no transaction expects {expect:?}");
            Err((SessionErrorKind::Protocol(violation), expect.stage()))
        };
        if let Err((kind, stage)) = applied {
            self.abort(session, kind, Some((owner, stage)), out);
        }
    }

    fn owner_of_next_reply(&self) -> Slot {
        match self.finishing {
            Some((_, due)) if due > 0 => Slot::Finishing,
            _ => Slot::Running,
        }
    }

    fn complete_finishing(&mut self) {
        if let Some((mut finishing, _)) = self.finishing.take() {
            finishing.exchange.complete();
            let result = finishing.exchange.finish();
            // It is older than every result waiting behind it.
            self.completed.push_front((finishing.message, result));
        }
    }

    /// Ends the session: nothing more is written, both exchanges defer what is unanswered.
    /// `blame` is the exchange whose reply caused it and the stage it was at.
    fn abort(
        &mut self,
        session: &mut Session,
        kind: SessionErrorKind,
        blame: Option<(Slot, Stage)>,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        self.body_in_out = false;
        let due = self.finishing.as_ref().map_or(0, |(_, due)| *due);
        let stage_of = |slot: Slot, computed: Stage| match blame {
            Some((blamed, stage)) if blamed == slot => stage,
            _ => computed,
        };
        let mut stages = Vec::with_capacity(2);
        if let Some((finishing, _)) = self.finishing.as_mut() {
            let first = session.expects.front().copied();
            let stage = stage_of(Slot::Finishing, finishing.exchange.stage(first));
            finishing.exchange.fail(kind.duplicate(), stage);
            stages.push(stage);
        }
        if let Some(running) = self.running.as_mut() {
            let first = session.expects.get(due).copied();
            let stage = stage_of(Slot::Running, running.exchange.stage(first));
            running.exchange.fail(kind.duplicate(), stage);
            stages.push(stage);
        }
        // The session's failure is reported at the stage of the exchange that caused it, or
        // of the oldest one in flight.
        let stage = match blame {
            Some((_, stage)) => stage,
            None => stages.first().copied().unwrap_or(Stage::Mail),
        };
        if self.failure.is_none() {
            self.failure = Some((kind, stage));
        }
        session.state = State::Ended;
        session.expects.clear();
        self.complete_finishing();
        if let Some(running) = self.running.take() {
            let result = running.exchange.finish();
            self.completed.push_back((running.message, result));
        }
    }

    /// Hands back results in order: nothing passes the finishing exchange.
    fn flush<S: Source<M> + ?Sized>(&mut self, source: &mut S) {
        if self.finishing.is_some() {
            return;
        }
        while let Some((message, result)) = self.completed.pop_front() {
            source.finished(message, result);
        }
    }
}
