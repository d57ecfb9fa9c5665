//! The [`Spool`] handle: opening the layout, and reading, moving and removing entries.
//!
//! Writing new entries lives in `direct` (durable one-off commits), `committer` (group commit
//! through the write-ahead log) and `job` (delivery jobs); crash recovery in `recover`. This
//! module never decides what a stage means or when an entry should move.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::body::SpillFile;
use crate::disk::{self, Disk, FaultInjector};
use crate::error::{Error, IoContext, Result};
use crate::id::EntryId;
use crate::layout::{self, Layout};
use crate::meta::{BodyDigest, EntryMeta};
use crate::place;
use crate::stage::Stage;
use crate::wal::{consumed, segment};

/// How a spool is opened.
#[derive(Debug, Clone)]
pub struct Options {
    /// Call fsync/fdatasync/syncfs. `false` makes nothing durable and exists only for tests
    /// and benchmarks that study other costs. Default `true`.
    pub fsync: bool,
    /// Armed write/sync failures, for tests of the failure paths. Default `None`.
    pub faults: Option<Arc<FaultInjector>>,
    /// Recovery moves message files without an envelope to `corrupt/` only when they are at
    /// least this old, so that it never races a concurrent `mailcast inject`. Default 10 min.
    pub orphan_grace: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            fsync: true,
            faults: None,
            orphan_grace: Duration::from_secs(600),
        }
    }
}

/// Whether a move or write must be durable before the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The envelope file and both directories are fsynced before returning.
    Sync,
    /// No fsync; the committer's next checkpoint (about a second later) makes it durable.
    /// A power loss before that may undo the change (never lose the entry). Use `Sync`
    /// in processes that run no committer, such as the CLI.
    Lazy,
}

/// A handle to one spool directory. Cheap to clone; all clones share state.
#[derive(Debug, Clone)]
pub struct Spool {
    pub(crate) inner: Arc<Inner>,
}

/// State shared by every clone of a [`Spool`] and by its committer threads.
#[derive(Debug)]
pub(crate) struct Inner {
    pub layout: Layout,
    pub disk: Disk,
    pub options: Options,
    /// True while a committer of this process owns the write-ahead log.
    pub committer_running: AtomicBool,
    /// The committer's newest segment (valid while `committer_running`).
    pub active_seq: AtomicU64,
    /// A `Lazy` change or a removal happened since the last checkpoint.
    pub lazy_pending: AtomicBool,
}

impl Spool {
    /// Opens (creating if needed) the spool at `root`, usually `<var_dir>/spool`.
    pub fn open(root: impl AsRef<Path>, options: Options) -> Result<Spool> {
        let disk = Disk {
            fsync: options.fsync,
            faults: options.faults.clone(),
        };
        let layout = Layout::create(root.as_ref(), &disk)?;
        Ok(Spool {
            inner: Arc::new(Inner {
                layout,
                disk,
                options,
                committer_running: AtomicBool::new(false),
                active_seq: AtomicU64::new(0),
                lazy_pending: AtomicBool::new(false),
            }),
        })
    }

