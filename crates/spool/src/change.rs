//! Changing entries: moves (with envelope rewrites), removals, new runner entries and
//! quarantine, for entries in stage directories and for entries still resident in the
//! write-ahead log alike.
//!
//! A resident entry (process that runs the committer) is claimed first, so that the
//! materializer never writes files for it at the same time, then:
//! - **removed**: its id goes to the consumed log and it leaves the index; no file is ever
//!   written for it;
//! - **rewritten in place** (`from == to`, [`Durability::Lazy`]): the new envelope goes to
//!   the consumed log as a rewrite line (recovery and other processes apply it) and replaces
//!   the one in the index; still no file;
//! - **moved** (or rewritten with [`Durability::Sync`]): its body and envelope are written as
//!   files in the target stage (the envelope fsynced with its directory for `Sync`; the body
//!   stays protected by the log until the next checkpoint's `syncfs()`), then it leaves the
//!   index.
//!
//! A process without the committer cannot change an entry that exists only in another
//! process's live log: [`Error::Busy`]. When nobody owns the log (after a crash, before
//! recovery) it takes the log lock and changes the entry the way recovery will understand:
//! a consumed note for a removal, files in the target stage for a move. This module does not
//! decide when anything should change.

use std::fs;
use std::io;
use std::sync::atomic::Ordering;

use crate::committer::{Claimed, LiveLog};
use crate::disk;
use crate::error::{Error, IoContext, Result};
use crate::id::EntryId;
use crate::meta::{BodyDigest, EntryMeta};
use crate::place;
use crate::spool::{Durability, Spool};
use crate::stage::Stage;
use crate::wal::view::Logged;
use crate::wal::{consumed, segment};

