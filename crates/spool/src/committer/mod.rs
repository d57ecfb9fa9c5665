//! Group commit: the daemon's way to make received messages durable quickly.
//!
//! Three threads cooperate:
//! - the **writer** ([`writer`]) appends the records of every submission that arrived while
//!   the previous `fdatasync` ran, calls `fdatasync` once, then calls every waiter's `done`
//!   (no fixed delay: latency at low load is one fdatasync, throughput at high load is many
//!   messages per fdatasync);
//! - the **materializer** ([`materializer`]) turns committed records into body and envelope
//!   files (no fsync) and reports each entry as visible;
//! - the **checkpointer** ([`checkpoint`]) about once a second, or when sealed segments pile
//!   up, calls `syncfs()` and then deletes the segments whose records are all materialized.
//!
//! Acknowledgement waits only for the write-ahead log's `fdatasync`, never for
//! materialization. This module holds the handle and the state the threads share; it does not
//! read or move entries.

mod checkpoint;
mod materializer;
mod writer;

use std::fmt;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::body::Submission;
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::meta::EntryMeta;
use crate::spool::{Inner, Spool};
use crate::stage::Stage;
use crate::wal::record::Record;
use crate::wal::segment;

pub(crate) use checkpoint::WalState;

/// Called once per entry when it becomes visible in its stage (from the materializer thread;
/// keep it quick, e.g. send on a channel).
pub type VisibleFn = Box<dyn FnMut(Stage, &EntryId) + Send>;

/// Called once per submission with its entry ids after the commit, or with the error that
/// prevented it (from the writer thread; keep it quick).
pub type DoneFn = Box<dyn FnOnce(Result<Vec<EntryId>>) + Send>;

/// How the committer runs.
pub struct CommitterOptions {
    /// Roll to a new segment when the current one reaches this size. Default 64 MiB.
    pub segment_size: u64,
    /// Checkpoint (and seal a non-empty active segment) this often. Default 1 s.
    pub checkpoint_interval: Duration,
    /// Checkpoint early when this many sealed segments wait. Default 4.
    pub checkpoint_after_sealed: usize,
    /// Bytes of committed records the materializer may lag behind before the writer stops
    /// taking new batches (bounds memory; a burst is acknowledged at log speed up to this
    /// much). Default 256 MiB.
    pub materializer_backlog: u64,
    /// Told about every entry that becomes visible in its stage.
    pub on_visible: Option<VisibleFn>,
}

impl Default for CommitterOptions {
    fn default() -> CommitterOptions {
        CommitterOptions {
            segment_size: 64 << 20,
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_after_sealed: 4,
            materializer_backlog: 256 << 20,
            on_visible: None,
        }
    }
}

impl fmt::Debug for CommitterOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitterOptions")
            .field("segment_size", &self.segment_size)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("checkpoint_after_sealed", &self.checkpoint_after_sealed)
            .field("materializer_backlog", &self.materializer_backlog)
            .field("on_visible", &self.on_visible.is_some())
            .finish()
    }
}

/// A submission waiting for the writer.
pub(crate) struct Pending {
    pub record: Record,
    pub done: DoneFn,
}

/// The writer's input queue.
#[derive(Default)]
pub(crate) struct Queue {
    pub pending: Vec<Pending>,
    pub stopping: bool,
}

/// State shared by the handle and the threads.
pub(crate) struct Shared {
    pub spool: Arc<Inner>,
    pub queue: Mutex<Queue>,
    pub queue_cv: Condvar,
    pub wal: Mutex<WalState>,
    pub wal_cv: Condvar,
    pub segment_size: u64,
    pub checkpoint_interval: Duration,
    pub checkpoint_after_sealed: usize,
    /// Bytes of records committed but not yet materialized.
    pub backlog: Mutex<u64>,
    pub backlog_cv: Condvar,
    pub backlog_limit: u64,
}

impl Shared {
    /// Called by the writer: `bytes` more are waiting for the materializer.
    pub fn add_backlog(&self, bytes: u64) {
        *lock(&self.backlog) += bytes;
    }

    /// Called by the materializer: `bytes` are materialized.
    pub fn sub_backlog(&self, bytes: u64) {
        let mut backlog = lock(&self.backlog);
        *backlog = backlog.saturating_sub(bytes);
        drop(backlog);
        self.backlog_cv.notify_all();
    }

    /// Called by the writer: waits while the materializer is too far behind (but not past
    /// shutdown, so that a materializer stuck on a failing disk cannot hang it).
    pub fn wait_for_backlog(&self) {
        let mut backlog = lock(&self.backlog);
        while *backlog > self.backlog_limit {
            backlog = self
                .backlog_cv
                .wait_timeout(backlog, Duration::from_millis(100))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            if *backlog > self.backlog_limit && lock(&self.queue).stopping {
                return;
            }
        }
    }
}

/// Locks a mutex, ignoring poisoning: the data guarded here stays consistent even if a
/// callback panicked while it was held (callbacks run outside the locks).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The daemon's group-commit front end. Cheap to clone; [`Committer::shutdown`] (or dropping
/// the last clone) flushes, checkpoints and joins the threads.
#[derive(Clone)]
pub struct Committer {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    threads: Mutex<Option<Threads>>,
}

struct Threads {
    writer: JoinHandle<()>,
    materializer: JoinHandle<()>,
    checkpointer: JoinHandle<Result<()>>,
    /// The flock on `wal/LOCK`, released when dropped.
    _lock: File,
}

