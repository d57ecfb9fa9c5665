//! Bulk delivery: one body, many recipients, split into transactions and spread over the
//! relay's connections.
//!
//! Recipients are cut, in input order, into batches of at most `max_recipients`; up to
//! `max_connections` workers take batches in turn, each running one transaction at a time.
//! The workers run concurrently inside the caller's task (no spawning, so the body is only
//! borrowed). If the relay cannot be reached at all, the batches not yet started are deferred
//! with the same outcome instead of each waiting for its own connect timeout.
//!
//! Not here: Mailman's grouping of recipients by top-level domain, which is the caller's
//! choice of order.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::Poll;

use super::Relay;
use crate::outcome::RcptOutcome;
use crate::trouble::{self, SessionErrorKind, Stage};

impl Relay {
    /// Delivers `body` from `mail_from` to every recipient, in transactions of at most
    /// `max_recipients`, over up to `max_connections` connections; returns one outcome per
    /// recipient, in input order.
    pub async fn deliver(
        &self,
        mail_from: &str,
        rcpts: &[String],
        body: &[u8],
    ) -> Vec<(String, RcptOutcome)> {
        let batch_size = match self.config().max_recipients {
            0 => rcpts.len().max(1),
            n => n,
        };
        let batches: Vec<&[String]> = rcpts.chunks(batch_size).collect();
        let results: Mutex<Vec<Option<Vec<RcptOutcome>>>> = Mutex::new(vec![None; batches.len()]);
        let unreachable: Mutex<Option<RcptOutcome>> = Mutex::new(None);
        let next = AtomicUsize::new(0);
        let worker = || async {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(index) else {
                    break;
                };
                let known_down = lock(&unreachable).clone();
                let outcomes = match known_down {
                    Some(outcome) => vec![outcome; batch.len()],
                    None => {
                        let attempt = self.attempt(mail_from, batch, body).await;
                        if attempt.unreachable {
                            *lock(&unreachable) = attempt.outcomes.first().cloned();
                        }
                        attempt.outcomes
                    }
                };
                lock(&results)[index] = Some(outcomes);
            }
        };
        let workers = self.config().max_connections.max(1).min(batches.len());
        join_all((0..workers).map(|_| worker()).collect()).await;

        let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut delivered = Vec::with_capacity(rcpts.len());
        for (batch, outcomes) in batches.iter().zip(results) {
            // Every batch was taken by a worker and every worker ran to its end, so `outcomes`
            // is always there; the fallback only keeps "one outcome per recipient" unbreakable.
            let outcomes = outcomes.unwrap_or_else(|| {
                let interrupted =
                    trouble::unanswered_outcome(&SessionErrorKind::Interrupted, Stage::Mail);
                vec![interrupted; batch.len()]
            });
            delivered.extend(batch.iter().cloned().zip(outcomes));
        }
        delivered
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Critical sections are single assignments; a poisoned lock holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Polls every future until all have finished (a few workers: polling all on each wake-up is
/// cheaper than tracking which one woke).
async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<Pin<Box<F>>>> = futures
        .into_iter()
        .map(|future| Some(Box::pin(future)))
        .collect();
    poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}
