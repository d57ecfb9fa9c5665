//! The group-commit writer thread: append a batch, one `fdatasync`, acknowledge the batch.
//!
//! A batch is whatever was queued while the previous `fdatasync` ran; there is no fixed delay.
//! On any write or sync error every waiter of the batch gets the error and the segment is
//! abandoned (cut back to its last durable length if possible, then sealed): the next batch
//! goes to a new segment, because after a failed fsync the kernel may have dropped dirty pages
//! and a later fsync of the same file could succeed falsely. The writer also seals the active
//! segment when it is full, when it has been open for a checkpoint interval, and at shutdown,
//! so that checkpoints can delete it. This module does not materialize or delete anything.

use std::time::Instant;

use super::{Batch, BatchSender, DoneFn, Pending, Shared, lock};
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::wal::segment::SegmentWriter;

/// Batches up to this size are copied into one buffer and written with one `write`.
const COALESCE_LIMIT: usize = 1 << 20;

/// The open segment and when it was opened.
struct Active {
    segment: SegmentWriter,
    opened: Instant,
    records: usize,
}

/// Runs until shutdown; then every queued submission has been committed or failed.
pub(crate) fn run(shared: &Shared, first_seq: u64, tx: BatchSender) {
    let mut next_seq = first_seq;
    let mut active: Option<Active> = None;
    loop {
        let (batch, stopping) = next_batch(shared);
        let had_work = !batch.is_empty();
        if had_work {
            commit(shared, &mut active, &mut next_seq, batch, &tx);
        }
        let roll = active.as_ref().is_some_and(|a| {
            a.segment.len >= shared.segment_size
                || (a.records > 0 && a.opened.elapsed() >= shared.checkpoint_interval)
                || (stopping && !had_work)
        });
        if roll && let Some(done) = active.take() {
            seal(shared, done.segment.seq);
        }
        if stopping && !had_work {
            return;
        }
    }
}

/// Waits for submissions (or a roll-check timeout) and takes all of them.
fn next_batch(shared: &Shared) -> (Vec<Pending>, bool) {
    let mut queue = lock(&shared.queue);
    if queue.pending.is_empty() && !queue.stopping {
        queue = shared
            .queue_cv
            .wait_timeout(queue, shared.checkpoint_interval)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
    (std::mem::take(&mut queue.pending), queue.stopping)
}

/// Appends `batch` durably and acknowledges it, or fails every waiter.
fn commit(
    shared: &Shared,
    active: &mut Option<Active>,
    next_seq: &mut u64,
    batch: Vec<Pending>,
    tx: &BatchSender,
) {
    let disk = &shared.spool.disk;
    if active.is_none() {
        let seq = *next_seq;
        *next_seq += 1;
        lock(&shared.wal).opened(seq);
        shared
            .spool
            .active_seq
            .store(seq, std::sync::atomic::Ordering::SeqCst);
        match SegmentWriter::create(&shared.spool.layout.wal_dir(), seq, disk) {
            Ok(segment) => {
                *active = Some(Active {
                    segment,
                    opened: Instant::now(),
                    records: 0,
                })
            }
            Err(err) => {
                seal(shared, seq);
                return fail(batch, &err);
            }
        }
    }
    let Some(current) = active.as_mut() else {
        return; // Set just above.
    };
    let total: usize = batch.iter().map(|p| p.record.bytes.len()).sum();
    let result = if batch.len() > 1 && total <= COALESCE_LIMIT {
        let mut buffer = Vec::with_capacity(total);
        for pending in &batch {
            buffer.extend_from_slice(&pending.record.bytes);
        }
        current.segment.append_durably(&[&buffer], disk)
    } else {
        let chunks: Vec<&[u8]> = batch.iter().map(|p| p.record.bytes.as_slice()).collect();
        current.segment.append_durably(&chunks, disk)
    };
    let seq = current.segment.seq;
    if let Err(err) = result {
        current.segment.truncate_to_durable();
        *active = None;
        seal(shared, seq);
        return fail(batch, &err);
    }
    current.records += batch.len();
    lock(&shared.wal).committed(seq, batch.len());
    let mut records = Vec::with_capacity(batch.len());
    for Pending { record, done } in batch {
        let ids: Vec<EntryId> = record.metas.iter().map(|m| m.id.clone()).collect();
        call_done(done, Ok(ids));
        records.push(record);
    }
    let bytes: u64 = records.iter().map(|r| r.bytes.len() as u64).sum();
    shared.add_backlog(bytes);
    if tx.send(Batch { seq, records }).is_err() {
        // The materializer is gone (it panicked). The records are durable in the log and
        // will be materialized by recovery at the next start.
        tracing::error!(seq, "spool materializer is not running");
        shared.sub_backlog(bytes);
    }
    shared.wait_for_backlog();
}

/// Marks a segment sealed and wakes the checkpointer if enough are ready.
fn seal(shared: &Shared, seq: u64) {
    let wake = lock(&shared.wal).sealed(seq, shared.checkpoint_after_sealed);
    if wake {
        shared.wal_cv.notify_all();
    }
}

/// Reports `err` to every waiter of a failed batch.
fn fail(batch: Vec<Pending>, err: &Error) {
    tracing::warn!(error = %err, waiters = batch.len(), "spool group commit failed");
    for pending in batch {
        call_done(pending.done, Err(err.clone()));
    }
}

/// Calls a waiter's callback; a panicking callback must not stop the writer for everyone.
fn call_done(done: DoneFn, result: Result<Vec<EntryId>>) {
    let call = std::panic::AssertUnwindSafe(move || done(result));
    if std::panic::catch_unwind(call).is_err() {
        tracing::error!("a spool commit callback panicked");
    }
}
