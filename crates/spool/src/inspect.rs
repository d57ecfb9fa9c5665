//! Read-only views for operators (`mailcast queue list|show`): counts per stage and a summary
//! of one entry, including entries still resident in the write-ahead log. This module never
//! moves or repairs anything; in particular it reads envelopes without quarantining
//! unreadable ones, so inspecting a spool changes nothing.

use std::collections::{HashMap, HashSet};

use crate::disk;
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::job::Progress;
use crate::meta::EntryMeta;
use crate::spool::Spool;
use crate::stage::Stage;

/// One line of `mailcast queue list`, or the head of `mailcast queue show`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySummary {
    /// The stage the entry is in.
    pub stage: Stage,
    /// The envelope, or `None` if it could not be read.
    pub meta: Option<EntryMeta>,
    /// Why the envelope (or the job's progress log) could not be read.
    pub problem: Option<String>,
    /// For delivery jobs: the progress log.
    pub job: Option<Progress>,
    /// True while the entry exists only in the write-ahead log (it has no files yet).
    pub resident: bool,
}

impl Spool {
    /// The number of entries in every stage, in [`Stage::ALL`] order.
    pub fn counts(&self) -> Result<Vec<(Stage, usize)>> {
        // Resident entries first: one that is materialized meanwhile is then in the files.
        let mut resident: HashMap<Stage, Vec<EntryId>> = HashMap::new();
        match self.live() {
            Some(live) => {
                for stage in Stage::ALL {
                    resident.insert(stage, live.ids_in(stage));
                }
            }
            None => {
                for logged in self.logged_only()? {
                    resident
                        .entry(logged.meta.stage)
                        .or_default()
                        .push(logged.meta.id);
                }
            }
        }
        Stage::ALL
            .into_iter()
            .map(|stage| {
                let mut ids: HashSet<EntryId> = resident
                    .remove(&stage)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                ids.extend(self.file_ids(stage)?);
                Ok((stage, ids.len()))
            })
            .collect()
    }

    /// A summary of entry `id` in `stage`, without side effects.
    pub fn summary(&self, stage: Stage, id: &EntryId) -> Result<EntrySummary> {
        let live = self.live();
        if let Some(meta) = live.as_ref().and_then(|live| live.meta(id))
            && meta.stage == stage
        {
            return Ok(resident_summary(meta));
        }
        let path = self.layout().envelope_path(stage, id);
        let Some(bytes) = disk::read_if_exists(&path)? else {
            if live.is_none()
                && let Some(logged) = self.logged(id)?
                && logged.meta.stage == stage
            {
                return Ok(resident_summary(logged.meta));
            }
            return Err(Error::NotFound(id.to_string()));
        };
        let (meta, mut problem) = match EntryMeta::from_json(id.as_str(), &bytes) {
            Ok(mut meta) => {
                meta.stage = stage;
                (Some(meta), None)
            }
            Err(err) => (None, Some(err.to_string())),
        };
        let job = match self.progress(id) {
            Ok(progress) => Some(progress),
            Err(err) if err.is_not_found() => None,
            Err(err) => {
                problem.get_or_insert(err.to_string());
                None
            }
        };
        Ok(EntrySummary {
            stage,
            meta,
            problem,
            job,
            resident: false,
        })
    }

    /// Summaries of every entry in `stage`, oldest first.
    pub fn summaries(&self, stage: Stage) -> Result<Vec<(EntryId, EntrySummary)>> {
        // Without the committer, parse the log once rather than once per entry.
        let mut logged: HashMap<EntryId, EntryMeta> = HashMap::new();
        if self.live().is_none() {
            for entry in self.logged_only()? {
                if entry.meta.stage == stage {
                    logged.insert(entry.meta.id.clone(), entry.meta);
                }
            }
        }
        // Resident entries first: one that is materialized meanwhile is then in the files.
        let mut ids: Vec<EntryId> = self
            .live()
            .map(|live| live.ids_in(stage))
            .unwrap_or_default();
        ids.extend(logged.keys().cloned());
        ids.extend(self.file_ids(stage)?);
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            if let Some(meta) = logged.remove(&id) {
                out.push((id, resident_summary(meta)));
                continue;
            }
            match self.summary(stage, &id) {
                Ok(summary) => out.push((id, summary)),
                Err(err) if err.is_not_found() => {} // Moved while we listed.
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }
}

fn resident_summary(meta: EntryMeta) -> EntrySummary {
    EntrySummary {
        stage: meta.stage,
        meta: Some(meta),
        problem: None,
        job: None,
        resident: true,
    }
}
