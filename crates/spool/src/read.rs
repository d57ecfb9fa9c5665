//! Reading entries, wherever they are: in a stage directory, or still only in the
//! write-ahead log.
//!
//! In the process that runs the committer the resident index is asked first and the stage
//! directories second (an entry leaves the index only after its files are complete, so that
//! order never misses one). In any other process the files are read first, and an entry that
//! has none is looked up in the live log ([`LogView`]: the segments parsed read-only). Readers
//! never change anything except moving an unreadable entry to `corrupt/`; changing entries
//! is `change`'s business.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::disk;
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::layout;
use crate::meta::{BodyDigest, EntryMeta};
use crate::spool::Spool;
use crate::stage::Stage;
use crate::wal::view::{LogView, Logged};

impl Spool {
    /// The ids in `stage`, oldest first (ids sort by creation time), including entries
    /// still resident in the write-ahead log.
    pub fn list(&self, stage: Stage) -> Result<Vec<EntryId>> {
        let mut ids = match self.live() {
            Some(live) => live.ids_in(stage),
            None => self
                .logged_only()?
                .into_iter()
                .filter(|l| l.meta.stage == stage)
                .map(|l| l.meta.id)
                .collect(),
        };
        ids.extend(self.file_ids(stage)?);
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The stage `id` is in, if any.
    pub fn find(&self, id: &EntryId) -> Result<Option<Stage>> {
        let live = self.live();
        if let Some(stage) = live.as_ref().and_then(|live| live.stage_of(id)) {
            return Ok(Some(stage));
        }
        if let Some(stage) = self.find_file(id)? {
            return Ok(Some(stage));
        }
        if live.is_some() {
            return Ok(None);
        }
        Ok(self.logged(id)?.map(|logged| logged.meta.stage))
    }

    /// The stage whose directory holds the envelope file of `id`, if any.
    pub(crate) fn find_file(&self, id: &EntryId) -> Result<Option<Stage>> {
        for stage in Stage::ALL {
            let path = self.layout().envelope_path(stage, id);
            if path.try_exists().map_err(|e| Error::io("stat", &path, e))? {
                return Ok(Some(stage));
            }
        }
        Ok(None)
    }

    /// Reads the envelope of `id` in `stage`. An unreadable envelope (bad JSON, unknown
    /// version) is moved to `corrupt/` and reported as [`Error::Corrupt`].
    pub fn read_meta(&self, stage: Stage, id: &EntryId) -> Result<EntryMeta> {
        let live = self.live();
        if let Some(meta) = live.as_ref().and_then(|live| live.meta(id))
            && meta.stage == stage
        {
            return Ok(meta);
        }
        let path = self.layout().envelope_path(stage, id);
        let Some(bytes) = disk::read_if_exists(&path)? else {
            if live.is_none()
                && let Some(logged) = self.logged(id)?
                && logged.meta.stage == stage
            {
                return Ok(logged.meta);
            }
            return Err(Error::NotFound(id.to_string()));
        };
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

    /// The path of the body of `id` once it is a file (for streaming it to an SMTP
    /// connection). An entry still resident in the write-ahead log has no body file yet:
    /// use [`Spool::read_body_of`], which works for both.
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

    /// Reads the envelope of `id` in `stage` and its checked body (what a runner processing
    /// the entry needs).
    pub fn read_entry(&self, stage: Stage, id: &EntryId) -> Result<(EntryMeta, Vec<u8>)> {
        let meta = self.read_meta(stage, id)?;
        let body = self.read_body_of(&meta)?;
        Ok((meta, body))
    }

    /// Reads the body described by `meta` and checks its length and hash. A missing or
    /// mismatching body is [`Error::Corrupt`], and the entry is moved to `corrupt/`.
    pub fn read_body_of(&self, meta: &EntryMeta) -> Result<Vec<u8>> {
        let live = self.live();
        if let Some(live) = &live
            && let Some(source) = live.body(&meta.id)
        {
            return match source?.read_checked(meta) {
                Err(Error::Corrupt { id, reason }) => {
                    self.quarantine(meta.stage, &meta.id)?;
                    Err(Error::Corrupt { id, reason })
                }
                other => other,
            };
        }
        let path = self.layout().body_path(&meta.id);
        let reason = match disk::read_if_exists(&path)? {
            Some(bytes) if BodyDigest::of(&bytes).matches(meta) => return Ok(bytes),
            Some(_) => "body does not match its envelope's hash",
            None => {
                if live.is_none()
                    && let Some(logged) = self.logged(&meta.id)?
                    && let Some(bytes) = logged.read_body()?
                    && BodyDigest::of(&bytes).matches(meta)
                {
                    return Ok(bytes);
                }
                "body is missing"
            }
        };
        self.quarantine(meta.stage, &meta.id)?;
        Err(Error::Corrupt {
            id: meta.id.to_string(),
            reason: reason.into(),
        })
    }

    /// The ids of the envelope files in `stage` (unsorted).
    pub(crate) fn file_ids(&self, stage: Stage) -> Result<Vec<EntryId>> {
        layout::ids_in(&self.layout().stage_dir(stage), "json")
    }

    /// For a process without the committer: the entry `id` if it exists only in the live
    /// log (no envelope file in any stage).
    pub(crate) fn logged(&self, id: &EntryId) -> Result<Option<Logged>> {
        let view = LogView::scan(&self.layout().wal_dir())?;
        let Some(logged) = view.get(id) else {
            return Ok(None);
        };
        for stage in Stage::ALL {
            if self.layout().envelope_path(stage, id).exists() {
                return Ok(None); // Materialized (or moved) while we looked.
            }
        }
        Ok(Some(logged.clone()))
    }

    /// For a process without the committer: every entry that exists only in the live log.
    pub(crate) fn logged_only(&self) -> Result<Vec<Logged>> {
        let view = LogView::scan(&self.layout().wal_dir())?;
        if view.is_empty() {
            return Ok(Vec::new());
        }
        let mut with_files: HashSet<EntryId> = HashSet::new();
        for stage in Stage::ALL {
            with_files.extend(self.file_ids(stage)?);
        }
        Ok(view
            .iter()
            .filter(|logged| !with_files.contains(&logged.meta.id))
            .cloned()
            .collect())
    }
}
