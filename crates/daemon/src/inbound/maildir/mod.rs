//! The Maildir reader: list mail that Postfix's virtual(8) delivered into
//! `<[maildir] path>/<domain>/<local>/new/` (the `postfix_vmailbox` map that
//! `mailcast mta postfix` writes in Maildir mode) is taken into the spool's `incoming`,
//! `command` or `bounces` stage by hard link, without copying, and the runners are woken.
//!
//! # How it finds mail
//!
//! One task runs the passes, one at a time, so that no file is ever adopted twice at once (a
//! pass adopts up to eight files in parallel, each by one thread: concurrent fsyncs share the
//! file system's journal commits; see [`batch`]). A pass is triggered by inotify ([`watch`]: a file in a watched `new/`, or a new domain
//! or list Maildir) and by a periodic full rescan every `[maildir] scan_interval_ms`, which is
//! also the whole mechanism when inotify is unavailable. A full pass walks the tree, watches
//! what it found, then ingests everything in every `new/`; it also removes files older than
//! 36 hours from the `tmp/` directories (at most once an hour; younger ones are deliveries in
//! progress and are never touched).
//!
//! # What one message becomes
//!
//! See [`ingest`]: the list is the Maildir's own address, the envelope comes from the
//! `Return-Path:` and `Delivered-To:` fields Postfix prepended, the message is kept as written
//! with `attrs.fixed_up = false`, and the spool id is derived from the Maildir file name
//! ([`mailcast_spool::EntryId::from_maildir_name`]) so that adopting it again finds the entry.
//! A Maildir whose address resolves to no list is first re-checked against a fresh copy of the
//! list directory (the list may be seconds old), then shunted with the reason.
//!
//! # Crash safety and the duplicate window
//!
//! [`mailcast_spool::Spool::adopt_file`] makes the hard link and the envelope durable before it
//! unlinks the Maildir file, so a crash never loses a message. A crash between the envelope
//! and the unlink leaves both; at start-up, before the first pass, [`start`] removes every
//! Maildir file whose entry exists. The duplicate window is what remains: the runners finishing
//! such an entry before that start-up sweep (the daemon starts this reader right after the
//! runners), and, after a power loss, an unlink of the last checkpoint interval (about a
//! second: the spool's `syncfs()` covers the Maildir, which must be on its file system) undone
//! while the entry's removal was not.
//!
//! # What it does not do
//!
//! No policy and no refusals: Postfix has already accepted the mail, so a post the list refuses
//! gets a notice from the incoming runner, not a bounce from Postfix. No intake fix-ups (the
//! runner applies them) and no copying: a Maildir on another file system than the spool is an
//! error at start-up and the reader does not run.

mod batch;
mod headers;
mod ingest;
mod tree;
mod watch;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailcast_spool::Spool;
use mailcast_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

pub use ingest::{ATTR_FIXED_UP, ATTR_MAILDIR, ATTR_SHUNT_REASON, ATTR_WHICH_STAGE};
pub use tree::TMP_MAX_AGE;

use crate::config::Settings;
use crate::directory::Directory;
use crate::runner::Wakeup;
use batch::{Report, ingest_all, remove_adopted};
use tree::ListMaildir;
use watch::{Changes, Role, Watcher};

