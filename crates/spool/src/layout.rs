//! Where every spool file lives: the directory layout under the spool root.
//!
//! ```text
//! <root>/wal/<16-hex-seq>.wal          write-ahead log segments
//! <root>/wal/<16-hex-seq>.consumed     ids removed while their segment was live
//! <root>/wal/LOCK                      held (flock) by the process that owns the log
//! <root>/messages/<hh>/<id>.eml        message bodies (and .rcpt / .progress for jobs)
//! <root>/<stage>/<hh>/<id>.json        envelopes, one stage directory per entry
//! <root>/tmp/                          files being written; emptied at recovery
//! ```
//!
//! Bucket directories (`<hh>`) are created on demand and their creation is made durable at
//! once (an fsync of the parent), which happens at most 256 times per directory, ever. This
//! module builds paths and creates directories; it does not read or write entries.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::disk::Disk;
use crate::error::{IoContext, Result};
use crate::id::EntryId;
use crate::stage::Stage;

/// Number of directories that have buckets: every stage, then `messages`.
const BUCKETED_DIRS: usize = Stage::ALL.len() + 1;
/// Index of `messages` among the bucketed directories.
const MESSAGES: usize = Stage::ALL.len();

/// Paths under one spool root, plus a memory of which bucket directories exist.
#[derive(Debug)]
pub(crate) struct Layout {
    root: PathBuf,
    made: Vec<AtomicBool>,
}

impl Layout {
    /// Creates the top-level directories under `root` (durably) and returns the layout.
    pub fn create(root: &Path, disk: &Disk) -> Result<Layout> {
        let created = !root.exists();
        fs::create_dir_all(root).ctx("create directory", root)?;
        let layout = Layout {
            root: root.to_path_buf(),
            made: (0..BUCKETED_DIRS * 256)
                .map(|_| AtomicBool::new(false))
                .collect(),
        };
        let mut tops: Vec<PathBuf> = Stage::ALL.iter().map(|s| layout.stage_dir(*s)).collect();
        tops.extend([layout.messages_dir(), layout.tmp_dir(), layout.wal_dir()]);
        let mut any_new = created;
        for dir in &tops {
            match fs::create_dir(dir) {
                Ok(()) => any_new = true,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err).ctx("create directory", dir),
            }
        }
        if any_new {
            disk.sync_dir(root)?;
            if created && let Some(parent) = root.parent() {
                disk.sync_dir(parent)?;
            }
        }
        Ok(layout)
    }

    /// The spool root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/wal`.
    pub fn wal_dir(&self) -> PathBuf {
        self.root.join("wal")
    }

    /// `<root>/tmp`.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `<root>/messages`.
    pub fn messages_dir(&self) -> PathBuf {
        self.root.join("messages")
    }

    /// `<root>/<stage>`.
    pub fn stage_dir(&self, stage: Stage) -> PathBuf {
        self.root.join(stage.as_str())
    }

    /// `<root>/<stage>/<hh>/<id>.json`.
    pub fn envelope_path(&self, stage: Stage, id: &EntryId) -> PathBuf {
        self.file_in(self.stage_dir(stage), id, "json")
    }

    /// `<root>/messages/<hh>/<id>.eml`.
    pub fn body_path(&self, id: &EntryId) -> PathBuf {
        self.file_in(self.messages_dir(), id, "eml")
    }

    /// `<root>/messages/<hh>/<id>.rcpt`: a delivery job's recipients.
    pub fn rcpt_path(&self, id: &EntryId) -> PathBuf {
        self.file_in(self.messages_dir(), id, "rcpt")
    }

    /// `<root>/messages/<hh>/<id>.progress`: a delivery job's batch log.
    pub fn progress_path(&self, id: &EntryId) -> PathBuf {
        self.file_in(self.messages_dir(), id, "progress")
    }

    fn file_in(&self, dir: PathBuf, id: &EntryId, ext: &str) -> PathBuf {
        let mut path = dir.join(id.bucket());
        path.push(format!("{}.{ext}", id.as_str()));
        path
    }

    /// A fresh path in `tmp/`, unique across processes, for a file about `id`.
    pub fn tmp_path(&self, id: &EntryId, ext: &str) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        self.tmp_dir()
            .join(format!("{}.{pid}.{n}.{ext}", id.as_str()))
    }

    /// Makes sure the bucket directory of `id` under `stage` exists.
    pub fn ensure_stage_bucket(&self, stage: Stage, id: &EntryId, disk: &Disk) -> Result<()> {
        self.ensure_bucket(stage.index(), &self.stage_dir(stage), id, disk)
    }

    /// Makes sure the bucket directory of `id` under `messages/` exists.
    pub fn ensure_messages_bucket(&self, id: &EntryId, disk: &Disk) -> Result<()> {
        self.ensure_bucket(MESSAGES, &self.messages_dir(), id, disk)
    }

    fn ensure_bucket(
        &self,
        dir_index: usize,
        parent: &Path,
        id: &EntryId,
        disk: &Disk,
    ) -> Result<()> {
        let bucket = id.bucket();
        // The bucket name is two hex digits, so it always parses and is below 256.
        let slot = dir_index * 256 + usize::from_str_radix(&bucket, 16).unwrap_or(0);
        if self.made[slot].load(Ordering::Relaxed) {
            return Ok(());
        }
        let dir = parent.join(&bucket);
        match fs::create_dir(&dir) {
            Ok(()) => disk.sync_dir(parent)?,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err).ctx("create directory", &dir),
        }
        self.made[slot].store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// The bucket directories that exist under `dir`, in name order.
pub(crate) fn buckets(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(err) => return Err(err).ctx("read directory", dir),
    };
    for entry in entries {
        let entry = entry.ctx("read directory", dir)?;
        let name = entry.file_name();
        let is_bucket = name.len() == 2
            && name
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
        if is_bucket {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The ids of files named `<id>.<ext>` in every bucket of `dir` (unsorted).
pub(crate) fn ids_in(dir: &Path, ext: &str) -> Result<Vec<EntryId>> {
    let mut ids = Vec::new();
    let suffix = format!(".{ext}");
    for bucket in buckets(dir)? {
        let entries = match fs::read_dir(&bucket) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).ctx("read directory", &bucket),
        };
        for entry in entries {
            let entry = entry.ctx("read directory", &bucket)?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(&suffix)) else {
                continue;
            };
            if let Ok(id) = EntryId::parse(stem) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}
