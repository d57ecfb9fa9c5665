//! Group commit: the daemon's way to make received messages durable quickly, and to hand
//! them to the runners at once.
//!
//! Three threads cooperate:
//! - the **writer** ([`writer`]) appends the records of every submission that arrived while
//!   the previous `fdatasync` ran, calls `fdatasync` once, puts the entries into the resident
//!   index ([`live`], [`resident`]), then calls every waiter's `done` and reports each entry
//!   through `on_committed` (no fixed delay: latency at low load is one fdatasync, throughput
//!   at high load is many messages per fdatasync);
//! - the **materializer** ([`materializer`]) writes body and envelope files (no fsync) for
//!   the entries still resident `materialize_after` after their commit;
//! - the **checkpointer** ([`checkpoint`]) about once a second, or when sealed segments pile
//!   up, calls `syncfs()` and then deletes the segments none of whose entries is resident.
//!
//! Acknowledgement waits only for the write-ahead log's `fdatasync`, and a committed entry is
//! usable through the spool's API at once; files are written only for entries nobody
//! consumed in the meantime. This module holds the handle and the state the threads share; it
//! does not read or move entries.

mod checkpoint;
mod live;
mod materializer;
mod resident;
mod writer;

use std::fmt;
use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
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

pub(crate) use live::{Limits, LiveLog};
pub(crate) use resident::Claimed;

/// Called once per entry right after the commit that made it durable (from the writer
/// thread, after the batch's `done` callbacks; keep it quick, e.g. send on a channel). From
/// then on the entry can be read, moved and removed through the spool's API.
pub type CommittedFn = Box<dyn FnMut(Stage, &EntryId) + Send>;

/// Called once per submission with its entry ids after the commit, or with the error that
/// prevented it (from the writer thread; keep it quick).
pub type DoneFn = Box<dyn FnOnce(Result<Vec<EntryId>>) + Send>;

/// How the committer runs.
pub struct CommitterOptions {
    /// Roll to a new segment when the current one reaches this size. Default 64 MiB.
    pub segment_size: u64,
    /// Checkpoint (and seal a non-empty active segment) this often. Default 1 s.
    pub checkpoint_interval: Duration,
    /// Checkpoint early when this many sealed segments are ready. Default 4.
    pub checkpoint_after_sealed: usize,
    /// Committed entries are written as files only if they are still present this long
    /// after their commit; an entry removed or moved before is never written in its first
    /// stage. Default 2 s.
    pub materialize_after: Duration,
    /// Beyond this many resident (committed, not yet written as files) entries the oldest
    /// are written early; at twice this many the writer stops taking new batches until the
    /// materializer catches up (bounds memory: an entry costs its envelope, a few hundred
    /// bytes). Default 50,000.
    pub max_resident: usize,
    /// Bytes of recently committed records kept in memory, so that runners read fresh bodies
    /// without I/O; older bodies are read from the log segment. Default 64 MiB.
    pub body_cache: u64,
    /// Told about every entry right after its commit.
    pub on_committed: Option<CommittedFn>,
}

impl Default for CommitterOptions {
    fn default() -> CommitterOptions {
        CommitterOptions {
            segment_size: 64 << 20,
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_after_sealed: 4,
            materialize_after: Duration::from_secs(2),
            max_resident: 50_000,
            body_cache: 64 << 20,
            on_committed: None,
        }
    }
}

impl fmt::Debug for CommitterOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitterOptions")
            .field("segment_size", &self.segment_size)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("checkpoint_after_sealed", &self.checkpoint_after_sealed)
            .field("materialize_after", &self.materialize_after)
            .field("max_resident", &self.max_resident)
            .field("body_cache", &self.body_cache)
            .field("on_committed", &self.on_committed.is_some())
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
    pub live: Arc<LiveLog>,
    pub queue: Mutex<Queue>,
    pub queue_cv: Condvar,
    pub segment_size: u64,
    pub checkpoint_interval: Duration,
}

impl Shared {
    /// True once shutdown has begun.
    pub fn stopping(&self) -> bool {
        lock(&self.queue).stopping
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
/// the last clone) flushes, writes every resident entry's files, checkpoints and joins the
/// threads.
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
    /// [`Error::Locked`] if another process (or another handle of this one) owns the log.
    pub fn start_committer(&self, mut options: CommitterOptions) -> Result<Committer> {
        if self.live().is_some() {
            return Err(Error::Locked);
        }
        let lock = self.lock_wal()?;
        let wal_dir = self.layout().wal_dir();
        if !segment::list(&wal_dir, "wal")?.is_empty() {
            return Err(Error::NeedsRecovery);
        }
        let first_seq = segment::list(&wal_dir, "consumed")?
            .last()
            .map_or(1, |seq| seq + 1);
        self.inner
            .active_seq
            .store(first_seq, std::sync::atomic::Ordering::SeqCst);
        let live = Arc::new(LiveLog::new(Limits {
            materialize_after: options.materialize_after,
            max_resident: options.max_resident.max(1),
            body_cache: options.body_cache,
            checkpoint_after_sealed: options.checkpoint_after_sealed.max(1),
        }));
        let shared = Arc::new(Shared {
            spool: self.inner.clone(),
            live: live.clone(),
            queue: Mutex::new(Queue::default()),
            queue_cv: Condvar::new(),
            segment_size: options.segment_size,
            checkpoint_interval: options.checkpoint_interval,
        });
        self.set_live(Some(live));
        let on_committed = options.on_committed.take();
        let threads = (|| {
            Ok(Threads {
                writer: spawn("spool-writer", {
                    let shared = shared.clone();
                    move || writer::run(&shared, first_seq, on_committed)
                })?,
                materializer: spawn("spool-materializer", {
                    let shared = shared.clone();
                    move || materializer::run(&shared)
                })?,
                checkpointer: spawn("spool-checkpoint", {
                    let shared = shared.clone();
                    move || checkpoint::run(&shared)
                })?,
                _lock: lock,
            })
        })();
        let threads = match threads {
            Ok(threads) => threads,
            Err(err) => {
                self.set_live(None);
                return Err(err);
            }
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

    /// Stops accepting submissions, commits what is queued, writes the files of every entry
    /// still resident, runs a final checkpoint and joins the threads, leaving an empty log
    /// (unless files could not be written: then the log stays for recovery). Later calls
    /// return `Ok(())` at once.
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
        shared.live.lock().draining = true;
        shared.live.wake_materializer();
        let _ = threads.materializer.join();
        shared.live.lock().wal.stopping = true;
        shared.live.wake_checkpointer();
        let result = threads.checkpointer.join().unwrap_or(Ok(()));
        Spool {
            inner: shared.spool.clone(),
        }
        .set_live(None);
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
