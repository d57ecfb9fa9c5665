//! The live log as seen by a process that does not own it (the CLI while the daemon runs, or
//! anyone after a crash and before recovery): which committed entries exist only in the log.
//!
//! A scan reads every segment (records are checksummed; a torn or half-written tail, such as
//! a record the owner is appending right now, is simply not shown), then the consumed logs:
//! removed entries are dropped and rewritten envelopes replace the logged ones. Segments are
//! read before the consumed logs so that an entry removed during the scan is not shown as
//! present. The caller then hides the entries that have files in a stage directory (they
//! were materialized or moved). A segment retired by a checkpoint during the scan reads as
//! empty: its entries all have files by then. This module only reads.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{consumed, segment};
use crate::error::{IoContext, Result};
use crate::id::EntryId;
use crate::meta::EntryMeta;

/// One entry found in the log.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    /// Its envelope (with any rewrite applied).
    pub meta: EntryMeta,
    /// The segment holding its record.
    pub segment: PathBuf,
    /// Offset of the body in the segment.
    pub body_at: u64,
    /// Length of the body.
    pub body_len: u64,
}

impl Logged {
    /// Reads the body from the segment; `Ok(None)` if the segment is gone (retired by a
    /// checkpoint: the entry's files exist by now).
    pub fn read_body(&self) -> Result<Option<Vec<u8>>> {
        let file = match File::open(&self.segment) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).ctx("open", &self.segment),
        };
        let mut bytes = vec![0; self.body_len as usize];
        file.read_exact_at(&mut bytes, self.body_at)
            .ctx("read", &self.segment)?;
        Ok(Some(bytes))
    }
}

/// The entries of the live log that were not consumed.
#[derive(Debug, Default)]
pub(crate) struct LogView {
    entries: HashMap<EntryId, Logged>,
}

impl LogView {
    /// Scans the log in `wal_dir`. Cheap when there is no segment.
    pub fn scan(wal_dir: &Path) -> Result<LogView> {
        let mut view = LogView::default();
        let seqs = segment::list(wal_dir, "wal")?;
        if seqs.is_empty() {
            return Ok(view);
        }
        for seq in seqs {
            let path = segment::segment_path(wal_dir, seq);
            let scan = segment::scan(&path)?;
            for record in scan.records {
                for meta in record.metas {
                    let logged = Logged {
                        meta,
                        segment: path.clone(),
                        body_at: record.body.start as u64,
                        body_len: record.body.len() as u64,
                    };
                    view.entries.insert(logged.meta.id.clone(), logged);
                }
            }
        }
        let notes = consumed::read_all(wal_dir)?;
        view.entries.retain(|id, _| !notes.consumed.contains(id));
        for (id, meta) in notes.rewrites {
            if let Some(logged) = view.entries.get_mut(&id) {
                logged.meta = meta;
            }
        }
        Ok(view)
    }

    /// True when the log holds no live entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The logged entry `id`.
    pub fn get(&self, id: &EntryId) -> Option<&Logged> {
        self.entries.get(id)
    }

    /// Every logged entry.
    pub fn iter(&self) -> impl Iterator<Item = &Logged> {
        self.entries.values()
    }
}
