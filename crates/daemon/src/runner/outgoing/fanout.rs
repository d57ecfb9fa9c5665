//! The fan-out engine: sends the pending batches of one job over the relay, concurrently, and
//! records each batch's outcome durably as soon as it is complete.
//!
//! Strategies, in one place:
//! - **Streaming.** A blocking reader walks the job's recipient file (`Spool::pending_batches`,
//!   skipping batches the progress log says are done) and feeds a bounded channel, so memory
//!   holds a few batches of recipient lines, never the whole list.
//! - **Workers.** `[smtp] max_connections` workers (tokio tasks, so rendering uses every core)
//!   each take a whole batch: one transaction for bulk jobs, one pipelined run of
//!   one-recipient transactions on one connection for personalized jobs. The relay's pool
//!   bounds the connections across all jobs.
//! - **Progress.** The worker that sent a batch writes its line, with the failures and
//!   deferrals (`Spool::record_batch`, fdatasync), before it takes more work. Lines of one job
//!   are written one at a time.
//! - **Relay down.** When a transaction fails because the relay cannot be reached at all, the
//!   remaining batches are deferred without trying, with the same outcome, instead of each
//!   waiting for its own connect timeout; the retry job tries again after its backoff.
//! - **Stopping.** On shutdown the workers take no new batch, but finish and record the batch
//!   they hold (for a personalized job, the rest of its recipients), so every batch that was
//!   started is recorded and a graceful restart sends nothing twice. After a failure
//!   (a progress line that cannot be written) the workers stop at once.
//!
//! **The duplicate window.** A batch is sent again after a crash if it had started but its line
//! was not yet durable. Each worker holds at most one batch, so at most one batch per worker
//! (that is, per connection) is open at any instant: after `kill -9` at most
//! `max_connections` batches are sent twice, `max_recipients` recipients each for bulk jobs,
//! `personalized_batch_size` for personalized ones, and usually one or two batches at all.
//!
//! What this module does not do: decide what happens to failed and deferred recipients once
//! the job is complete (`retry`), or build the copies (`bulk`, `personalized`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use anyhow::Context;
use mailcast_outbound::{EnhancedCode, RcptOutcome, Relay};
use mailcast_spool::{EntryId, Outcome, OutcomeStatus, Spool};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::bulk::Bulk;
use super::personalized::Personalized;

/// How the copies of a job are made.
pub(super) enum Copies {
    /// One body, one transaction per batch.
    Bulk(Bulk),
    /// One rendered copy and one transaction per recipient.
    Personalized(Box<Personalized>),
}

/// What one call of [`deliver_pending`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// Recipients delivered.
    pub delivered: u64,
    /// Recipients deferred (4xx, 552, connection trouble).
    pub deferred: u64,
    /// Recipients refused permanently.
    pub failed: u64,
    /// SMTP transactions run.
    pub transactions: u64,
    /// Batches recorded.
    pub batches: u64,
}

/// Sends every batch of job `id` not yet recorded, over `workers` concurrent workers, and
/// records each one. When `stop` is cancelled it finishes the open batches and returns (with
/// what was done); the job's progress log says what is left.
pub(super) async fn deliver_pending(
    spool: &Spool,
    relay: &Relay,
    id: &EntryId,
    copies: Copies,
    workers: usize,
    stop: &CancellationToken,
) -> anyhow::Result<Tally> {
    let workers = workers.max(1);
    let (tx, rx) = mpsc::channel(workers);
    let reader = {
        let (spool, id) = (spool.clone(), id.clone());
        tokio::task::spawn_blocking(move || feed(&spool, &id, &tx))
    };
    let abort = CancellationToken::new();
    let shared = Arc::new(Shared {
        spool: spool.clone(),
        relay: relay.clone(),
        id: id.clone(),
        copies,
        batches: tokio::sync::Mutex::new(rx),
        recording: tokio::sync::Mutex::new(()),
        down: Mutex::new(None),
        tally: Mutex::new(Tally::default()),
        stop: stop.clone(),
        abort: abort.clone(),
        metrics: Metrics::new(),
    });
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        tasks.spawn(work(shared.clone()));
    }
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.context("a delivery worker panicked").and_then(|r| r);
        if let Err(err) = outcome {
            // The first failure stops the others; later ones are consequences.
            abort.cancel();
            if result.is_ok() {
                result = Err(err);
            }
        }
    }
    // The workers are gone: closing the channel ends the reader at its next send.
    shared.batches.lock().await.close();
    let read = reader.await.context("the recipient reader panicked")?;
    result?;
    read.with_context(|| format!("cannot read the recipients of job {id}"))?;
    Ok(*lock(&shared.tally))
}

/// Reads the pending batches into the channel until the end or until nobody listens.
fn feed(spool: &Spool, id: &EntryId, tx: &mpsc::Sender<Batch>) -> mailcast_spool::Result<()> {
    for batch in spool.pending_batches(id)? {
        let (number, lines) = batch?;
        if tx.blocking_send(Batch { number, lines }).is_err() {
            break;
        }
    }
    Ok(())
}

struct Shared {
    spool: Spool,
    relay: Relay,
    id: EntryId,
    copies: Copies,
    /// The reader's batches, taken one at a time by the workers.
    batches: tokio::sync::Mutex<mpsc::Receiver<Batch>>,
    /// Serializes appends to the job's progress log.
    recording: tokio::sync::Mutex<()>,
    /// Set once the relay could not be reached: the outcome for everything not yet sent.
    down: Mutex<Option<RcptOutcome>>,
    tally: Mutex<Tally>,
    /// Shutdown: finish the open batches, open no new one.
    stop: CancellationToken,
    /// A worker failed: stop at once.
    abort: CancellationToken,
    metrics: Metrics,
}

