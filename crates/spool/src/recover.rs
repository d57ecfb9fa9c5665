//! Crash recovery: run once by the daemon at start, before anything else touches the spool.
//!
//! 1. Take the log lock (a second daemon on the same spool gets [`Error::Locked`]).
//! 2. Empty `tmp/` (half-written files and spill files of the previous run).
//! 3. Replay every log segment in order. For each entry of each valid record:
//!    - present in some stage: keep it where it is, but check it: an unreadable envelope is
//!      rewritten from the log (in the stage where it was found), a missing or damaged body is
//!      rewritten from the log (this is what a power loss before the checkpoint leaves, or a
//!      crash while the materializer was writing it);
//!    - absent and named in a consumed log: it was finished before the crash; leftover body
//!      or job files are removed;
//!    - absent otherwise (it was still resident: committed, not yet written as files, or
//!      half written): materialized into its stage, with the envelope of its last rewrite
//!      in the consumed log if it had one.
//!
//!    A torn tail (a record cut by the crash) ends the scan of its segment; it was never
//!    acknowledged.
//! 4. `syncfs()`, then delete every segment and consumed log: the log is empty again.
//! 5. Message files that no envelope refers to and that are older than `orphan_grace` are
//!    moved to `corrupt/` (never deleted).
//!
//! This module does not schedule anything: runners should list their stages after recovery.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::disk;
use crate::error::{Error, IoContext, Result};
use crate::id::EntryId;
use crate::layout;
use crate::meta::{BodyDigest, EntryMeta};
use crate::place;
use crate::spool::Spool;
use crate::stage::Stage;
use crate::wal::consumed::{self, Notes};
use crate::wal::record;
use crate::wal::segment::{self, Scan, Scanned};

/// How often taking the log lock is tried before reporting [`Error::Locked`].
const LOCK_ATTEMPTS: u32 = 20;
/// The pause between two attempts.
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Files removed from `tmp/`.
    pub tmp_removed: usize,
    /// Log segments read.
    pub segments: usize,
    /// Valid records read.
    pub records: usize,
    /// Entries materialized again because they were absent from every stage.
    pub replayed: usize,
    /// Entries already in place.
    pub present: usize,
    /// Present entries whose envelope or body had to be rewritten from the log.
    pub repaired: usize,
    /// Absent entries skipped because they had been consumed (removed) before the crash.
    pub consumed: usize,
    /// Segments that ended in a torn (incomplete or damaged) record.
    pub torn: usize,
    /// Message files without an envelope moved to `corrupt/`.
    pub orphans: usize,
}

impl Spool {
    /// Recovers the spool after a crash or a clean stop; see the module docs. Must not run
    /// while a committer (of any process) owns the log.
    pub fn recover(&self) -> Result<RecoveryReport> {
        if self.live().is_some() {
            return Err(Error::Locked);
        }
        let _lock = self.lock_wal()?;
        let started = SystemTime::now();
        let mut report = RecoveryReport {
            tmp_removed: self.clear_tmp()?,
            ..RecoveryReport::default()
        };
        let wal_dir = self.layout().wal_dir();
        let notes = consumed::read_all(&wal_dir)?;
        let segments = segment::list(&wal_dir, "wal")?;
        for seq in &segments {
            let scan = segment::scan(&segment::segment_path(&wal_dir, *seq))?;
            report.segments += 1;
            report.torn += usize::from(scan.torn);
            for record in &scan.records {
                report.records += 1;
                self.replay(&scan, record, &notes, &mut report)?;
            }
        }
        let consumed_files = segment::list(&wal_dir, "consumed")?;
        if !segments.is_empty() || !consumed_files.is_empty() {
            self.disk().syncfs(self.root())?;
            for seq in segments {
                disk::remove_if_exists(&segment::segment_path(&wal_dir, seq))?;
            }
            for seq in consumed_files {
                disk::remove_if_exists(&segment::consumed_path(&wal_dir, seq))?;
            }
        }
        report.orphans = self.move_orphans(started)?;
        Ok(report)
    }

