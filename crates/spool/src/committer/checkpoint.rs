//! Checkpoints: make files durable, then delete the log segments nothing needs any more.
//!
//! A segment can go once it is sealed (the writer moved on) and none of its entries is
//! resident any more: each was materialized, moved (its files written in another stage) or
//! consumed (removed; noted in the consumed log). The checkpoint calls `syncfs()` on the
//! spool's file system, which makes every file written since the last one, every rename and
//! every `Lazy` move durable in one call (the benchmark compares it with fsyncing each file
//! and directory: see the crate docs), and only then deletes those segments and the consumed
//! logs no live segment needs. This module owns the segment bookkeeping ([`WalState`]); it
//! does not write records or entries.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Shared;
use crate::disk;
use crate::error::Result;
use crate::wal::segment;

/// What the committer threads know about the live segments.
#[derive(Debug, Default)]
pub(crate) struct WalState {
    segments: BTreeMap<u64, SegmentState>,
    /// Set by `Committer::shutdown` once the writer and materializer have finished.
    pub stopping: bool,
    /// Set when enough segments are ready that the checkpointer should not wait.
    wake: bool,
}

#[derive(Debug, Default)]
struct SegmentState {
    sealed: bool,
    /// Entries of this segment still resident.
    resident: usize,
    /// A read handle, for bodies of resident entries.
    reader: Option<Arc<File>>,
}

impl WalState {
    /// The writer created segment `seq` (with a read handle on it, if it could open one).
    pub fn opened(&mut self, seq: u64, reader: Option<File>) {
        self.segments.insert(
            seq,
            SegmentState {
                reader: reader.map(Arc::new),
                ..SegmentState::default()
            },
        );
    }

    /// A read handle on live segment `seq`.
    pub fn reader(&self, seq: u64) -> Option<Arc<File>> {
        self.segments.get(&seq)?.reader.clone()
    }

    /// `n` entries of segment `seq` are durable and resident.
    pub fn committed(&mut self, seq: u64, n: usize) {
        self.segments.entry(seq).or_default().resident += n;
    }

    /// One entry of segment `seq` left the resident index. True when the checkpointer
    /// should run now rather than at its next interval.
    pub fn released(&mut self, seq: u64, threshold: usize) -> bool {
        if let Some(state) = self.segments.get_mut(&seq) {
            state.resident = state.resident.saturating_sub(1);
            if state.resident == 0 && state.sealed {
                return self.should_wake(threshold);
            }
        }
        false
    }

    /// The writer will not append to segment `seq` again (rolled, idle or failed).
    pub fn sealed(&mut self, seq: u64, threshold: usize) -> bool {
        self.segments.entry(seq).or_default().sealed = true;
        self.should_wake(threshold)
    }

    fn should_wake(&mut self, threshold: usize) -> bool {
        if self.ready().len() >= threshold {
            self.wake = true;
        }
        self.wake
    }

    /// Segments that a checkpoint may delete.
    fn ready(&self) -> Vec<u64> {
        self.segments
            .iter()
            .filter(|(_, s)| s.sealed && s.resident == 0)
            .map(|(seq, _)| *seq)
            .collect()
    }
}

/// The checkpointer thread: checkpoints every interval (or when woken) until shutdown, then
/// runs a final checkpoint and returns its result.
pub(crate) fn run(shared: &Shared) -> Result<()> {
    let live = &shared.live;
    loop {
        let (ready, stopping) = {
            let mut state = live.lock();
            if !state.wal.stopping && !state.wal.wake {
                state = live.wait_checkpoint(state, shared.checkpoint_interval);
            }
            state.wal.wake = false;
            (state.wal.ready(), state.wal.stopping)
        };
        let result = checkpoint(shared, &ready);
        if stopping {
            return result;
        }
        if let Err(err) = result {
            tracing::warn!(error = %err, "spool checkpoint failed; will retry");
        }
    }
}

/// Makes everything durable, then deletes the `ready` segments and unneeded consumed logs.
fn checkpoint(shared: &Shared, ready: &[u64]) -> Result<()> {
    let lazy = shared.spool.lazy_pending.swap(false, Ordering::SeqCst);
    if ready.is_empty() && !lazy {
        return Ok(());
    }
    let layout = &shared.spool.layout;
    let wal_dir = layout.wal_dir();
    if let Err(err) = shared.spool.disk.syncfs(layout.root()) {
        shared.spool.lazy_pending.fetch_or(lazy, Ordering::SeqCst);
        return Err(err);
    }
    for seq in ready {
        disk::remove_if_exists(&segment::segment_path(&wal_dir, *seq))?;
    }
    let min_live = {
        let mut state = shared.live.lock();
        for seq in ready {
            state.wal.segments.remove(seq);
        }
        state.wal.segments.keys().next().copied()
    };
    for seq in segment::list(&wal_dir, "consumed")? {
        if min_live.is_none_or(|live| seq < live) {
            disk::remove_if_exists(&segment::consumed_path(&wal_dir, seq))?;
        }
    }
    Ok(())
}
