//! The direct durable path, for processes that own no write-ahead log: `mailcast inject` and
//! the Maildir reader.
//!
//! [`Spool::commit_direct`] writes the body (fsync), renames it into `messages/`, fsyncs that
//! directory, then writes each envelope (fsync), renames it into its stage and fsyncs the stage
//! directories, all before returning. The body is durable before any envelope that refers to
//! it. If anything fails, envelopes already renamed are removed again (best effort), so a
//! caller that reports a temporary failure has not half-accepted the message.
//!
//! [`Spool::adopt_file`] takes a file that is already on the spool's file system (a Maildir
//! `new/` entry) by hard link, without copying it, under an id derived from the file name; a
//! re-run after a crash finds the entry and only removes the source. This module does not
//! parse messages or decide stages.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::body::Submission;
use crate::disk;
use crate::error::{Error, IoContext, Result};
use crate::id::EntryId;
use crate::meta::{BodyDigest, EntryMeta, Envelope};
use crate::place;
use crate::spool::Spool;

impl Spool {
    /// Commits a submission durably without the write-ahead log; returns one id per envelope.
    pub fn commit_direct(&self, submission: Submission) -> Result<Vec<EntryId>> {
        if submission.envelopes.is_empty() {
            return Err(Error::Invalid(
                "a submission needs at least one envelope".into(),
            ));
        }
        let original_size = submission.original_size.unwrap_or(submission.body.len());
        let received_at = submission.received_at;
        let body = submission.body.into_bytes()?;
        let digest = BodyDigest::of(&body);
        let metas: Vec<EntryMeta> = submission
            .envelopes
            .iter()
            .map(|envelope| {
                EntryMeta::from_envelope(
                    EntryId::generate(),
                    envelope,
                    received_at,
                    original_size,
                    &digest,
                )
            })
            .collect();
        let (layout, disk) = (self.layout(), self.disk());
        let first = &metas[0].id; // Not empty: checked above.
        let mut written: Vec<PathBuf> = Vec::new();
        let result = (|| {
            place::write_body(layout, disk, first, &body, true)?;
            written.push(layout.body_path(first));
            for meta in &metas[1..] {
                place::link_body(layout, disk, first, &meta.id)?;
                written.push(layout.body_path(&meta.id));
            }
            self.sync_parents(&written)?;
            let mut envelopes = Vec::new();
            for meta in &metas {
                place::write_envelope(layout, disk, meta.stage, meta, true)?;
                envelopes.push(layout.envelope_path(meta.stage, &meta.id));
                written.push(layout.envelope_path(meta.stage, &meta.id));
            }
            self.sync_parents(&envelopes)
        })();
        if let Err(err) = result {
            // Envelopes first, so that no envelope is ever left without its body.
            for path in written.iter().rev() {
                let _ = disk::remove_if_exists(path);
            }
            return Err(err);
        }
        Ok(metas.into_iter().map(|meta| meta.id).collect())
    }

    /// Adopts the file at `path` (on the spool's file system) as the body of a new entry,
    /// without copying it: hard link into `messages/`, fsync, write the envelope durably, then
    /// unlink `path`. The id is [`EntryId::from_maildir_name`] of the file name, so calling
    /// this again after a crash finds the entry already adopted and only unlinks `path`.
    pub fn adopt_file(&self, path: &Path, envelope: Envelope) -> Result<EntryId> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Invalid(format!("not a Maildir file name: {path:?}")))?;
        let id = EntryId::from_maildir_name(name);
        if self.find(&id)?.is_some() {
            disk::remove_if_exists(path)?;
            return Ok(id);
        }
        let (layout, disk) = (self.layout(), self.disk());
        let source = File::open(path).ctx("open", path)?;
        let digest = digest_file(&source, path)?;
        disk.sync_all(&source, path)?;
        layout.ensure_messages_bucket(&id, disk)?;
        let body_path = layout.body_path(&id);
        place::link_replacing(layout, path, &id, &body_path)?;
        self.sync_parent(&body_path)?;
        let received_at = source
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| Timestamp::try_from(t).ok())
            .unwrap_or_else(Timestamp::now);
        let meta =
            EntryMeta::from_envelope(id.clone(), &envelope, received_at, digest.len, &digest);
        place::write_envelope(layout, disk, meta.stage, &meta, true)?;
        self.sync_parent(&layout.envelope_path(meta.stage, &id))?;
        disk::remove_if_exists(path)?;
        Ok(id)
    }

    /// fsyncs each distinct directory holding one of `paths`.
    fn sync_parents(&self, paths: &[PathBuf]) -> Result<()> {
        let mut dirs: Vec<&Path> = paths.iter().filter_map(|p| p.parent()).collect();
        dirs.sort_unstable();
        dirs.dedup();
        for dir in dirs {
            self.disk().sync_dir(dir)?;
        }
        Ok(())
    }
}

/// Length and blake3 hash of an open file, read in 64 KiB blocks.
fn digest_file(mut file: &File, path: &Path) -> Result<BodyDigest> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0; 64 << 10];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buffer).ctx("read", path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        len += n as u64;
    }
    Ok(BodyDigest {
        len,
        hash: hasher.finalize().to_hex().to_string(),
    })
}
