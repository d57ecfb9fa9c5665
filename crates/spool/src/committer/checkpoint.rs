//! Checkpoints: make materialized files durable, then delete the log segments they came from.
//!
//! A segment can go once it is sealed (the writer moved on) and every record in it has been
//! materialized. The checkpoint calls `syncfs()` on the spool's file system, which makes every
//! materialized file, every rename and every `Lazy` move durable in one call (the benchmark
//! compares it with fsyncing each file and directory: see the crate docs), and only then
//! deletes those segments and the consumed logs no live segment needs. This module owns the
//! segment bookkeeping ([`WalState`]); it does not write records or entries.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::{Shared, lock};
use crate::disk;
use crate::error::Result;
use crate::wal::segment;

/// What the committer threads know about the live segments.
#[derive(Debug)]
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
    unmaterialized: usize,
}

impl WalState {
    /// No live segments yet.
    pub fn new() -> WalState {
        WalState {
            segments: BTreeMap::new(),
            stopping: false,
            wake: false,
        }
    }

    /// The writer created segment `seq`.
    pub fn opened(&mut self, seq: u64) {
        self.segments.insert(seq, SegmentState::default());
    }

    /// `n` records of segment `seq` are durable and on their way to the materializer.
    pub fn committed(&mut self, seq: u64, n: usize) {
        self.segments.entry(seq).or_default().unmaterialized += n;
    }

    /// `n` records of segment `seq` are now files.
    pub fn materialized(&mut self, seq: u64, n: usize, threshold: usize) -> bool {
        if let Some(state) = self.segments.get_mut(&seq) {
            state.unmaterialized = state.unmaterialized.saturating_sub(n);
        }
        self.should_wake(threshold)
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
            .filter(|(_, s)| s.sealed && s.unmaterialized == 0)
            .map(|(seq, _)| *seq)
            .collect()
    }
}

/// The checkpointer thread: checkpoints every interval (or when woken) until shutdown, then
/// runs a final checkpoint and returns its result.
pub(crate) fn run(shared: &Shared) -> Result<()> {
    loop {
        let (ready, stopping) = {
            let mut wal = lock(&shared.wal);
            if !wal.stopping && !wal.wake {
                wal = shared
                    .wal_cv
                    .wait_timeout(wal, shared.checkpoint_interval)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
            wal.wake = false;
            (wal.ready(), wal.stopping)
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
        let mut wal = lock(&shared.wal);
        for seq in ready {
            wal.segments.remove(seq);
        }
        wal.segments.keys().next().copied()
    };
    for seq in segment::list(&wal_dir, "consumed")? {
        if min_live.is_none_or(|live| seq < live) {
            disk::remove_if_exists(&segment::consumed_path(&wal_dir, seq))?;
        }
    }
    Ok(())
}