impl fmt::Debug for Committer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

impl Spool {
    /// Takes ownership of the write-ahead log and starts the commit threads. Call
    /// [`Spool::recover`] first: [`Error::NeedsRecovery`] if segments of an earlier run remain,
    /// [`Error::Locked`] if another process owns the log.
    pub fn start_committer(&self, mut options: CommitterOptions) -> Result<Committer> {
        let lock = self.lock_wal()?;
        let wal_dir = self.layout().wal_dir();
        if !segment::list(&wal_dir, "wal")?.is_empty() {
            return Err(Error::NeedsRecovery);
        }
        let first_seq = segment::list(&wal_dir, "consumed")?
            .last()
            .map_or(1, |seq| seq + 1);
        self.inner.active_seq.store(first_seq, Ordering::SeqCst);
        self.inner.committer_running.store(true, Ordering::SeqCst);
        let shared = Arc::new(Shared {
            spool: self.inner.clone(),
            queue: Mutex::new(Queue::default()),
            queue_cv: Condvar::new(),
            wal: Mutex::new(WalState::new()),
            wal_cv: Condvar::new(),
            segment_size: options.segment_size,
            checkpoint_interval: options.checkpoint_interval,
            checkpoint_after_sealed: options.checkpoint_after_sealed.max(1),
            backlog: Mutex::new(0),
            backlog_cv: Condvar::new(),
            backlog_limit: options.materializer_backlog,
        });
        let (tx, rx) = mpsc::channel();
        let on_visible = options.on_visible.take();
        let threads = Threads {
            writer: spawn("spool-writer", {
                let shared = shared.clone();
                move || writer::run(&shared, first_seq, tx)
            })?,
            materializer: spawn("spool-materializer", {
                let shared = shared.clone();
                move || materializer::run(&shared, rx, on_visible)
            })?,
            checkpointer: spawn("spool-checkpoint", {
                let shared = shared.clone();
                move || checkpoint::run(&shared)
            })?,
            _lock: lock,
        };
        Ok(Committer {
            handle: Arc::new(Handle {
                shared,
                threads: Mutex::new(Some(threads)),
            }),
        })
    }
}

fn spawn<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .map_err(|err| Error::io("spawn thread", std::path::Path::new(name), err))
}

impl Committer {
    /// Queues a submission. `done` is called exactly once: with the new entry ids (one per
    /// envelope, in order) after the `fdatasync` covering the record returned, or with the
    /// error that prevented the commit. Until then nothing may be acknowledged.
    pub fn submit(&self, submission: Submission, done: DoneFn) {
        let record = match encode(submission) {
            Ok(record) => record,
            Err(err) => return done(Err(err)),
        };
        let shared = &self.handle.shared;
        let mut queue = lock(&shared.queue);
        if queue.stopping {
            drop(queue);
            return done(Err(Error::ShutDown));
        }
        queue.pending.push(Pending { record, done });
        drop(queue);
        shared.queue_cv.notify_one();
    }

    /// [`Committer::submit`] and wait for the result (for callers on a blocking thread).
    pub fn submit_wait(&self, submission: Submission) -> Result<Vec<EntryId>> {
        let (tx, rx) = mpsc::channel();
        self.submit(
            submission,
            Box::new(move |result| {
                let _ = tx.send(result); // The receiver waits below; it cannot be gone.
            }),
        );
        rx.recv().unwrap_or(Err(Error::ShutDown))
    }

    /// Stops accepting submissions, commits what is queued, materializes everything, runs a
    /// final checkpoint and joins the threads. Later calls return `Ok(())` at once.
    pub fn shutdown(&self) -> Result<()> {
        self.handle.shutdown()
    }
}

impl Handle {
    fn shutdown(&self) -> Result<()> {
        let Some(threads) = lock(&self.threads).take() else {
            return Ok(());
        };
        let shared = &self.shared;
        lock(&shared.queue).stopping = true;
        shared.queue_cv.notify_all();
        // A panicked thread has already lost nothing durable: its work is in the log.
        let _ = threads.writer.join();
        let _ = threads.materializer.join();
        lock(&shared.wal).stopping = true;
        shared.wal_cv.notify_all();
        let result = threads.checkpointer.join().unwrap_or(Ok(()));
        shared
            .spool
            .committer_running
            .store(false, Ordering::SeqCst);
        result
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown() {
            tracing::warn!(error = %err, "spool committer shutdown failed");
        }
    }
}

/// Assigns ids and builds the log record of a submission (on the caller's thread).
fn encode(submission: Submission) -> Result<Record> {
    if submission.envelopes.is_empty() {
        return Err(Error::Invalid(
            "a submission needs at least one envelope".into(),
        ));
    }
    let Submission {
        body,
        envelopes,
        original_size,
        received_at,
    } = submission;
    let original_size = original_size.unwrap_or(body.len());
    Record::encode(body, |digest| {
        envelopes
            .iter()
            .map(|envelope| {
                let id = EntryId::generate();
                EntryMeta::from_envelope(id, envelope, received_at, original_size, digest)
            })
            .collect()
    })
}

/// A committed batch on its way to the materializer.
pub(crate) struct Batch {
    pub seq: u64,
    pub records: Vec<Record>,
}

/// The writer's side of the materializer channel.
pub(crate) type BatchSender = Sender<Batch>;
