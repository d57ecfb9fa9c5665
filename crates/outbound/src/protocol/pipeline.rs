//! A run of mail transactions on one session, each with its own envelope and body, pipelined
//! across transactions when the server offers PIPELINING.
//!
//! This is how personalised copies go out: thousands of one-recipient transactions in a row.
//! Sent one by one, each costs two round trips (envelope → 354, body → 250). RFC 2920 lets a
//! client start the next command group with the message content, so the next transaction's
//! MAIL, RCPT and DATA follow the previous end-of-data dot in the same write, and the reply to
//! the dot arrives with the replies to them: one write and one read per transaction. See
//! `engine` for how replies are matched and what a failure in the middle does; every message
//! still gets exactly one outcome per recipient.
//!
//! The shell's loop is that of a single transaction, with a [`Feed`] that supplies messages
//! when the session can take one and receives them back, in order, with their results:
//!
//! ```text
//! let mut pipeline = session.pipeline();
//! loop {
//!     match pipeline.pump(&mut out, &mut feed) {
//!         Step::Write(timer) => { write all of `out`; out.clear(); }
//!         Step::Read(timer)  => { read; pipeline.receive(&bytes); }
//!         Step::Done         => break,
//!     }
//! }   // on a failed read or write: pipeline.fail(kind, &mut feed)
//! ```
//!
//! At most two messages are held at a time (the one finishing and the one running), so
//! memory does not grow with the run. Not here: I/O, clocks, connection pooling or retries
//! on another connection (the relay's).

use super::engine::{AsParts, Engine, Source, TxnResult};
use super::exchange::Parts;
use super::session::{Session, Step};
use crate::envelope::Message;
use crate::outcome::RcptOutcome;
use crate::trouble::{SessionError, SessionErrorKind};

/// Supplies the messages of a [`Pipeline`] and takes them back with their results.
pub trait Feed {
    /// The next message to send, or `None` when there are no more. Called only when the
    /// session can start a transaction.
    fn next(&mut self) -> Option<Message>;

    /// The result of a message [`Feed::next`] gave, in the same order: one outcome per
    /// recipient, or the session failure that interrupted it (with the outcomes inside, and
    /// [`SessionError::may_have_delivered`] saying whether its end of data had gone out).
    fn finished(&mut self, message: Message, result: Result<Vec<RcptOutcome>, SessionError>);
}

impl AsParts for Message {
    fn parts(&self) -> Parts<'_> {
        Parts {
            mail_from: &self.envelope.mail_from,
            rcpts: &self.envelope.rcpts,
            body: &self.body,
        }
    }
}

impl<F: Feed + ?Sized> Source<Message> for F {
    fn next(&mut self) -> Option<Message> {
        Feed::next(self)
    }

    fn finished(&mut self, message: Message, result: TxnResult) {
        Feed::finished(self, message, result);
    }
}

/// Transactions in a row on a borrowed [`Session`]; see the module documentation.
pub struct Pipeline<'s> {
    session: &'s mut Session,
    engine: Engine<Message>,
}

impl<'s> Pipeline<'s> {
    pub(crate) fn new(session: &'s mut Session) -> Pipeline<'s> {
        Pipeline {
            session,
            engine: Engine::new(),
        }
    }

    /// Buffers bytes read from the server.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.session.reader.push(bytes);
    }

    /// Advances the run: takes messages from `feed` when the session can start one, consumes
    /// buffered replies, appends commands and body octets to `out`, hands finished messages
    /// back, and says what the shell must do next. `Done` when `feed` has no more messages and
    /// every message is answered, or when the session ended (check
    /// [`Session::is_ready`] afterwards; the failure is in [`Pipeline::take_failure`]).
    pub fn pump<F: Feed + ?Sized>(&mut self, out: &mut Vec<u8>, feed: &mut F) -> Step {
        self.engine.pump(self.session, out, feed)
    }

    /// Ends the session on a failure the shell saw (I/O error, timeout, end of stream): the
    /// messages in flight go back to `feed` with their unanswered recipients deferred.
    pub fn fail<F: Feed + ?Sized>(&mut self, kind: SessionErrorKind, feed: &mut F) {
        self.engine.fail(self.session, kind, feed);
    }

    /// The failure that ended the session during this run, if any (once).
    pub fn take_failure(&mut self) -> Option<SessionError> {
        self.engine
            .take_failure()
            .map(|(kind, stage)| SessionError::new(kind, stage))
    }
}
