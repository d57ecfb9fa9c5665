//! mailcast's durable spool: the on-disk queue between the ways in, the runners and delivery.
//!
//! The promise: **no recipient gets a 250 until the message is durable, and nothing
//! acknowledged is ever lost** (kill -9 at any moment, full disk, failing fsync). Creating a
//! file per message durably costs ~1 ms on this class of disk, while appending to one file and
//! calling `fdatasync` once per batch is 20-60 times cheaper, so the durability point of the
//! daemon is an append-only **write-ahead log with group commit**, and the operator-visible
//! queue is directories of ordinary files filled from the log, but only for entries that are
//! still there a moment later: most entries are consumed by a runner within milliseconds,
//! straight from the log and memory, and never become files in their first stage.
//!
//! # Layout (`<var_dir>/spool/`)
//!
//! ```text
//! wal/<16-hex-seq>.wal           log segments (header "mailcast-wal v1\n", then records)
//! wal/<16-hex-seq>.consumed      ids removed, and envelopes rewritten, while the segment
//!                                that created them was live (one per line)
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
//! # What lives where, for how long
//!
//! An entry received over LMTP is, in turn:
//! 1. **resident** (from the log's `fdatasync`): its record is in `wal/<seq>.wal`, its
//!    envelope and the place of its body in the committer's memory (with the body itself for
//!    recent records). Every call of the [`Spool`] API treats it like any other entry, and the
//!    daemon's runners are told about it at once ([`CommitterOptions::on_committed`]). Other
//!    processes (the CLI) see it by parsing the live segments read-only.
//! 2. Then one of:
//!    - **consumed** before `materialize_after` (2 s by default): a runner removed it; its
//!      id is appended to `wal/<seq>.consumed`; no file is ever written;
//!    - **moved** (or rewritten durably) by a runner: its body and envelope are written as
//!      files in the target stage; a lazy rewrite in place (a runner storing a post number)
//!      only appends the new envelope to `wal/<seq>.consumed` and it stays resident;
//!    - **materialized**: still present `materialize_after` after its commit (or earlier when
//!      more than [`CommitterOptions::max_resident`] entries are resident, and at shutdown):
//!      the materializer writes `messages/<hh>/<id>.eml` and `<stage>/<hh>/<id>.json`.
//! 3. The log segment is deleted at the first checkpoint (about a second) after none of its
//!    entries is resident any more, once `syncfs()` has made their files durable.
//!
//! So an operator finds every waiting entry as ordinary files at most a few seconds after it
//! arrived, and everything else in `wal/` (readable with `mailcast queue list|show`); after a
//! clean shutdown the log is empty and everything is files. Entries written by other ways in
//! (`mailcast inject`, Maildir) and by runners (jobs, notices, held posts) are files at once.
//!
//! # Ways in
//!
//! - [`Committer`] (the daemon): [`Committer::submit`] one body plus N envelopes (one per
//!   accepted LMTP recipient). The writer thread appends every submission that arrived while
//!   the previous `fdatasync` ran, calls `fdatasync` once, puts the entries in the resident
//!   index, then calls each `done` and `on_committed`. A new segment is fsynced with its
//!   directory before records in it are acknowledged. On a write or sync error every waiter
//!   of the batch gets `Err` and the segment is abandoned (the next batch starts a new one; a
//!   segment is never reused after a failed fsync). The entries of one submission share one
//!   body inode through **hard links** once materialized: every entry has its own `.eml`
//!   name, removal needs no reference count.
//! - [`Spool::commit_direct`] (`mailcast inject`): body fsync, rename, directory fsync, then
//!   envelopes the same way, before returning.
//! - [`Spool::adopt_file`] (Maildir): hard link into `messages/` without copying, under an id
//!   derived from the Maildir file name; durable, then the source is unlinked.
//! - [`Spool::write_entry`] and [`Spool::create_job`] (runners): durable before returning.
//!
//! # Files the materializer writes
//!
//! Without fsync (the record is durable in the log until the checkpoint's `syncfs()`): the
//! body straight under its final name (only ever read through an envelope, hash-checked; a
//! crash mid-write leaves a partial body that recovery rewrites), the envelope as an
//! `O_TMPFILE` in its bucket directory linked into place (never partial, nothing left behind
//! by a crash). `benches/commit.rs` part (e) measured the choices on this machine.
//!
//! # Checkpoints and the duplicate window
//!
//! About once a second (and when four sealed segments are ready) the checkpointer calls
//! `syncfs()` and deletes the sealed segments none of whose entries is resident, and the
//! consumed logs no live segment needs; it also runs when only [`Durability::Lazy`] moves or
//! removals happened. `syncfs()` was chosen over fsyncing each touched file and directory:
//! measured by `benches/commit.rs` for 5,000 materialized entries, 0.4-0.7 s against
//! 8.5-26 s, and it also covers lazy moves. Its cost is that it flushes other writers of the
//! same file system too; it runs on its own thread and never delays an acknowledgement
//! directly.
//!
//! [`Spool::remove`] appends the id to the consumed log (no fsync) before unlinking (or, for
//! a resident entry, instead of writing anything). After `kill -9` the page cache survives,
//! so recovery replays exactly what is missing and every acknowledged entry is present
//! exactly once, with its last rewrite. After a power loss, entries removed (and lazy moves
//! and rewrites made) during the last checkpoint interval may come back or be undone: the
//! duplicate window is one checkpoint interval (~1 s). A batch whose fsync failed was
//! answered with an error; if the process also dies before the next checkpoint and the failed
//! segment could not be cut back, those records may be replayed: a duplicate of a message the
//! MTA will resend, never a loss.
//!
//! # Recovery
//!
//! [`Spool::recover`] runs once at daemon start: empty `tmp/`, replay every segment (re-create
//! absent entries unless consumed, with their last rewrite; repair present entries whose
//! envelope or body a power loss or a crash damaged), `syncfs()`, delete the log, and move
//! message files without an envelope (older than [`Options::orphan_grace`]) to `corrupt/`.
//! Unreadable envelopes found later (bad JSON, unknown version, missing body, hash mismatch)
//! are moved to `corrupt/` when read.
//!
//! # Other processes
//!
//! A [`Spool`] opened without a committer (the CLI, `mailcast inject`) reads files first and
//! then the live log's segments and consumed logs (read-only; checksummed records, a torn
//! tail is not shown), so `list`, `find`, `read_meta`, `read_body`, `counts` and `summary`
//! include resident entries. It cannot move or remove an entry that only the running
//! daemon's log holds ([`Error::Busy`]: try again once it is a file); when no process owns
//! the log (after a crash, before recovery) it can, in a way recovery understands.
//!
//! # Threads, callbacks and back-pressure
//!
//! `done` and `on_committed` callbacks run on the writer thread: they must be quick (send on
//! a channel); a panicking callback is caught and logged. The resident index holds envelopes
//! (a few hundred bytes each) and caches record bytes up to
//! [`CommitterOptions::body_cache`] (64 MiB); older bodies are read back from the segment
//! (page cache). Beyond [`CommitterOptions::max_resident`] entries (50,000) the oldest are
//! materialized early, and at twice that the writer stops taking new batches, so a sustained
//! overload (or a disk the materializer cannot write to) slows acknowledgements down instead
//! of growing memory. Only one process owns the log (`wal/LOCK`, flock).
//!
//! # Performance (see `benches/commit.rs`)
//!
//! Acknowledgement is bound by the log's `fdatasync` latency: with 16 submitters one
//! `fdatasync` covers ~10-13 messages and the spool runs at 0.7-0.9 of the raw
//! append-and-fdatasync floor measured at the same moment. CPU is dominated by file creation
//! when entries are materialized: on this machine's ext4 (mounted without a journal) each new
//! inode also costs a scan past recently deleted inodes (`find_inode_bit`/`recently_deleted`),
//! which is why entries consumed within `materialize_after` never create one. Part (b) of the
//! bench reports CPU per message with every entry materialized and with every entry consumed.
//!
//! # What this crate does not do
//!
//! It does not parse messages, resolve lists, schedule retries or decide what a stage means;
//! it stores, moves and announces. It runs no async code: the daemon calls it from
//! `spawn_blocking` or through the committer's callbacks.
#![warn(missing_docs)]

mod body;
mod change;
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
mod read;
mod recover;
mod spool;
mod stage;
mod wal;

pub use body::{Body, SpillFile, Submission};
pub use committer::{CommittedFn, Committer, CommitterOptions, DoneFn};
pub use disk::FaultInjector;
pub use error::{Error, Result};
pub use id::EntryId;
pub use inspect::EntrySummary;
pub use job::{Outcome, OutcomeStatus, PendingBatches, Progress, Recipients};
pub use meta::{EntryMeta, Envelope, META_VERSION};
pub use recover::RecoveryReport;
pub use spool::{Durability, Options, Spool};
pub use stage::Stage;
