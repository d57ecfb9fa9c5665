//! Pipelined runs: many transactions, each with its own message, on one pooled connection at
//! a time (the way personalised copies go out).
//!
//! [`Relay::send_all`] takes one connection permit for the whole run and drives
//! [`Connection::send_pipelined`] with the caller's [`MessageSource`], so consecutive
//! transactions overlap across the end of data (see `protocol::pipeline`). Strategies, in one
//! place:
//! - **Order.** Outcomes come back in the order the messages were produced, one per recipient,
//!   whatever fails; the source can match them by position.
//! - **A failed session** (lost connection, timeout, 421) hands back the message whose end of
//!   data had gone out with its recipients deferred (it may have been delivered, so it is never
//!   sent again here). The message behind it, which had sent only its envelope, is sent again
//!   once on a fresh connection when its connection had carried a transaction before (a pooled
//!   connection gone stale, or a server that closes after so many messages); a message that
//!   failed as the first on a brand-new connection is deferred. The run then goes on with the
//!   next messages on a fresh connection.
//! - **Limits.** A connection carries at most `max_transactions_per_connection` transactions
//!   (then it is closed and the run continues on another); connections return to the pool
//!   between runs as after single transactions.
//! - **Relay down.** When no connection can be opened, every message not yet sent gets the
//!   failure at once ([`MessageSource::abandon`]), instead of each waiting for a connect
//!   timeout.
//!
//! Not here: retries with backoff (the daemon's retry queue), rendering the messages (the
//! source's).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use super::{Inner, Relay};
use crate::envelope::Message;
use crate::outcome::RcptOutcome;
use crate::protocol::Feed;
use crate::trouble::SessionError;

/// The messages of a [`Relay::send_all`] run, produced one at a time and answered in order.
pub trait MessageSource {
    /// The next message, or `None` when there are no more. Called only when a connection can
    /// start its transaction, so at most a couple of messages exist at any time.
    fn next_message(&mut self) -> Option<Message>;

    /// One outcome per recipient of a message [`MessageSource::next_message`] gave, in the
    /// order they were given. The message comes back so that its buffers can be reused.
    fn finished(&mut self, message: Message, outcomes: Vec<RcptOutcome>);

    /// The relay cannot be reached: every message not produced yet gets `outcome` for each of
    /// its recipients. The default produces the messages and answers each; a source that can
    /// skip building them should.
    fn abandon(&mut self, outcome: &RcptOutcome) {
        while let Some(message) = self.next_message() {
            let outcomes = vec![outcome.clone(); message.envelope.rcpts.len()];
            self.finished(message, outcomes);
        }
    }
}

impl Relay {
    /// Sends every message `source` produces, in its own transaction, over one pooled
    /// connection at a time (opening one if none is idle), pipelined across transactions when
    /// the relay offers PIPELINING; see the module documentation. Never fails: every message
    /// gets one outcome per recipient through [`MessageSource::finished`].
    pub async fn send_all<S: MessageSource + ?Sized>(&self, source: &mut S) {
        let inner = &self.inner;
        let mut run = Run::new(source, inner);
        if !run.prefetch() {
            return;
        }
        // The semaphore is never closed, so acquiring can only wait, not fail.
        let _permit = inner
            .permits
            .acquire()
            .await
            .expect("relay semaphore is never closed");
        let mut fresh = false;
        while run.has_more() {
            let pooled = match fresh {
                true => None,
                false => inner.pool.checkout(inner.config.idle_timeout),
            };
            let (mut connection, reused) = match pooled {
                Some(connection) => (connection, true),
                None => match self.open().await {
                    Ok(connection) => (connection, false),
                    Err(outcome) => return run.abandon(&outcome),
                },
            };
            let limit = inner.config.max_transactions_per_connection;
            let budget = (limit > 0).then(|| limit.saturating_sub(connection.transactions()));
            run.use_connection(reused, budget);
            let result = connection.send_pipelined(&mut run).await;
            if let Err(error) = &result {
                tracing::debug!(relay = %inner.target, %error, "session with the relay failed");
            }
            // A pooled connection that failed or carried nothing is not tried again.
            fresh = result.is_err() || run.started == 0;
            self.checkin(connection);
        }
    }
}

/// The feed of one connection's pipeline: the caller's source plus the messages to send again.
struct Run<'r, S: ?Sized> {
    source: &'r mut S,
    inner: &'r Inner,
    /// Messages to send before asking the source again, with whether each is a second try.
    queued: VecDeque<(Message, bool)>,
    /// The source said there are no more messages.
    exhausted: bool,
    /// For each message in flight, in order: whether it is a second try, and whether its
    /// connection had carried a transaction before it started.
    flights: VecDeque<(bool, bool)>,
    /// Whether the current connection came from the pool.
    reused: bool,
    /// Transactions started on the current connection in this run.
    started: usize,
    /// Transactions the current connection may still start (`None`: no limit).
    budget: Option<usize>,
}

impl<'r, S: MessageSource + ?Sized> Run<'r, S> {
    fn new(source: &'r mut S, inner: &'r Inner) -> Run<'r, S> {
        Run {
            source,
            inner,
            queued: VecDeque::new(),
            exhausted: false,
            flights: VecDeque::new(),
            reused: false,
            started: 0,
            budget: None,
        }
    }

    /// Takes the first message before any connection is touched; `false` if there is none.
    fn prefetch(&mut self) -> bool {
        if let Some(message) = self.source.next_message() {
            self.queued.push_back((message, false));
        } else {
            self.exhausted = true;
        }
        self.has_more()
    }

    fn has_more(&self) -> bool {
        !self.queued.is_empty() || !self.exhausted
    }

    fn use_connection(&mut self, reused: bool, budget: Option<usize>) {
        self.reused = reused;
        self.started = 0;
        self.budget = budget;
    }

    /// No connection can be opened: everything not yet sent gets `outcome`.
    fn abandon(&mut self, outcome: &RcptOutcome) {
        for (message, _) in self.queued.drain(..) {
            let outcomes = vec![outcome.clone(); message.envelope.rcpts.len()];
            self.source.finished(message, outcomes);
        }
        if !self.exhausted {
            self.source.abandon(outcome);
        }
    }
}

impl<S: MessageSource + ?Sized> Feed for Run<'_, S> {
    fn next(&mut self) -> Option<Message> {
        if self.budget == Some(0) {
            return None;
        }
        let (message, second_try) = match self.queued.pop_front() {
            Some(queued) => queued,
            None if self.exhausted => return None,
            None => match self.source.next_message() {
                Some(message) => (message, false),
                None => {
                    self.exhausted = true;
                    return None;
                }
            },
        };
        if let Some(budget) = self.budget.as_mut() {
            *budget -= 1;
        }
        let warm = self.reused || self.started > 0;
        self.flights.push_back((second_try, warm));
        self.started += 1;
        self.inner.transactions.fetch_add(1, Ordering::Relaxed);
        Some(message)
    }

    fn finished(&mut self, message: Message, result: Result<Vec<RcptOutcome>, SessionError>) {
        // Every message finished was given by `next`, which recorded its flight.
        let (second_try, warm) = self.flights.pop_front().unwrap_or((true, false));
        match result {
            Ok(outcomes) => self.source.finished(message, outcomes),
            Err(error) if warm && !second_try && !error.may_have_delivered() => {
                tracing::debug!(relay = %self.inner.target, %error, "sending a message again on a fresh connection");
                self.inner.retries.fetch_add(1, Ordering::Relaxed);
                self.queued.push_front((message, true));
            }
            Err(error) => self.source.finished(message, error.into_outcomes()),
        }
    }
}