    /// The spool root directory.
    pub fn root(&self) -> &Path {
        self.inner.layout.root()
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    pub(crate) fn disk(&self) -> &Disk {
        &self.inner.disk
    }

    /// Creates an empty spill file in `tmp/` for a large message arriving over LMTP.
    pub fn create_spill(&self) -> Result<SpillFile> {
        let path = self.layout().tmp_path(&EntryId::generate(), "spill");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .ctx("create", &path)?;
        Ok(SpillFile::new(path, file))
    }

    /// The ids in `stage`, oldest first (ids sort by creation time).
    pub fn list(&self, stage: Stage) -> Result<Vec<EntryId>> {
        let mut ids = layout::ids_in(&self.layout().stage_dir(stage), "json")?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// The stage whose directory holds the envelope of `id`, if any.
    pub fn find(&self, id: &EntryId) -> Result<Option<Stage>> {
        for stage in Stage::ALL {
            let path = self.layout().envelope_path(stage, id);
            if path.try_exists().ctx("stat", &path)? {
                return Ok(Some(stage));
            }
        }
        Ok(None)
    }

    /// Reads the envelope of `id` in `stage`. An unreadable envelope (bad JSON, unknown
    /// version) is moved to `corrupt/` and reported as [`Error::Corrupt`].
    pub fn read_meta(&self, stage: Stage, id: &EntryId) -> Result<EntryMeta> {
        let path = self.layout().envelope_path(stage, id);
        let bytes = disk::read_if_exists(&path)?.ok_or_else(|| Error::NotFound(id.to_string()))?;
        match EntryMeta::from_json(id.as_str(), &bytes) {
            Ok(mut meta) => {
                meta.stage = stage;
                Ok(meta)
            }
            Err(err) => {
                self.quarantine(stage, id)?;
                Err(err)
            }
        }
    }

    /// The path of the body of `id` (for streaming it to an SMTP connection).
    pub fn body_path(&self, id: &EntryId) -> PathBuf {
        self.layout().body_path(id)
    }

    /// Reads the body of `id`, wherever its envelope is, and checks it against the envelope.
    pub fn read_body(&self, id: &EntryId) -> Result<Vec<u8>> {
        let stage = self
            .find(id)?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let meta = self.read_meta(stage, id)?;
        self.read_body_of(&meta)
    }

    /// Reads the body described by `meta` and checks its length and hash. A missing or
    /// mismatching body is [`Error::Corrupt`], and the envelope is moved to `corrupt/`.
    pub fn read_body_of(&self, meta: &EntryMeta) -> Result<Vec<u8>> {
        let path = self.layout().body_path(&meta.id);
        let reason = match disk::read_if_exists(&path)? {
            Some(bytes) if BodyDigest::of(&bytes).matches(meta) => return Ok(bytes),
            Some(_) => "body does not match its envelope's hash",
            None => "body is missing",
        };
        self.quarantine(meta.stage, &meta.id)?;
        Err(Error::Corrupt {
            id: meta.id.to_string(),
            reason: reason.into(),
        })
    }

    /// Moves the envelope of `id` from `from` to `to`, rewriting it with `update` applied.
    /// The entry is in exactly one stage at every instant: the new envelope first replaces
    /// the old one in place, then is renamed into `to`. `from == to` just rewrites it.
    pub fn move_entry(
        &self,
        id: &EntryId,
        from: Stage,
        to: Stage,
        durability: Durability,
        update: impl FnOnce(&mut EntryMeta),
    ) -> Result<EntryMeta> {
        let mut meta = self.read_meta(from, id)?;
        update(&mut meta);
        meta.id = id.clone();
        meta.stage = to;
        let sync = durability == Durability::Sync;
        let layout = self.layout();
        let from_path = layout.envelope_path(from, id);
        let tmp = layout.tmp_path(id, "move");
        self.disk().write_file(&tmp, &meta.to_json(), sync)?;
        disk::rename(&tmp, &from_path)?;
        if from != to {
            layout.ensure_stage_bucket(to, id, self.disk())?;
            disk::rename(&from_path, &layout.envelope_path(to, id))?;
        }
        if sync {
            self.sync_parent(&from_path)?;
            if from != to {
                self.sync_parent(&layout.envelope_path(to, id))?;
            }
        } else {
            self.inner.lazy_pending.store(true, Ordering::SeqCst);
        }
        Ok(meta)
    }

    /// Removes the entry `id` from `stage`: its envelope, then its body and any job files.
    /// When the write-ahead log may still hold the record that created it, the id is first
    /// noted in the consumed log so that crash recovery does not bring it back.
    pub fn remove(&self, stage: Stage, id: &EntryId) -> Result<()> {
        self.note_consumed(id)?;
        self.inner.lazy_pending.store(true, Ordering::SeqCst);
        let layout = self.layout();
        if !disk::remove_if_exists(&layout.envelope_path(stage, id))? {
            return Err(Error::NotFound(id.to_string()));
        }
        for path in [
            layout.body_path(id),
            layout.rcpt_path(id),
            layout.progress_path(id),
        ] {
            disk::remove_if_exists(&path)?;
        }
        Ok(())
    }

    /// Writes a new entry made by a runner (a notice, a reply) into `stage`, durable before
    /// returning. `meta.id` is the caller's (fresh or derived); [`Error::Exists`] if an entry
    /// with that id is in any stage, so a re-run after a crash is detected.
    pub fn write_entry(&self, stage: Stage, mut meta: EntryMeta, body: &[u8]) -> Result<EntryMeta> {
        if self.find(&meta.id)?.is_some() {
            return Err(Error::Exists(meta.id.to_string()));
        }
        meta.set_body(&BodyDigest::of(body));
        meta.stage = stage;
        let (layout, disk) = (self.layout(), self.disk());
        place::write_body(layout, disk, &meta.id, body, true)?;
        self.sync_parent(&layout.body_path(&meta.id))?;
        place::write_envelope(layout, disk, stage, &meta, true)?;
        self.sync_parent(&layout.envelope_path(stage, &meta.id))?;
        Ok(meta)
    }

    /// Moves the envelope of `id` out of `stage` into `corrupt/`, unchanged.
    pub(crate) fn quarantine(&self, stage: Stage, id: &EntryId) -> Result<()> {
        if stage == Stage::Corrupt {
            return Ok(());
        }
        let layout = self.layout();
        let from = layout.envelope_path(stage, id);
        layout.ensure_stage_bucket(Stage::Corrupt, id, self.disk())?;
        match fs::rename(&from, layout.envelope_path(Stage::Corrupt, id)) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err).ctx("rename", &from),
        }
    }

    /// Records `id` as consumed if any write-ahead log segment may still hold its record.
    fn note_consumed(&self, id: &EntryId) -> Result<()> {
        let wal_dir = self.layout().wal_dir();
        let seq = if self.inner.committer_running.load(Ordering::SeqCst) {
            self.inner.active_seq.load(Ordering::SeqCst)
        } else {
            match segment::list(&wal_dir, "wal")?.last() {
                Some(seq) => *seq,
                None => return Ok(()),
            }
        };
        consumed::append(&wal_dir, seq, id, self.disk())
    }

    /// fsyncs the directory holding `path`.
    pub(crate) fn sync_parent(&self, path: &Path) -> Result<()> {
        match path.parent() {
            Some(dir) => self.disk().sync_dir(dir),
            None => Ok(()),
        }
    }
}
