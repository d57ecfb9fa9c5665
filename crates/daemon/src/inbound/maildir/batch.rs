//! One batch of Maildir work, run on a blocking thread: every ready file of a set of list
//! Maildirs into the spool (with the `tmp/` sweep when it is due), and the start-up sweep that
//! removes files a crashed run had already adopted. Each file's fate is logged and counted here;
//! what to retry and when is the reader's decision ([`super`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use mailcast_spool::{EntryId, Spool};
use tracing::{debug, warn};

use super::ingest::{self, Ingested};
use super::tree::{self, ListMaildir};
use crate::directory::Snapshot;

/// What a batch of ingestion did.
#[derive(Debug, Default)]
pub struct Report {
    /// Files taken into a working stage.
    pub adopted: usize,
    /// Files taken into `shunt` (no list).
    pub shunted: usize,
    /// Maildirs with files whose address resolved to no list (not shunted yet).
    pub unresolved: Vec<ListMaildir>,
    /// Files (or directories) that failed, with the error; they stay for the next pass.
    pub failures: Vec<(PathBuf, String)>,
    /// Stale `tmp/` files removed.
    pub swept: usize,
}

/// How many files are adopted at once. Every adoption waits for fsyncs; concurrent ones share
/// the file system's journal commits, which multiplies throughput on a busy disk.
const PARALLEL: usize = 8;

/// Ingests every ready file of `maildirs` (blocking), up to [`PARALLEL`] at a time. Each file
/// is handled by exactly one thread; of several files with the same name (in different
/// Maildirs) only the first is taken in this batch, the others in a later one.
pub fn ingest_all(
    spool: &Spool,
    snapshot: &Snapshot,
    maildirs: &[ListMaildir],
    shunt: bool,
    sweep: bool,
) -> Report {
    let mut report = Report::default();
    let mut work: Vec<(&ListMaildir, PathBuf)> = Vec::new();
    let mut names = HashSet::new();
    for maildir in maildirs {
        if sweep {
            match tree::sweep_tmp(maildir, SystemTime::now()) {
                Ok(n) => report.swept += n,
                Err(e) => report
                    .failures
                    .push((maildir.tmp_dir(), format!("cannot sweep tmp/: {e}"))),
            }
        }
        match tree::ready_files(maildir) {
            Ok(files) => {
                for file in files {
                    if names.insert(file.file_name().map(|n| n.to_os_string())) {
                        work.push((maildir, file));
                    }
                }
            }
            Err(e) => report
                .failures
                .push((maildir.new_dir(), format!("cannot list new/: {e}"))),
        }
    }
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(work.len()));
    let worker = || {
        loop {
            let Some((maildir, file)) = work.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            let result = ingest::ingest(spool, snapshot, maildir, file, shunt);
            done.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((*maildir, file, result));
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..PARALLEL.min(work.len()) {
            scope.spawn(worker);
        }
        worker();
    });
    for (maildir, file, result) in done.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match result {
            Ok(Ingested::Adopted(id, stage)) => {
                report.adopted += 1;
                metrics::counter!("mailcast_maildir_messages_total", "result" => "adopted")
                    .increment(1);
                debug!(file = %file.display(), entry = %id, stage = %stage, "adopted Maildir message");
            }
            Ok(Ingested::Shunted(id, reason)) => {
                report.shunted += 1;
                metrics::counter!("mailcast_maildir_messages_total", "result" => "shunted")
                    .increment(1);
                warn!(file = %file.display(), entry = %id, %reason, "Maildir message shunted");
            }
            Ok(Ingested::Unresolved) => {
                // Every file of this Maildir has the same address: retried together.
                if !report.unresolved.contains(maildir) {
                    report.unresolved.push(maildir.clone());
                }
            }
            Ok(Ingested::Gone) => {}
            Err(e) => report.failures.push((file.clone(), e.to_string())),
        }
    }
    report
}

/// Removes the files in every `new/` that are already in the spool (adopted by a run that
/// crashed before unlinking them: the entry's body is the same inode); returns how many.
pub fn remove_adopted(base: &Path, spool: &Spool) -> usize {
    let maildirs = match tree::walk(base) {
        Ok(tree) => tree.maildirs,
        Err(e) => {
            warn!(path = %base.display(), error = %e, "cannot read the Maildir tree");
            return 0;
        }
    };
    let mut removed = 0;
    for maildir in &maildirs {
        for file in tree::ready_files(maildir).unwrap_or_default() {
            let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let id = EntryId::from_maildir_name(name);
            let adopted = match spool.find(&id) {
                Ok(found) => {
                    found.is_some() && matches!(ingest::taken_by_another(spool, &file), Ok(None))
                }
                Err(e) => {
                    warn!(entry = %id, error = %e, "cannot look up a Maildir file's entry");
                    false
                }
            };
            if adopted {
                match std::fs::remove_file(&file) {
                    Ok(()) => {
                        removed += 1;
                        debug!(file = %file.display(), entry = %id, "already adopted");
                    }
                    Err(e) => {
                        warn!(file = %file.display(), error = %e, "cannot remove an adopted Maildir file")
                    }
                }
            }
        }
    }
    removed
}
