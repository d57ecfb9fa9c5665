//! One mail transaction on a ready session, with a borrowed envelope and body: the engine
//! (`engine`) run over a source of exactly one message.
//!
//! How the commands are grouped, and what each reply means, is `exchange`'s; this module only
//! adapts the engine to the borrow-everything shape a bulk delivery wants (one body for
//! hundreds of recipients, never copied). It does no I/O and keeps no clock.

use super::engine::{AsParts, Engine, Source, TxnResult};
use super::exchange::{Exchange, Parts};
use super::session::{Session, State, Step};
use crate::outcome::RcptOutcome;
use crate::trouble::{SessionError, SessionErrorKind, Stage};

impl AsParts for Parts<'_> {
    fn parts(&self) -> Parts<'_> {
        *self
    }
}

/// The single message, until the engine takes it, and then its result.
struct OneShot<'a> {
    message: Option<Parts<'a>>,
    result: Option<TxnResult>,
}

impl<'a> Source<Parts<'a>> for OneShot<'a> {
    fn next(&mut self) -> Option<Parts<'a>> {
        self.message.take()
    }

    fn finished(&mut self, _message: Parts<'a>, result: TxnResult) {
        self.result = Some(result);
    }
}

/// A transaction in progress on a borrowed [`Session`].
///
/// Drive it with [`Transaction::pump`] (and [`Transaction::receive`] after each read) until
/// it returns [`Step::Done`], then call [`Transaction::finish`]. If the shell fails (I/O error,
/// timeout, end of stream), call [`Transaction::fail`] instead.
pub struct Transaction<'a> {
    session: &'a mut Session,
    engine: Engine<Parts<'a>>,
    shot: OneShot<'a>,
    rcpts: usize,
}

impl<'a> Transaction<'a> {
    pub(crate) fn new(
        session: &'a mut Session,
        mail_from: &'a str,
        rcpts: &'a [String],
        body: &'a [u8],
    ) -> Transaction<'a> {
        let parts = Parts {
            mail_from,
            rcpts,
            body,
        };
        Transaction {
            session,
            engine: Engine::new(),
            shot: OneShot {
                message: Some(parts),
                result: None,
            },
            rcpts: rcpts.len(),
        }
    }

    /// Buffers bytes read from the server.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.session.reader.push(bytes);
    }

    /// Advances the transaction: consumes buffered replies, appends commands or body octets to
    /// `out`, and says what the shell must do next.
    pub fn pump(&mut self, out: &mut Vec<u8>) -> Step {
        self.engine.pump(self.session, out, &mut self.shot)
    }

    /// Ends the transaction on a failure the shell saw (I/O error, timeout, end of stream):
    /// the session ends, and every recipient not yet answered is deferred.
    pub fn fail(mut self, kind: SessionErrorKind) -> SessionError {
        let copy = kind.duplicate();
        self.engine.fail(self.session, kind, &mut self.shot);
        match self.result_or_refusal(copy.duplicate()) {
            Err(error) => error,
            // The transaction had completed before the shell failed: the outcomes stand.
            Ok(outcomes) => SessionError::with_outcomes(copy, Stage::Quit, outcomes, true),
        }
    }

    /// The result once [`Transaction::pump`] returned [`Step::Done`]: one outcome per
    /// recipient, in envelope order; `Err` when the session failed on the way (the outcomes
    /// are then inside the error). Called earlier, the transaction counts as interrupted.
    pub fn finish(mut self) -> Result<Vec<RcptOutcome>, SessionError> {
        if self.engine.in_flight() {
            let kind = SessionErrorKind::Interrupted;
            self.engine.fail(self.session, kind, &mut self.shot);
        }
        // Never started: interrupted before the first pump, or the session could not take it.
        let kind = match self.session.is_ready() {
            true => SessionErrorKind::Interrupted,
            false => SessionErrorKind::Ended,
        };
        self.result_or_refusal(kind)
    }

    /// The result, or, when the session could not take the transaction at all, the failure
    /// `kind` for every recipient (and the session ends).
    fn result_or_refusal(&mut self, kind: SessionErrorKind) -> TxnResult {
        if let Some(result) = self.shot.result.take() {
            return result;
        }
        self.session.state = State::Ended;
        self.session.expects.clear();
        Exchange::refused(self.rcpts, kind).finish()
    }
}
