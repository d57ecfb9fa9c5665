//! The [`Spool`] handle: opening the layout, options, and the state every clone shares.
//!
//! Reading entries lives in `read`, changing them in `change`, writing new ones in `direct`
//! (durable one-off commits), `committer` (group commit through the write-ahead log) and `job`
//! (delivery jobs); crash recovery in `recover`. This module never decides what a stage means
//! or when an entry should move.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::body::SpillFile;
use crate::committer::LiveLog;
use crate::disk::{Disk, FaultInjector};
use crate::error::{IoContext, Result};
use crate::id::EntryId;
use crate::layout::Layout;

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
    /// The live log, while a committer of this process owns the write-ahead log.
    pub live: RwLock<Option<Arc<LiveLog>>>,
    /// The committer's newest segment (valid while it runs).
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
                live: RwLock::new(None),
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

    /// The live log of this process's committer, if one runs.
    pub(crate) fn live(&self) -> Option<Arc<LiveLog>> {
        self.inner
            .live
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Installs (or, at shutdown, removes) the live log.
    pub(crate) fn set_live(&self, live: Option<Arc<LiveLog>>) {
        *self
            .inner
            .live
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = live;
    }

    /// fsyncs the directory holding `path`.
    pub(crate) fn sync_parent(&self, path: &Path) -> Result<()> {
        match path.parent() {
            Some(dir) => self.disk().sync_dir(dir),
            None => Ok(()),
        }
    }
}