/// The metric handles, registered once per job rather than looked up per transaction.
struct Metrics {
    delivered: metrics::Counter,
    deferred: metrics::Counter,
    failed: metrics::Counter,
    transaction_seconds: metrics::Histogram,
}

impl Metrics {
    fn new() -> Metrics {
        let recipients = |result: &'static str| metrics::counter!("mailcast_recipients_total", "result" => result);
        Metrics {
            delivered: recipients("delivered"),
            deferred: recipients("deferred"),
            failed: recipients("failed"),
            transaction_seconds: metrics::histogram!("mailcast_delivery_transaction_seconds"),
        }
    }
}

/// One batch of recipient lines: the work of one worker until its line is recorded; one
/// transaction (bulk) or one pipelined run (personalized).
struct Batch {
    number: u64,
    lines: Vec<String>,
}

/// One worker: take a batch, send it, count its outcomes, record its line.
async fn work(shared: Arc<Shared>) -> anyhow::Result<()> {
    loop {
        if shared.abort.is_cancelled() || shared.stop.is_cancelled() {
            return Ok(());
        }
        let batch = {
            let mut batches = shared.batches.lock().await;
            // Cancel-safe: receiving awaits only the channel.
            tokio::select! {
                batch = batches.recv() => batch,
                () = shared.stop.cancelled() => None,
                () = shared.abort.cancelled() => None,
            }
        };
        let Some(batch) = batch else {
            return Ok(());
        };
        let outcomes = shared.send(&batch).await;
        let failures = shared.account(&batch, &outcomes);
        shared.record(batch.number, failures).await?;
    }
}

impl Shared {
    /// Sends one batch (or defers it at once when the relay is known to be down).
    async fn send(&self, batch: &Batch) -> Vec<RcptOutcome> {
        if let Some(down) = lock(&self.down).clone() {
            return vec![down; batch.lines.len()];
        }
        let started = Instant::now();
        let (outcomes, transactions) = match &self.copies {
            Copies::Bulk(bulk) => bulk.send(&self.relay, &batch.lines).await,
            Copies::Personalized(personal) => personal.send(&self.relay, &batch.lines).await,
        };
        self.metrics
            .transaction_seconds
            .record(started.elapsed().as_secs_f64() / transactions.max(1) as f64);
        lock(&self.tally).transactions += transactions;
        if outcomes.iter().all(relay_unreachable) {
            lock(&self.down).get_or_insert_with(|| outcomes[0].clone());
        }
        outcomes
    }

    /// Counts a sent batch's outcomes; returns the failures and deferrals its line records.
    fn account(&self, batch: &Batch, outcomes: &[RcptOutcome]) -> Vec<Outcome> {
        let mut counts = [0u64; 3];
        let mut failures = Vec::new();
        for (line, outcome) in batch.lines.iter().zip(outcomes) {
            let status = match outcome {
                RcptOutcome::Delivered => {
                    counts[0] += 1;
                    continue;
                }
                RcptOutcome::Deferred {
                    code,
                    enhanced,
                    text,
                } => {
                    counts[1] += 1;
                    OutcomeStatus::Deferred {
                        code: *code,
                        text: describe(*enhanced, text),
                    }
                }
                RcptOutcome::Failed {
                    code,
                    enhanced,
                    text,
                } => {
                    counts[2] += 1;
                    OutcomeStatus::Failed {
                        code: *code,
                        text: describe(*enhanced, text),
                    }
                }
            };
            failures.push(Outcome {
                recipient: line.clone(),
                status,
            });
        }
        let counters = [
            &self.metrics.delivered,
            &self.metrics.deferred,
            &self.metrics.failed,
        ];
        for (counter, n) in counters.into_iter().zip(counts) {
            if n > 0 {
                counter.increment(n);
            }
        }
        {
            let mut tally = lock(&self.tally);
            tally.delivered += counts[0];
            tally.deferred += counts[1];
            tally.failed += counts[2];
        }
        failures
    }

    /// Appends the batch's line to the progress log, durably.
    async fn record(&self, batch: u64, outcomes: Vec<Outcome>) -> anyhow::Result<()> {
        let _turn = self.recording.lock().await;
        let (spool, id) = (self.spool.clone(), self.id.clone());
        tokio::task::spawn_blocking(move || spool.record_batch(&id, batch, &outcomes))
            .await
            .context("recording a batch panicked")?
            .with_context(|| format!("cannot record batch {batch} of job {}", self.id))?;
        lock(&self.tally).batches += 1;
        Ok(())
    }
}

/// Whether an outcome says the relay could not be reached at all (no session was opened).
fn relay_unreachable(outcome: &RcptOutcome) -> bool {
    matches!(
        outcome,
        RcptOutcome::Deferred { code: mailcast_outbound::trouble::LOCAL_FAILURE_CODE, enhanced: Some(e), .. }
            if *e == EnhancedCode::new(4, 4, 1)
    )
}

/// The reply as the progress log keeps it: enhanced code (if any) and text.
fn describe(enhanced: Option<EnhancedCode>, text: &str) -> String {
    match enhanced {
        Some(code) => format!("{code} {text}"),
        None => text.to_owned(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a few plain updates; a poisoned lock holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