/// How often a full pass also sweeps stale files from the `tmp/` directories.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the reader when Maildir ingestion is enabled: creates the base directory, checks
/// that it shares the spool's file system, removes the files a crashed run had already adopted,
/// and spawns the task. `None` when disabled or when it cannot work (logged as an error).
pub fn start(
    settings: &Settings,
    store: &Store,
    spool: &Spool,
    directory: &Directory,
    wake: mpsc::UnboundedSender<Wakeup>,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    if !settings.maildir_enabled {
        return None;
    }
    let base = settings.maildir_path.clone();
    if let Err(e) = std::fs::create_dir_all(&base) {
        error!(path = %base.display(), error = %e, "cannot create the Maildir directory; Maildir ingestion is off");
        return None;
    }
    match same_file_system(&base, spool.root()) {
        Ok(true) => {}
        Ok(false) => {
            error!(
                maildir = %base.display(),
                spool = %spool.root().display(),
                "[maildir] path is not on the spool's file system, so messages cannot be taken by hard link; \
                 Maildir ingestion is off"
            );
            return None;
        }
        Err(e) => {
            error!(path = %base.display(), error = %e, "cannot inspect the Maildir directory; Maildir ingestion is off");
            return None;
        }
    }
    let removed = remove_adopted(&base, spool);
    if removed > 0 {
        info!(
            files = removed,
            "removed Maildir files adopted before a crash"
        );
    }
    let reader = Reader {
        base,
        store: store.clone(),
        spool: spool.clone(),
        directory: directory.clone(),
        wake,
        scan_interval: settings.maildir_scan_interval,
        last_sweep: None,
        failing: HashMap::new(),
    };
    Some(tokio::spawn(reader.run(shutdown)))
}

/// The reader task's state.
struct Reader {
    base: PathBuf,
    store: Store,
    spool: Spool,
    directory: Directory,
    wake: mpsc::UnboundedSender<Wakeup>,
    scan_interval: Duration,
    last_sweep: Option<Instant>,
    /// Files that failed, with the error last logged for them (each is logged once).
    failing: HashMap<PathBuf, String>,
}

/// What one pass looks at.
enum Pass {
    /// Walk the tree, watch it, ingest every `new/`.
    Full,
    /// Ingest these `new/` directories.
    Dirs(HashSet<PathBuf>),
}

