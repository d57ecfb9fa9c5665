//! mailcast's durable spool: the on-disk queue between the ways in, the runners and delivery.
//!
//! The promise: **no recipient gets a 250 until the message is durable, and nothing
//! acknowledged is ever lost** (kill -9 at any moment, full disk, failing fsync). Creating a
//! file per message durably costs ~1 ms on this class of disk, while appending to one file and
//! calling `fdatasync` once per batch is 20-60 times cheaper, so the durability point of the
//! daemon is an append-only **write-ahead log with group commit**, and the operator-visible
//! queue is directories of ordinary files filled from the log.
//!
//! # Layout (`<var_dir>/spool/`)
//!
//! ```text
//! wal/<16-hex-seq>.wal           log segments (header "mailcast-wal v1\n", then records)
//! wal/<16-hex-seq>.consumed      ids removed while their segment was live (one per line)
//! wal/LOCK                       flock held by the process owning the log
//! messages/<hh>/<id>.eml         bodies, RFC 5322 bytes; never moved, never modified
//! messages/<hh>/<id>.rcpt        delivery jobs: one recipient line per line
//! messages/<hh>/<id>.progress    delivery jobs: append-only batch log (see `job`)
//! <stage>/<hh>/<id>.json         one envelope per entry, in exactly one stage directory
//! tmp/                           files being written; emptied by recovery
//! ```
//!
//! Stages ([`Stage`]): `incoming`, `command`, `bounces`, `held`, `outgoing`, `deferred`,
//! `shunt`, `corrupt`. `<hh>` is the first byte of blake3(id) in hex: 256 buckets per
//! directory, created on demand. A state change is a rename of the envelope. Bodies are
//! immutable: a runner that changes a message writes a new entry.
//!
//! Ids ([`EntryId`]): `<13 hex µs timestamp>-<8 hex random>`, sortable by creation time;
//! derived ids `<parent>.<suffix>` make runner transitions idempotent (a re-run creates the same
//! child id and gets [`Error::Exists`]).
//!
//! Envelope JSON ([`EntryMeta`], `"version": 1`, pretty-printed): `id`, `stage`, `list`,
//! `subaddress`, `extension`, `mail_from`, `rcpt_to`, `received_at` (RFC 3339 UTC),
//! `original_size`, `body_len`, `body_hash` (blake3 hex, checked on every read), `attempts`,
//! `not_before`, `last_error`, `attrs` (free-form, owned by the runners). The directory wins
//! over the `stage` field.
//!
//! Log record: `"MCR1"`, body length (u64 LE), envelope length
//! (u32 LE), body, JSON array of envelopes, blake3 of all that, `"END\n"`. One record per
//! submission; a torn or damaged tail fails the checks and is ignored on replay.
//!
//! # Ways in
//!
//! - [`Committer`] (the daemon): [`Committer::submit`] one body plus N envelopes (one per
//!   accepted LMTP recipient). The writer thread appends every submission that arrived while
//!   the previous `fdatasync` ran, calls `fdatasync` once, then calls each `done`. A new
//!   segment is fsynced with its directory before records in it are acknowledged. On a write
//!   or sync error every waiter of the batch gets `Err` and the segment is abandoned (the next
//!   batch starts a new one; a segment is never reused after a failed fsync). The materializer
//!   thread then writes body and envelopes (no fsync, renamed into place) and reports each
//!   entry through [`CommitterOptions::on_visible`]. The entries of one submission share one
//!   body inode through **hard links**: every entry has its own `.eml` name, removal needs no
//!   reference count.
//! - [`Spool::commit_direct`] (`mailcast inject`): body fsync, rename, directory fsync, then
//!   envelopes the same way, before returning.
//! - [`Spool::adopt_file`] (Maildir): hard link into `messages/` without copying, under an id
//!   derived from the Maildir file name; durable, then the source is unlinked.
//! - [`Spool::write_entry`] and [`Spool::create_job`] (runners): durable before returning.
//!
//! # Checkpoints and the duplicate window
//!
//! About once a second (and when four sealed segments are waiting) the checkpointer calls
//! `syncfs()` and deletes the segments whose records are all materialized, and the consumed
//! logs no live segment needs; it also runs when only [`Durability::Lazy`] moves or removals
//! happened. `syncfs()` was chosen over fsyncing each touched file and directory: measured by
//! `benches/commit.rs` for 5,000 materialized entries, 0.4-0.7 s against 8.5-26 s, and it
//! also covers lazy moves. Its cost is that it flushes other writers of the same file
//! system too; it runs on its own thread and never delays an acknowledgement directly.
//!
//! [`Spool::remove`] appends the id to the consumed log (no fsync) before unlinking. After
//! `kill -9` the page cache survives, so recovery replays exactly what is missing and every
//! acknowledged entry is present exactly once. After a power loss, entries removed (and lazy
//! moves made) during the last checkpoint interval may come back: the duplicate window is one
//! checkpoint interval (~1 s). A batch whose fsync failed was answered with an error; if the
//! process also dies before the next checkpoint and the failed segment could not be cut back,
//! those records may be replayed: a duplicate of a message the MTA will resend, never a loss.
//!
//! # Recovery
//!
//! [`Spool::recover`] runs once at daemon start: empty `tmp/`, replay every segment (re-create
//! absent entries unless consumed, repair present entries whose envelope or body a power loss
//! damaged), `syncfs()`, delete the log, and move message files without an envelope (older
//! than [`Options::orphan_grace`]) to `corrupt/`. Unreadable envelopes found later (bad JSON,
//! unknown version, missing body, hash mismatch) are moved to `corrupt/` when read.
//!
//! # Threads, callbacks and back-pressure
//!
//! `done` callbacks run on the writer thread and `on_visible` on the materializer thread:
//! both must be quick (send on a channel); a panicking callback is caught and logged. The
//! writer stops taking new batches while more than [`CommitterOptions::materializer_backlog`]
//! bytes (256 MiB) wait for materialization, so a burst is acknowledged at log speed and a
//! sustained overload slows acknowledgements down to the materializer's pace instead of
//! growing memory. Only one process owns the log (`wal/LOCK`, flock).
//!
//! # Performance (see `benches/commit.rs`)
//!
//! Acknowledgement is bound by the log's `fdatasync` latency: with 16 submitters one
//! `fdatasync` covers ~10-13 messages and the spool runs at 0.7-0.9 of the raw
//! append-and-fdatasync floor measured at the same moment. Materialization is bound by file
//! creation: on this machine's ext4 (mounted without a journal) each new inode costs a scan
//! past recently deleted inodes (`find_inode_bit`/`recently_deleted`, ~40 % of CPU in `perf`),
//! so entries become visible at 1,500-4,500/s while acknowledgements run faster; the backlog
//! bound above keeps the two together under sustained load.
//!
//! # What this crate does not do
//!
//! It does not parse messages, resolve lists, schedule retries or decide what a stage means;
//! it stores, moves and announces. It runs no async code: the daemon calls it from
//! `spawn_blocking` or through the committer's callbacks.
#![warn(missing_docs)]

mod body;
mod committer;
mod direct;
mod disk;
mod error;
mod id;
mod inspect;
mod job;
mod layout;
mod meta;
mod place;
mod recover;
mod spool;
mod stage;
mod wal;

pub use body::{Body, SpillFile, Submission};
pub use committer::{Committer, CommitterOptions, DoneFn, VisibleFn};
pub use disk::FaultInjector;
pub use error::{Error, Result};
pub use id::EntryId;
pub use inspect::EntrySummary;
pub use job::{Outcome, OutcomeStatus, PendingBatches, Progress, Recipients};
pub use meta::{EntryMeta, Envelope, META_VERSION};
pub use recover::RecoveryReport;
pub use spool::{Durability, Options, Spool};
pub use stage::Stage;
