//! Writing a delivery job into the spool: one body, its recipient lines in batches, and the
//! job's attributes, in one durable step (`Spool::create_job`).
//!
//! Every job goes through here: posts and owner mail (the incoming runner), retry jobs (the
//! outgoing runner) and generated mail (the [`super::Outbox`]). A job whose id exists in any
//! stage is not written again, which is what makes a re-run after a crash create nothing
//! twice. This module does not choose recipients or build messages.

use std::time::Duration;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use mailcast_spool::{EntryId, EntryMeta, Spool, Stage};
use tracing::debug;

use super::job::{JobAttrs, Mode};
use crate::config::SmtpSettings;

/// Everything that describes a job before it is written.
pub struct NewJob {
    /// The job's id (derived from its parent, so a re-run finds it).
    pub id: EntryId,
    /// The list's posting address.
    pub list: String,
    /// The envelope sender (`""`: the null sender).
    pub mail_from: String,
    /// The envelope recipient shown in the envelope (the first, or the list address).
    pub rcpt_to: String,
    /// When the message it carries was received (retry deadlines count from there).
    pub received_at: Timestamp,
    /// The job's own attributes.
    pub attrs: JobAttrs,
    /// Recipient lines (see [`super::job::RcptLine`]).
    pub lines: Vec<String>,
    /// The message.
    pub body: Vec<u8>,
}

/// The sizes and periods every job is written with, from `[smtp]`.
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    /// `[smtp] max_recipients` (0: everyone in one transaction).
    pub max_recipients: usize,
    /// `[smtp] personalized_batch_size`.
    pub personalized_batch_size: usize,
    /// `[smtp] delivery_retry_period`.
    pub delivery_retry_period: Duration,
}

impl JobLimits {
    /// The limits `[smtp]` sets.
    pub fn from_smtp(smtp: &SmtpSettings) -> JobLimits {
        JobLimits {
            max_recipients: smtp.max_recipients,
            personalized_batch_size: smtp.personalized_batch_size,
            delivery_retry_period: smtp.delivery_retry_period,
        }
    }

    /// Recipients per batch: `max_recipients` for bulk jobs, `personalized_batch_size` for
    /// personalized ones.
    fn batch_size(&self, mode: Mode, recipients: usize) -> u64 {
        let size = match mode {
            Mode::Bulk if self.max_recipients == 0 => recipients,
            Mode::Bulk => self.max_recipients,
            Mode::Personalized => self.personalized_batch_size,
        };
        size.max(1) as u64
    }

    /// When deferred recipients of a message received at `received_at` are given up.
    pub fn deadline(&self, received_at: Timestamp) -> Timestamp {
        let period =
            SignedDuration::try_from(self.delivery_retry_period).unwrap_or(SignedDuration::MAX);
        received_at.checked_add(period).unwrap_or(Timestamp::MAX)
    }
}

/// Writes a job durably into `stage`, due at `not_before`; `None` if its id exists already.
pub async fn write_job(
    spool: &Spool,
    limits: &JobLimits,
    job: NewJob,
    stage: Stage,
    not_before: Option<Timestamp>,
) -> anyhow::Result<Option<EntryId>> {
    let batch_size = limits.batch_size(job.attrs.mode, job.lines.len());
    let count = job.lines.len();
    let spool = spool.clone();
    let id = job.id.clone();
    let mut meta = EntryMeta::new(job.id, stage, &job.list, &job.mail_from, &job.rcpt_to);
    meta.received_at = job.received_at;
    meta.not_before = not_before;
    job.attrs.write_to(&mut meta.attrs);
    let (lines, body) = (job.lines, job.body);
    let created = tokio::task::spawn_blocking(move || {
        spool.create_job(stage, meta, &body, lines.into_iter(), batch_size)
    })
    .await
    .context("creating a delivery job panicked")?;
    match created {
        Ok(_) => {
            debug!(job = %id, %stage, recipients = count, batch_size, "delivery job created");
            Ok(Some(id))
        }
        Err(mailcast_spool::Error::Exists(_)) => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot create delivery job {id}")),
    }
}

/// Whether an entry with this id exists in any stage.
pub async fn exists(spool: &Spool, id: &EntryId) -> anyhow::Result<bool> {
    let (spool, id) = (spool.clone(), id.clone());
    let found = tokio::task::spawn_blocking(move || spool.find(&id))
        .await
        .context("looking up a delivery job panicked")??;
    Ok(found.is_some())
}
