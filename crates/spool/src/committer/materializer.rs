//! The materializer thread: turns committed log records into entry files and announces them.
//!
//! For each record it writes the body once (to `tmp/`, renamed into `messages/`), links it
//! under every other entry id of the record, then renames each envelope into its stage and
//! calls `on_visible`. Nothing is fsynced here: the record is already durable in the log, and
//! the next checkpoint's `syncfs()` makes the files durable before the log segment goes. A
//! record that cannot be materialized (full disk) is retried about once a second, resuming
//! where it stopped so that no envelope is written twice; its segment stays live meanwhile.
//! This module never acknowledges submissions.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{Batch, Shared, VisibleFn, lock};
use crate::error::Result;
use crate::place;
use crate::wal::record::Record;

/// How often failed records are retried.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// One record and how far its materialization got.
struct Work {
    seq: u64,
    record: Record,
    body_done: bool,
    visible: usize,
}

impl Work {
    /// Continues materializing; each completed envelope is announced at once.
    fn advance(&mut self, shared: &Shared, on_visible: &mut Option<VisibleFn>) -> Result<()> {
        let (layout, disk) = (&shared.spool.layout, &shared.spool.disk);
        let metas = &self.record.metas;
        let Some(first) = metas.first() else {
            return Ok(());
        };
        if !self.body_done {
            place::write_body(layout, disk, &first.id, self.record.body(), false)?;
            for meta in &metas[1..] {
                place::link_body(layout, disk, &first.id, &meta.id)?;
            }
            self.body_done = true;
        }
        while let Some(meta) = metas.get(self.visible) {
            place::write_envelope(layout, disk, meta.stage, meta, false)?;
            self.visible += 1;
            if let Some(callback) = on_visible.as_mut() {
                // A panicking callback must not stop materialization for everyone.
                let call = std::panic::AssertUnwindSafe(|| callback(meta.stage, &meta.id));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::error!(id = %meta.id, "a spool visibility callback panicked");
                }
            }
        }
        Ok(())
    }
}

/// Runs until the writer hangs up, then retries failed records once more and returns.
pub(crate) fn run(shared: &Shared, rx: Receiver<Batch>, mut on_visible: Option<VisibleFn>) {
    let mut failed: Vec<Work> = Vec::new();
    let mut last_retry = Instant::now();
    loop {
        match rx.recv_timeout(RETRY_INTERVAL) {
            Ok(batch) => {
                let seq = batch.seq;
                let mut done = 0;
                let mut bytes = 0;
                for record in batch.records {
                    let mut work = Work {
                        seq,
                        record,
                        body_done: false,
                        visible: 0,
                    };
                    match work.advance(shared, &mut on_visible) {
                        Ok(()) => {
                            done += 1;
                            bytes += work.record.bytes.len() as u64;
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "spool materialization failed; will retry");
                            failed.push(work);
                        }
                    }
                }
                report(shared, seq, done);
                shared.sub_backlog(bytes);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if !failed.is_empty() && last_retry.elapsed() >= RETRY_INTERVAL {
            retry(shared, &mut failed, &mut on_visible);
            last_retry = Instant::now();
        }
    }
    retry(shared, &mut failed, &mut on_visible);
    // Whatever is still failing stays in the log for recovery; stop holding the writer.
    shared.sub_backlog(u64::MAX);
    if !failed.is_empty() {
        tracing::error!(
            records = failed.len(),
            "spool records left unmaterialized; recovery will replay them"
        );
    }
}

/// Retries every failed record, keeping those that fail again.
fn retry(shared: &Shared, failed: &mut Vec<Work>, on_visible: &mut Option<VisibleFn>) {
    let mut still_failed = Vec::new();
    for mut work in failed.drain(..) {
        match work.advance(shared, on_visible) {
            Ok(()) => {
                report(shared, work.seq, 1);
                shared.sub_backlog(work.record.bytes.len() as u64);
            }
            Err(_) => still_failed.push(work),
        }
    }
    *failed = still_failed;
}

/// Tells the checkpoint bookkeeping that `n` records of segment `seq` are files now.
fn report(shared: &Shared, seq: u64, n: usize) {
    if n == 0 {
        return;
    }
    let wake = lock(&shared.wal).materialized(seq, n, shared.checkpoint_after_sealed);
    if wake {
        shared.wal_cv.notify_all();
    }
}
