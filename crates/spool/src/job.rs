//! Outgoing delivery jobs: one body, a recipient list sent in batches, a progress log.
//!
//! A job is an envelope in a stage (usually `outgoing` or `deferred`) plus three files in
//! `messages/<hh>/`: `<id>.eml` (the body, or the template of a personalized delivery),
//! `<id>.rcpt` (one recipient line per line; opaque to the spool) and `<id>.progress`, an
//! append-only log:
//!
//! ```text
//! {"version":1,"batch_size":500,"recipients":1200}
//! {"batch":0,"outcomes":[]}
//! {"batch":2,"outcomes":[{"recipient":"x@y","status":"deferred","code":451,"text":"..."}]}
//! ```
//!
//! The first line is the header; each later line records one finished batch with its failed
//! and deferred recipients (delivered ones are not listed), made durable with `fdatasync`
//! before [`Spool::record_batch`] returns. A crash during a large delivery resumes with the
//! batches not yet recorded; batches in flight at the crash are sent again (the documented
//! duplicates). A torn last line is ignored when read and fenced off by a newline before the
//! next append. This module does not decide batch sizes, retries or bounces.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::FileExt;

use serde::{Deserialize, Serialize};

use crate::disk;
use crate::error::{Error, IoContext, Result};
use crate::id::EntryId;
use crate::meta::{BodyDigest, EntryMeta};
use crate::place;
use crate::spool::Spool;
use crate::stage::Stage;

/// The progress log format version.
const PROGRESS_VERSION: u32 = 1;
/// Recipient lines are written in chunks of about this size.
const WRITE_CHUNK: usize = 64 << 10;

/// Why one recipient of a batch was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum OutcomeStatus {
    /// Permanent failure (5xx): bounce it.
    Failed {
        /// The SMTP reply code.
        code: u16,
        /// The reply text.
        text: String,
    },
    /// Temporary failure (4xx): retry it later.
    Deferred {
        /// The SMTP reply code.
        code: u16,
        /// The reply text.
        text: String,
    },
}

/// One recipient line of a batch that was not delivered, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The recipient line exactly as stored in the job.
    pub recipient: String,
    /// What happened.
    #[serde(flatten)]
    pub status: OutcomeStatus,
}

/// The state of a delivery job as recorded in its progress log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Progress {
    /// Recipients per batch.
    pub batch_size: u64,
    /// Number of recipient lines.
    pub recipients: u64,
    /// Batches recorded as finished.
    pub done: BTreeSet<u64>,
    /// The failures and deferrals recorded, with their batch numbers, in log order.
    pub outcomes: Vec<(u64, Outcome)>,
}

impl Progress {
    /// Number of batches in the job.
    pub fn batches(&self) -> u64 {
        self.recipients.div_ceil(self.batch_size.max(1))
    }

    /// Batches not yet recorded as finished, ascending.
    pub fn pending(&self) -> Vec<u64> {
        (0..self.batches())
            .filter(|b| !self.done.contains(b))
            .collect()
    }

    /// True when every batch is finished.
    pub fn is_complete(&self) -> bool {
        self.pending().is_empty()
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    batch_size: u64,
    recipients: u64,
}

#[derive(Serialize, Deserialize)]
struct BatchLine {
    batch: u64,
    outcomes: Vec<Outcome>,
}

impl Spool {
    /// Creates a delivery job durably; [`Error::Exists`] if `meta.id` is in any stage (so a
    /// runner re-running after a crash sees the job is already there).
    pub fn create_job(
        &self,
        stage: Stage,
        mut meta: EntryMeta,
        body: &[u8],
        recipients: impl Iterator<Item = String>,
        batch_size: u64,
    ) -> Result<EntryMeta> {
        if batch_size == 0 {
            return Err(Error::Invalid("batch size must be at least 1".into()));
        }
        let id = meta.id.clone();
        if self.find(&id)?.is_some() {
            return Err(Error::Exists(id.to_string()));
        }
        meta.set_body(&BodyDigest::of(body));
        meta.stage = stage;
        let (layout, disk) = (self.layout(), self.disk());
        let result = (|| {
            place::write_body(layout, disk, &id, body, true)?;
            let count = self.write_recipients(&id, recipients)?;
            let header = Header {
                version: PROGRESS_VERSION,
                batch_size,
                recipients: count,
            };
            let line = json_line(&header);
            let tmp = layout.tmp_path(&id, "progress");
            disk.write_file(&tmp, &line, true)?;
            disk::rename(&tmp, &layout.progress_path(&id))?;
            self.sync_parent(&layout.body_path(&id))?;
            place::write_envelope(layout, disk, stage, &meta, true)?;
            self.sync_parent(&layout.envelope_path(stage, &id))
        })();
        if let Err(err) = result {
            for path in [
                layout.envelope_path(stage, &id),
                layout.progress_path(&id),
                layout.rcpt_path(&id),
                layout.body_path(&id),
            ] {
                let _ = disk::remove_if_exists(&path);
            }
            return Err(err);
        }
        Ok(meta)
    }