impl Spool {
    /// Moves the entry `id` from `from` to `to`, rewriting its envelope with `update`
    /// applied. The entry is in exactly one stage at every instant: the new envelope first
    /// replaces the old one in place, then is renamed into `to`. `from == to` just rewrites
    /// it. With [`Durability::Sync`] the change is durable before this returns.
    pub fn move_entry(
        &self,
        id: &EntryId,
        from: Stage,
        to: Stage,
        durability: Durability,
        update: impl FnOnce(&mut EntryMeta),
    ) -> Result<EntryMeta> {
        if let Some(live) = self.live() {
            if let Some(claimed) = live.claim(id, from)? {
                return self.change_resident(&live, claimed, to, durability, update);
            }
        } else if !self.layout().envelope_path(from, id).exists()
            && let Some(logged) = self.logged(id)?
            && logged.meta.stage == from
        {
            return self.change_logged(&logged, Some((to, durability)), update);
        }
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
        if let Some(live) = self.live() {
            if live.claim(id, stage)?.is_some() {
                if let Err(err) = self.note_consumed(id) {
                    live.unclaim(id, None);
                    return Err(err);
                }
                live.release([id]);
                self.inner.lazy_pending.store(true, Ordering::SeqCst);
                return Ok(());
            }
        } else if !self.layout().envelope_path(stage, id).exists()
            && let Some(logged) = self.logged(id)?
            && logged.meta.stage == stage
        {
            return self.change_logged(&logged, None, |_| {}).map(drop);
        }
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

    /// Moves the entry `id` out of `stage` into `corrupt/`, unchanged (a resident entry is
    /// written there as files, with its body as the log holds it).
    pub(crate) fn quarantine(&self, stage: Stage, id: &EntryId) -> Result<()> {
        if stage == Stage::Corrupt {
            return Ok(());
        }
        if let Some(live) = self.live()
            && let Some(claimed) = live.claim(id, stage)?
        {
            let mut meta = claimed.meta.clone();
            meta.stage = Stage::Corrupt;
            let result = claimed
                .body
                .read_raw()
                .and_then(|body| self.write_files(&meta, &body, false));
            return self.finish_claim(&live, id, result.map(|()| None));
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

    /// Moves or rewrites a claimed resident entry (see the module docs).
    fn change_resident(
        &self,
        live: &LiveLog,
        claimed: Claimed,
        to: Stage,
        durability: Durability,
        update: impl FnOnce(&mut EntryMeta),
    ) -> Result<EntryMeta> {
        let id = claimed.meta.id.clone();
        let mut meta = claimed.meta.clone();
        update(&mut meta);
        meta.id = id.clone();
        meta.stage = to;
        let result = if claimed.meta.stage == to && durability == Durability::Lazy {
            let wal_dir = self.layout().wal_dir();
            let seq = self.inner.active_seq.load(Ordering::SeqCst);
            consumed::append_rewrite(&wal_dir, seq, &meta, self.disk()).map(|()| Some(meta.clone()))
        } else {
            claimed
                .body
                .read_checked(&claimed.meta)
                .and_then(|body| self.write_files(&meta, &body, durability == Durability::Sync))
                .map(|()| None)
        };
        self.finish_claim(live, &id, result)?;
        if durability == Durability::Lazy {
            self.inner.lazy_pending.store(true, Ordering::SeqCst);
        }
        Ok(meta)
    }

    /// Ends a claim: `Ok(Some(meta))` keeps the entry resident with a rewritten envelope,
    /// `Ok(None)` takes it out of the index (its files are written), an error gives it back
    /// unchanged.
    fn finish_claim(
        &self,
        live: &LiveLog,
        id: &EntryId,
        result: Result<Option<EntryMeta>>,
    ) -> Result<()> {
        match result {
            Ok(Some(meta)) => live.unclaim(id, Some(meta)),
            Ok(None) => live.release([id]),
            Err(err) => {
                live.unclaim(id, None);
                return Err(err);
            }
        }
        Ok(())
    }

    /// Writes an entry that has no files yet as body and envelope in `meta.stage`. With
    /// `sync` the envelope and its directory are fsynced (the body is covered by the log
    /// until the next checkpoint). On failure nothing of it is left behind.
    fn write_files(&self, meta: &EntryMeta, body: &[u8], sync: bool) -> Result<()> {
        let (layout, disk) = (self.layout(), self.disk());
        let envelope = layout.envelope_path(meta.stage, &meta.id);
        let result = place::write_fresh_body(layout, disk, &meta.id, body)
            .and_then(|()| place::write_envelope(layout, disk, meta.stage, meta, sync))
            .and_then(|()| {
                if sync {
                    self.sync_parent(&envelope)
                } else {
                    Ok(())
                }
            });
        if result.is_err() {
            let _ = disk::remove_if_exists(&envelope);
            let _ = disk::remove_if_exists(&layout.body_path(&meta.id));
        }
        result
    }

    /// Changes an entry that exists only in the log of a process that is not running:
    /// removes it (`to` is `None`) or writes it as files in the target stage.
    fn change_logged(
        &self,
        logged: &Logged,
        to: Option<(Stage, Durability)>,
        update: impl FnOnce(&mut EntryMeta),
    ) -> Result<EntryMeta> {
        let id = &logged.meta.id;
        let _lock = self.lock_wal().map_err(|err| match err {
            Error::Locked => Error::Busy(id.to_string()),
            other => other,
        })?;
        // Under the lock nobody else changes the log; look again.
        let logged = self
            .logged(id)?
            .filter(|l| l.meta.stage == logged.meta.stage)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let Some((stage, durability)) = to else {
            self.note_consumed(id)?;
            disk::remove_if_exists(&self.layout().body_path(id))?;
            return Ok(logged.meta);
        };
        let body = logged
            .read_body()?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let mut meta = logged.meta.clone();
        update(&mut meta);
        meta.id = id.clone();
        meta.stage = stage;
        self.write_files(&meta, &body, durability == Durability::Sync)?;
        Ok(meta)
    }

    /// Records `id` as consumed if any write-ahead log segment may still hold its record.
    pub(crate) fn note_consumed(&self, id: &EntryId) -> Result<()> {
        let wal_dir = self.layout().wal_dir();
        let seq = if self.live().is_some() {
            self.inner.active_seq.load(Ordering::SeqCst)
        } else {
            match segment::list(&wal_dir, "wal")?.last() {
                Some(seq) => *seq,
                None => return Ok(()),
            }
        };
        consumed::append(&wal_dir, seq, id, self.disk())
    }
}
