//! Read-only views for operators (`mailcast queue list|show`): counts per stage and a summary
//! of one entry. This module never moves or repairs anything; in particular it reads
//! envelopes without quarantining unreadable ones, so inspecting a spool changes nothing.

use crate::disk;
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::job::Progress;
use crate::layout;
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
}

impl Spool {
    /// The number of entries in every stage, in [`Stage::ALL`] order.
    pub fn counts(&self) -> Result<Vec<(Stage, usize)>> {
        Stage::ALL
            .into_iter()
            .map(|stage| {
                let dir = self.layout().stage_dir(stage);
                Ok((stage, layout::ids_in(&dir, "json")?.len()))
            })
            .collect()
    }

    /// A summary of entry `id` in `stage`, without side effects.
    pub fn summary(&self, stage: Stage, id: &EntryId) -> Result<EntrySummary> {
        let path = self.layout().envelope_path(stage, id);
        let bytes = disk::read_if_exists(&path)?.ok_or_else(|| Error::NotFound(id.to_string()))?;
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
        })
    }

    /// Summaries of every entry in `stage`, oldest first.
    pub fn summaries(&self, stage: Stage) -> Result<Vec<(EntryId, EntrySummary)>> {
        let mut out = Vec::new();
        for id in self.list(stage)? {
            match self.summary(stage, &id) {
                Ok(summary) => out.push((id, summary)),
                Err(err) if err.is_not_found() => {} // Moved while we listed.
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }
}