impl Reader {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut watcher = match Watcher::new() {
            Ok(w) => Some(w),
            Err(e) => {
                warn!(error = %e, "no inotify; the Maildir is rescanned every {:?}", self.scan_interval);
                None
            }
        };
        let mut tick = tokio::time::interval(self.scan_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        info!(path = %self.base.display(), inotify = watcher.is_some(), "Maildir reader started");
        loop {
            let pass = tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => Pass::Full,
                changes = next_changes(&mut watcher) => match changes {
                    Ok(Changes { rewalk: true, .. }) => Pass::Full,
                    Ok(Changes { new_dirs, .. }) => Pass::Dirs(new_dirs),
                    Err(e) => {
                        warn!(error = %e, "inotify failed; the Maildir is rescanned every {:?}", self.scan_interval);
                        watcher = None;
                        continue;
                    }
                },
            };
            self.pass(pass, &mut watcher).await;
        }
    }

    async fn pass(&mut self, pass: Pass, watcher: &mut Option<Watcher>) {
        let full = matches!(pass, Pass::Full);
        let maildirs = match pass {
            Pass::Full => match self.walk(watcher).await {
                Some(maildirs) => maildirs,
                None => return,
            },
            Pass::Dirs(dirs) => {
                let mut found: Vec<ListMaildir> = dirs
                    .iter()
                    .filter_map(|new| tree::maildir_at(&self.base, new.parent()?))
                    .collect();
                found.sort();
                found
            }
        };
        let sweep = full
            && self
                .last_sweep
                .is_none_or(|t| t.elapsed() >= SWEEP_INTERVAL);
        if sweep {
            self.last_sweep = Some(Instant::now());
        }
        let mut report = self.ingest(maildirs, false, sweep).await;
        if !report.unresolved.is_empty() {
            // A list created a moment ago may not be in this snapshot yet: reload, then shunt
            // what still resolves to no list.
            match self.directory.refresh(&self.store).await {
                Ok(_) => {
                    let retry = self
                        .ingest(std::mem::take(&mut report.unresolved), true, false)
                        .await;
                    report.adopted += retry.adopted;
                    report.shunted += retry.shunted;
                    report.failures.extend(retry.failures);
                }
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "cannot reload the list directory; will retry")
                }
            }
        }
        self.log_failures(report.failures, full);
        if report.swept > 0 {
            info!(
                files = report.swept,
                "removed stale files from Maildir tmp/ directories"
            );
        }
        if report.adopted + report.shunted > 0 {
            debug!(
                adopted = report.adopted,
                shunted = report.shunted,
                "Maildir pass"
            );
            // The runners may be disabled (their receiver gone): nothing to wake then.
            let _ = self.wake.send(Wakeup::Scan);
        }
    }

    /// Walks the tree and watches every directory of it; `None` if the walk failed (logged).
    /// A directory created between the walk and its watch would go unnoticed, so the walk is
    /// repeated until it finds no directory that was not watched already.
    async fn walk(&mut self, watcher: &mut Option<Watcher>) -> Option<Vec<ListMaildir>> {
        loop {
            let base = self.base.clone();
            let tree = match tokio::task::spawn_blocking(move || tree::walk(&base)).await {
                Ok(Ok(tree)) => tree,
                Ok(Err(e)) => {
                    let message = format!("cannot read the Maildir tree: {e}");
                    self.note_failure(self.base.clone(), message);
                    return None;
                }
                Err(e) => {
                    error!(error = %e, "Maildir walk panicked");
                    return None;
                }
            };
            let Some(w) = watcher else {
                return Some(tree.maildirs);
            };
            let dirs = std::iter::once((self.base.clone(), Role::Container))
                .chain(tree.domains.iter().map(|d| (d.clone(), Role::Container)))
                .chain(tree.locals.iter().map(|l| (l.clone(), Role::Maildir)))
                .chain(tree.maildirs.iter().map(|m| (m.new_dir(), Role::New)));
            let mut added = 0;
            for (dir, role) in dirs {
                match w.watch(&dir, role) {
                    Ok(new) => added += usize::from(new),
                    Err(e) => {
                        // Usually the watch limit (fs.inotify.max_user_watches): rescans still work.
                        warn!(error = %e, watched = w.watched_count(), "cannot watch {}; relying on rescans", dir.display());
                        *watcher = None;
                        return Some(tree.maildirs);
                    }
                }
            }
            if added == 0 {
                return Some(tree.maildirs);
            }
        }
    }

    async fn ingest(&self, maildirs: Vec<ListMaildir>, shunt_unknown: bool, sweep: bool) -> Report {
        let (spool, snapshot) = (self.spool.clone(), self.directory.snapshot());
        let task = move || ingest_all(&spool, &snapshot, &maildirs, shunt_unknown, sweep);
        match tokio::task::spawn_blocking(task).await {
            Ok(report) => report,
            Err(e) => {
                error!(error = %e, "Maildir ingestion panicked");
                Report::default()
            }
        }
    }

    /// Logs each failing file once per distinct error; a full pass forgets files that no
    /// longer fail.
    fn log_failures(&mut self, failures: Vec<(PathBuf, String)>, full: bool) {
        let mut now_failing = HashMap::new();
        for (path, message) in failures {
            if self.failing.get(&path) != Some(&message) {
                warn!(file = %path.display(), error = %message, "cannot take Maildir message; will retry");
            }
            metrics::counter!("mailcast_maildir_errors_total").increment(1);
            now_failing.insert(path, message);
        }
        if full {
            self.failing = now_failing;
        } else {
            self.failing.extend(now_failing);
        }
    }

    fn note_failure(&mut self, path: PathBuf, message: String) {
        self.log_failures(vec![(path, message)], false);
    }
}

/// The watcher's next changes, or never when there is no watcher.
async fn next_changes(watcher: &mut Option<Watcher>) -> std::io::Result<Changes> {
    match watcher {
        Some(w) => w.changes().await,
        None => std::future::pending().await,
    }
}

/// Whether `a` and `b` are on the same file system (hard links between them work).
fn same_file_system(a: &Path, b: &Path) -> std::io::Result<bool> {
    Ok(std::fs::metadata(a)?.dev() == std::fs::metadata(b)?.dev())
}
