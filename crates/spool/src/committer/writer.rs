//! The group-commit writer thread: append a batch, one `fdatasync`, publish and acknowledge it.
//!
//! A batch is whatever was queued while the previous `fdatasync` ran; there is no fixed delay.
//! After the `fdatasync` returned, the batch's entries go into the resident index first (so
//! that they are usable through the spool's API the moment anyone hears of them), then every
//! waiter's `done` is called, then `on_committed` for each entry.
//!
//! On any write or sync error every waiter of the batch gets the error and the segment is
//! abandoned (cut back to its last durable length if possible, then sealed): the next batch
//! goes to a new segment, because after a failed fsync the kernel may have dropped dirty pages
//! and a later fsync of the same file could succeed falsely. The writer also seals the active
//! segment when it is full, when it has been open for a checkpoint interval, and at shutdown,
//! so that checkpoints can delete it. This module does not write entry files or delete
//! anything.

use std::time::Instant;

use super::{CommittedFn, DoneFn, Pending, Shared, lock};
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::stage::Stage;
use crate::wal::segment::SegmentWriter;

/// The open segment and when it was opened.
struct Active {
    segment: SegmentWriter,
    opened: Instant,
    records: usize,
}

/// Runs until shutdown; then every queued submission has been committed or failed.
pub(crate) fn run(shared: &Shared, first_seq: u64, mut on_committed: Option<CommittedFn>) {
    let mut next_seq = first_seq;
    let mut active: Option<Active> = None;
    loop {
        let (batch, stopping) = next_batch(shared);
        let had_work = !batch.is_empty();
        if had_work {
            commit(shared, &mut active, &mut next_seq, batch, &mut on_committed);
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

/// Appends `batch` durably, publishes and acknowledges it, or fails every waiter.
fn commit(
    shared: &Shared,
    active: &mut Option<Active>,
    next_seq: &mut u64,
    batch: Vec<Pending>,
    on_committed: &mut Option<CommittedFn>,
) {
    let disk = &shared.spool.disk;
    if active.is_none() {
        let seq = *next_seq;
        *next_seq += 1;
        match SegmentWriter::create(&shared.spool.layout.wal_dir(), seq, disk) {
            Ok(segment) => {
                // Without a read handle bodies of evicted records cannot be read back; the
                // materializer then leaves them to recovery. Opening a file we just created
                // does not fail in practice.
                let reader = segment.reader().ok();
                shared.live.lock().wal.opened(seq, reader);
                shared
                    .spool
                    .active_seq
                    .store(seq, std::sync::atomic::Ordering::SeqCst);
                *active = Some(Active {
                    segment,
                    opened: Instant::now(),
                    records: 0,
                });
            }
            Err(err) => {
                shared.live.lock().wal.opened(seq, None);
                seal(shared, seq);
                return fail(batch, &err);
            }
        }
    }
    let Some(current) = active.as_mut() else {
        return; // Set just above.
    };
    let start = current.segment.len;
    let chunks: Vec<&[u8]> = batch.iter().map(|p| p.record.bytes.as_slice()).collect();
    let result = current.segment.append_durably(&chunks, disk);
    drop(chunks);
    let seq = current.segment.seq;
    if let Err(err) = result {
        current.segment.truncate_to_durable();
        *active = None;
        seal(shared, seq);
        return fail(batch, &err);
    }
    current.records += batch.len();
    let (acks, committed) = publish(shared, seq, start, batch, on_committed.is_some());
    for (done, ids) in acks {
        call_done(done, Ok(ids));
    }
    if let Some(callback) = on_committed.as_mut() {
        for (stage, id) in &committed {
            // A panicking callback must not stop the writer for everyone.
            let call = std::panic::AssertUnwindSafe(|| callback(*stage, id));
            if std::panic::catch_unwind(call).is_err() {
                tracing::error!(id = %id, "a spool commit callback panicked");
            }
        }
    }
    shared.live.wait_for_room(|| shared.stopping());
}

/// A waiter's callback with the ids it will be given.
type Ack = (DoneFn, Vec<EntryId>);

/// Puts the committed records (the batch starts at `start` in segment `seq`) into the
/// resident index; returns the acknowledgements to send and, if wanted, the entries to
/// announce.
fn publish(
    shared: &Shared,
    seq: u64,
    start: u64,
    batch: Vec<Pending>,
    announce: bool,
) -> (Vec<Ack>, Vec<(Stage, EntryId)>) {
    let live = &shared.live;
    let mut acks = Vec::with_capacity(batch.len());
    let mut committed = Vec::new();
    let was_idle;
    let pressed;
    {
        let mut state = live.lock();
        was_idle = state.index.is_empty();
        let entries: usize = batch.iter().map(|p| p.record.metas.len()).sum();
        state.wal.committed(seq, entries);
        let mut offset = start;
        for Pending { record, done } in batch {
            let ids: Vec<EntryId> = record.metas.iter().map(|m| m.id.clone()).collect();
            if announce {
                committed.extend(record.metas.iter().map(|m| (m.stage, m.id.clone())));
            }
            let len = record.bytes.len() as u64;
            state
                .index
                .insert(seq, offset, record, live.limits.body_cache);
            offset += len;
            acks.push((done, ids));
        }
        pressed = state.index.len() > live.limits.max_resident;
    }
    // The materializer sleeps until the oldest entry is due; new entries only matter to it
    // when there was none, or when there are too many.
    if was_idle || pressed {
        live.wake_materializer();
    }
    (acks, committed)
}

/// Marks a segment sealed and wakes the checkpointer if enough are ready.
fn seal(shared: &Shared, seq: u64) {
    let wake = shared
        .live
        .lock()
        .wal
        .sealed(seq, shared.live.limits.checkpoint_after_sealed);
    if wake {
        shared.live.wake_checkpointer();
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
