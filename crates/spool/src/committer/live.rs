//! The live part of the write-ahead log, shared by the committer's threads and every call of
//! the [`Spool`](crate::Spool) handle in the process that owns the log: the resident index
//! ([`Index`]) and the segment bookkeeping ([`WalState`]) under one lock, and the condition
//! variables the threads wait on.
//!
//! The lock is held only for bookkeeping, never across file I/O. This module decides nothing
//! about when to materialize or checkpoint; it answers questions and records changes.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::checkpoint::WalState;
use super::resident::{BodySource, Claim, Claimed, Index};
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::meta::EntryMeta;
use crate::stage::Stage;

/// How long a caller waits for another thread's claim on an entry before giving up.
const CLAIM_PATIENCE: Duration = Duration::from_secs(60);

/// The bounds the live log keeps.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Resident entries are materialized this long after their commit.
    pub materialize_after: Duration,
    /// Beyond this many resident entries the oldest are materialized early; at twice this
    /// many the writer stops taking new batches.
    pub max_resident: usize,
    /// Bytes of committed records kept in memory for quick body reads.
    pub body_cache: u64,
    /// Checkpoint early when this many sealed segments are ready to go.
    pub checkpoint_after_sealed: usize,
}

/// Everything under the live log's lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The resident entries.
    pub index: Index,
    /// The live segments.
    pub wal: WalState,
    /// Set at shutdown: the materializer takes every resident entry, due or not.
    pub draining: bool,
}

/// The live log. One per running committer; the spool handle holds it while it runs.
#[derive(Debug)]
pub(crate) struct LiveLog {
    state: Mutex<State>,
    /// Signalled when a claim is given back or an entry leaves the index.
    released: Condvar,
    /// Wakes the materializer (new entries, pressure, a claim given back, shutdown).
    materializer: Condvar,
    /// Wakes the checkpointer.
    checkpointer: Condvar,
    /// The bounds.
    pub limits: Limits,
}

impl LiveLog {
    /// An empty live log.
    pub fn new(limits: Limits) -> LiveLog {
        LiveLog {
            state: Mutex::new(State::default()),
            released: Condvar::new(),
            materializer: Condvar::new(),
            checkpointer: Condvar::new(),
            limits,
        }
    }

    /// Locks the state, ignoring poisoning: the bookkeeping stays consistent even if a
    /// thread panicked while holding it (callbacks and I/O run outside the lock).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The envelope of resident entry `id`.
    pub fn meta(&self, id: &EntryId) -> Option<EntryMeta> {
        self.lock().index.meta(id).cloned()
    }

    /// The stage of resident entry `id`.
    pub fn stage_of(&self, id: &EntryId) -> Option<Stage> {
        self.lock().index.meta(id).map(|meta| meta.stage)
    }

    /// The resident entries in `stage`.
    pub fn ids_in(&self, stage: Stage) -> Vec<EntryId> {
        self.lock().index.ids_in(stage)
    }

    /// Where the body of resident entry `id` is.
    pub fn body(&self, id: &EntryId) -> Option<Result<BodySource>> {
        let state = self.lock();
        state.index.body(id, |seq| state.wal.reader(seq))
    }

    /// Claims resident entry `id` in `stage`, waiting while another thread holds it.
    /// `Ok(None)` when it is not resident; [`Error::NotFound`] when it is resident in another
    /// stage.
    pub fn claim(&self, id: &EntryId, stage: Stage) -> Result<Option<Claimed>> {
        let mut state = self.lock();
        let mut waited = Duration::ZERO;
        loop {
            let State { index, wal, .. } = &mut *state;
            match index.claim(id, stage, |seq| wal.reader(seq))? {
                Claim::NotResident => return Ok(None),
                Claim::Elsewhere => return Err(Error::NotFound(id.to_string())),
                Claim::Claimed(claimed) => return Ok(Some(*claimed)),
                Claim::Busy if waited >= CLAIM_PATIENCE => {
                    return Err(Error::Busy(id.to_string()));
                }
                Claim::Busy => {
                    let step = Duration::from_millis(100);
                    state = self
                        .released
                        .wait_timeout(state, step)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0;
                    waited += step;
                }
            }
        }
    }

    /// Gives a claim back, with the rewritten envelope if there is one.
    pub fn unclaim(&self, id: &EntryId, meta: Option<EntryMeta>) {
        self.lock().index.unclaim(id, meta);
        self.released.notify_all();
        self.materializer.notify_one();
    }

    /// Removes claimed entries from the index: their files are written, or they were
    /// consumed.
    pub fn release<'a>(&self, ids: impl IntoIterator<Item = &'a EntryId>) {
        let mut wake = false;
        {
            let mut state = self.lock();
            for id in ids {
                if let Some(seq) = state.index.release(id) {
                    wake |= state.wal.released(seq, self.limits.checkpoint_after_sealed);
                }
            }
        }
        self.released.notify_all();
        if wake {
            self.checkpointer.notify_all();
        }
    }

    /// Waits (at most `timeout`) for the materializer's next reason to look.
    pub fn wait_materializer<'a>(
        &self,
        state: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        self.materializer
            .wait_timeout(state, timeout)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }

    /// Wakes the materializer.
    pub fn wake_materializer(&self) {
        self.materializer.notify_one();
    }

    /// Waits (at most `timeout`) for the checkpointer's next reason to run.
    pub fn wait_checkpoint<'a>(
        &self,
        state: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        self.checkpointer
            .wait_timeout(state, timeout)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }

    /// Wakes the checkpointer.
    pub fn wake_checkpointer(&self) {
        self.checkpointer.notify_all();
    }

    /// Called by the writer after a commit: waits while the resident set is at its hard bound
    /// (twice `max_resident`), so that a materializer that cannot keep up (or cannot write at
    /// all) slows acknowledgements down instead of growing memory; returns early when
    /// `stopping` says so.
    pub fn wait_for_room(&self, stopping: impl Fn() -> bool) {
        let hard = self.limits.max_resident.saturating_mul(2).max(1);
        let mut state = self.lock();
        while state.index.len() >= hard && !stopping() {
            self.materializer.notify_one();
            state = self
                .released
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}