    /// Streams the recipient lines into `<id>.rcpt` (fsynced) and returns how many there were.
    fn write_recipients(
        &self,
        id: &EntryId,
        recipients: impl Iterator<Item = String>,
    ) -> Result<u64> {
        let (layout, disk) = (self.layout(), self.disk());
        let tmp = layout.tmp_path(id, "rcpt");
        let mut file = File::create(&tmp).ctx("create", &tmp)?;
        let mut buffer = Vec::with_capacity(WRITE_CHUNK + 1024);
        let mut count = 0u64;
        for line in recipients {
            if line.is_empty() || line.contains(['\n', '\r']) {
                let _ = disk::remove_if_exists(&tmp);
                return Err(Error::Invalid(format!("bad recipient line {line:?}")));
            }
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            count += 1;
            if buffer.len() >= WRITE_CHUNK {
                disk.write_all(&mut file, &buffer, &tmp)?;
                buffer.clear();
            }
        }
        disk.write_all(&mut file, &buffer, &tmp)?;
        disk.sync_data(&file, &tmp)?;
        disk::rename(&tmp, &layout.rcpt_path(id))?;
        Ok(count)
    }

    /// The recipient lines of job `id`, streamed from disk.
    pub fn recipients(&self, id: &EntryId) -> Result<Recipients> {
        let path = self.layout().rcpt_path(id);
        let file = File::open(&path).map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => Error::NotFound(id.to_string()),
            _ => Error::io("open", &path, err),
        })?;
        Ok(Recipients {
            lines: BufReader::new(file).lines(),
            path,
        })
    }

    /// The batches of job `id` not yet recorded as finished, each with its recipient lines,
    /// streamed from disk.
    pub fn pending_batches(&self, id: &EntryId) -> Result<PendingBatches> {
        let progress = self.progress(id)?;
        Ok(PendingBatches {
            recipients: self.recipients(id)?,
            progress,
            next: 0,
        })
    }

    /// Reads the progress log of job `id`.
    pub fn progress(&self, id: &EntryId) -> Result<Progress> {
        let path = self.layout().progress_path(id);
        let bytes = disk::read_if_exists(&path)?.ok_or_else(|| Error::NotFound(id.to_string()))?;
        let mut lines = bytes.split(|b| *b == b'\n');
        let header: Header = lines
            .next()
            .and_then(|line| serde_json::from_slice(line).ok())
            .filter(|h: &Header| h.version == PROGRESS_VERSION)
            .ok_or_else(|| Error::Corrupt {
                id: id.to_string(),
                reason: "unreadable progress log header".into(),
            })?;
        let mut progress = Progress {
            batch_size: header.batch_size,
            recipients: header.recipients,
            ..Progress::default()
        };
        // Lines that do not parse are torn appends from a crash; they were never acknowledged.
        for line in lines.filter_map(|l| serde_json::from_slice::<BatchLine>(l).ok()) {
            progress.done.insert(line.batch);
            let batch = line.batch;
            progress
                .outcomes
                .extend(line.outcomes.into_iter().map(|o| (batch, o)));
        }
        Ok(progress)
    }

    /// Records batch `batch` of job `id` as finished with the given failures and deferrals,
    /// durably (`fdatasync`) before returning. Safe to call concurrently for different jobs.
    pub fn record_batch(&self, id: &EntryId, batch: u64, outcomes: &[Outcome]) -> Result<()> {
        let path = self.layout().progress_path(id);
        let disk = self.disk();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|err| match err.kind() {
                io::ErrorKind::NotFound => Error::NotFound(id.to_string()),
                _ => Error::io("open for append", &path, err),
            })?;
        let len = file.metadata().ctx("stat", &path)?.len();
        let mut last = [b'\n'];
        if len > 0 {
            file.read_exact_at(&mut last, len - 1).ctx("read", &path)?;
        }
        let mut line = if last[0] == b'\n' {
            Vec::new()
        } else {
            vec![b'\n']
        };
        line.extend(json_line(&BatchLine {
            batch,
            outcomes: outcomes.to_vec(),
        }));
        disk.write_all(&mut file, &line, &path)?;
        disk.sync_data(&file, &path)
    }
}

/// JSON of `value` followed by a newline.
fn json_line<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain data with string keys always serializes.
    let mut line = serde_json::to_vec(value).expect("progress line serializes");
    line.push(b'\n');
    line
}

/// The recipient lines of a job, read lazily.
#[derive(Debug)]
pub struct Recipients {
    lines: io::Lines<BufReader<File>>,
    path: std::path::PathBuf,
}

impl Iterator for Recipients {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        let line = self.lines.next()?;
        Some(line.ctx("read", &self.path))
    }
}

/// The unfinished batches of a job: `(batch number, recipient lines)`, ascending.
#[derive(Debug)]
pub struct PendingBatches {
    recipients: Recipients,
    progress: Progress,
    next: u64,
}

impl Iterator for PendingBatches {
    type Item = Result<(u64, Vec<String>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let size = self.progress.batch_size.max(1) as usize;
        loop {
            let batch = self.next;
            let mut lines = Vec::with_capacity(size);
            for line in self.recipients.by_ref().take(size) {
                match line {
                    Ok(line) => lines.push(line),
                    Err(err) => return Some(Err(err)),
                }
            }
            if lines.is_empty() {
                return None;
            }
            self.next += 1;
            if !self.progress.done.contains(&batch) {
                return Some(Ok((batch, lines)));
            }
        }
    }
}