    /// Takes the exclusive lock on `wal/LOCK`; held until the returned file is dropped.
    pub(crate) fn lock_wal(&self) -> Result<File> {
        let path = self.layout().wal_dir().join("LOCK");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .ctx("open", &path)?;
        // A few short retries: a child process forked by this process (between fork and
        // exec) briefly shares the descriptor of a lock we just released.
        for _ in 0..LOCK_ATTEMPTS {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) => std::thread::sleep(LOCK_RETRY),
                Err(TryLockError::Error(err)) => return Err(err).ctx("lock", &path),
            }
        }
        Err(Error::Locked)
    }

    fn clear_tmp(&self) -> Result<usize> {
        let tmp = self.layout().tmp_dir();
        let mut removed = 0;
        for entry in fs::read_dir(&tmp).ctx("read directory", &tmp)? {
            let path = entry.ctx("read directory", &tmp)?.path();
            removed += usize::from(disk::remove_if_exists(&path)?);
        }
        Ok(removed)
    }

    /// Replays one record (see the module docs).
    fn replay(
        &self,
        scan: &Scan,
        record: &Scanned,
        notes: &Notes,
        report: &mut RecoveryReport,
    ) -> Result<()> {
        let body = scan.body(record);
        if let Err(err) = record::check(body, &record.metas) {
            tracing::warn!(error = %err, "skipping inconsistent write-ahead log record");
            return Ok(());
        }
        let digest = BodyDigest::of(body);
        // The first entry of this record whose body file is known good, to link the others to.
        let mut good_body: Option<EntryId> = None;
        for logged in &record.metas {
            let meta = notes.current(logged);
            let id = &meta.id;
            match self.find_file(id)? {
                Some(stage) => {
                    report.present += 1;
                    let envelope_ok = self.envelope_readable(stage, id)?;
                    if !envelope_ok {
                        place::write_envelope(self.layout(), self.disk(), stage, meta, false)?;
                    }
                    let body_ok = self.body_matches(id, &digest)?;
                    if !body_ok {
                        self.restore_body(body, id, good_body.as_ref())?;
                    }
                    report.repaired += usize::from(!envelope_ok || !body_ok);
                    good_body.get_or_insert_with(|| id.clone());
                }
                None if notes.consumed.contains(id) => {
                    report.consumed += 1;
                    let layout = self.layout();
                    for path in [
                        layout.body_path(id),
                        layout.rcpt_path(id),
                        layout.progress_path(id),
                    ] {
                        disk::remove_if_exists(&path)?;
                    }
                }
                None => {
                    report.replayed += 1;
                    if !self.body_matches(id, &digest)? {
                        self.restore_body(body, id, good_body.as_ref())?;
                    }
                    good_body.get_or_insert_with(|| id.clone());
                    place::write_envelope(self.layout(), self.disk(), meta.stage, meta, false)?;
                }
            }
        }
        Ok(())
    }

    fn envelope_readable(&self, stage: Stage, id: &EntryId) -> Result<bool> {
        let path = self.layout().envelope_path(stage, id);
        Ok(disk::read_if_exists(&path)?
            .is_some_and(|bytes| EntryMeta::from_json(id.as_str(), &bytes).is_ok()))
    }

    fn body_matches(&self, id: &EntryId, digest: &BodyDigest) -> Result<bool> {
        let path = self.layout().body_path(id);
        Ok(disk::read_if_exists(&path)?.is_some_and(|bytes| BodyDigest::of(&bytes) == *digest))
    }

    fn restore_body(&self, body: &[u8], id: &EntryId, good: Option<&EntryId>) -> Result<()> {
        match good {
            Some(good) => place::link_body(self.layout(), self.disk(), good, id),
            None => place::write_body(self.layout(), self.disk(), id, body, false),
        }
    }

    /// Moves message files without an envelope, older than the grace period, to `corrupt/`.
    fn move_orphans(&self, started: SystemTime) -> Result<usize> {
        let layout = self.layout();
        let mut known: HashSet<EntryId> = HashSet::new();
        for stage in Stage::ALL {
            known.extend(layout::ids_in(&layout.stage_dir(stage), "json")?);
        }
        let cutoff = started
            .checked_sub(self.inner.options.orphan_grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut orphans: HashSet<EntryId> = HashSet::new();
        for bucket in layout::buckets(&layout.messages_dir())? {
            for entry in fs::read_dir(&bucket).ctx("read directory", &bucket)? {
                let entry = entry.ctx("read directory", &bucket)?;
                let name = entry.file_name();
                let Some(id) = name
                    .to_str()
                    .and_then(|n| n.rsplit_once('.'))
                    .and_then(|(stem, _)| EntryId::parse(stem).ok())
                else {
                    continue;
                };
                if known.contains(&id) || !older_than(&entry.path(), cutoff)? {
                    continue;
                }
                layout.ensure_stage_bucket(Stage::Corrupt, &id, self.disk())?;
                let target = layout
                    .stage_dir(Stage::Corrupt)
                    .join(id.bucket())
                    .join(&name);
                disk::rename(&entry.path(), &target)?;
                orphans.insert(id);
            }
        }
        Ok(orphans.len())
    }
}

/// True when the file at `path` was last modified before `cutoff`.
fn older_than(path: &Path, cutoff: SystemTime) -> Result<bool> {
    match fs::symlink_metadata(path).and_then(|m| m.modified()) {
        Ok(modified) => Ok(modified <= cutoff),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).ctx("stat", path),
    }
}
