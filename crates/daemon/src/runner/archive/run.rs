//! The `archive` stage's runner (Mailman's `archive` runner): each archiver enabled for the
//! list now, and not done for the entry yet, gets the post, then the entry is removed. A list
//! that is gone, or whose archivers were all switched off meanwhile, archives nothing.
//! - A failure of a file archiver (a full disk, a file locked by another process) is retried
//!   with the runners' backoff and ends in `shunt`, like any entry.
//! - HyperKitty not taking the post does not stop the others; the entry then waits for its
//!   next attempt ([`retry`]).
//! - Either way the archivers done are recorded first, and are not run again.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use jiff::Timestamp;
use mailcast_model::ListAddress;
use mailcast_spool::{EntryId, EntryMeta, Stage};
use tracing::{debug, info};

use super::retry::{self, Archived};
use crate::archive::hyperkitty::{self, Failure};
use crate::archive::mbox::{Appended, MboxFiles};
use crate::archive::{Archiver, mboxrd, naming, prototype};
use crate::runner::RunnerContext;

/// The mbox files this process has open.
fn mbox_files() -> &'static Arc<MboxFiles> {
    static FILES: OnceLock<Arc<MboxFiles>> = OnceLock::new();
    FILES.get_or_init(Arc::default)
}

/// When this process started archiving: entries received before may have been archived by
/// an earlier process that stopped before removing them.
fn started() -> Timestamp {
    static STARTED: OnceLock<Timestamp> = OnceLock::new();
    *STARTED.get_or_init(Timestamp::now)
}

/// Archives the entry `id` and removes it, or says when to try again.
pub async fn process(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<Archived> {
    let since = started();
    let entry_id = id.clone();
    let (meta, body) = ctx
        .on_spool(move |spool| spool.read_entry(Stage::Archive, &entry_id))
        .await?;
    if let Some(at) = retry::not_yet(&meta) {
        return Ok(Archived::RetryAt(at));
    }
    let list = ListAddress::parse(&meta.list)
        .ok()
        .and_then(|l| ctx.directory.snapshot().list(&l));
    match list {
        None => info!(list = %meta.list, "the list is gone; nothing archived"),
        Some(list) => {
            let archivers = crate::archive::enabled(&ctx.settings.archivers, &list.archivers);
            let maybe_rerun = meta.attempts > 0 || meta.received_at < since;
            let mut done = retry::done(&meta);
            let mut refused = None;
            for archiver in archivers {
                if done.contains(archiver.name()) {
                    continue;
                }
                match archive(ctx, archiver, &meta, &list.list_id, &body, maybe_rerun).await {
                    Ok(()) => {
                        done.insert(archiver.name().to_string());
                    }
                    Err(Failed::Remote(failure)) => refused = Some(failure),
                    Err(Failed::Local(err)) => {
                        record(ctx, id, &meta, &done).await?;
                        return Err(err);
                    }
                }
            }
            if let (Some(failure), Some(settings)) = (refused, &ctx.settings.archivers.hyperkitty) {
                return retry::defer(ctx, id, &done, failure, settings).await;
            }
        }
    }
    let id = id.clone();
    ctx.on_spool(move |spool| spool.remove(Stage::Archive, &id))
        .await?;
    Ok(Archived::Done)
}

/// Records the archivers done if more are done than the entry says.
async fn record(
    ctx: &RunnerContext,
    id: &EntryId,
    meta: &EntryMeta,
    done: &BTreeSet<String>,
) -> anyhow::Result<()> {
    if *done == retry::done(meta) {
        return Ok(());
    }
    retry::record_done(ctx, id, done).await
}

/// How one archiver failed.
enum Failed {
    /// Here (a file archiver): the runners' failure path.
    Local(anyhow::Error),
    /// HyperKitty did not take it.
    Remote(Failure),
}

impl From<anyhow::Error> for Failed {
    fn from(err: anyhow::Error) -> Failed {
        Failed::Local(err)
    }
}

impl From<tokio::task::JoinError> for Failed {
    fn from(err: tokio::task::JoinError) -> Failed {
        Failed::Local(err.into())
    }
}

async fn archive(
    ctx: &RunnerContext,
    archiver: Archiver,
    meta: &EntryMeta,
    list_id: &str,
    body: &[u8],
    maybe_rerun: bool,
) -> Result<(), Failed> {
    let archives = ctx.settings.var_dir.join("archives");
    let written = match archiver {
        Archiver::Mbox => {
            let path = naming::mbox_file(&archives, list_id, meta.received_at);
            let record =
                mboxrd::record(&mboxrd::from_line(&meta.mail_from, meta.received_at), body);
            let files = mbox_files().clone();
            let appended = tokio::task::spawn_blocking(move || {
                files.append(&path, &record, maybe_rerun).map_err(|e| {
                    anyhow::anyhow!("cannot append to the mbox {}: {e}", path.display())
                })
            })
            .await??;
            metrics::counter!("mailcast_archived_total", "archiver" => "mbox").increment(1);
            appended == Appended::Written
        }
        Archiver::Prototype => {
            let dir = naming::maildir(&archives, &meta.list);
            let name =
                naming::maildir_name(meta.id.as_str(), meta.received_at, &ctx.settings.hostname);
            let message = mboxrd::unix_lines(body);
            let stored = tokio::task::spawn_blocking(move || {
                prototype::deliver(&dir, &name, &message).map_err(|e| {
                    anyhow::anyhow!("cannot store in the Maildir {}: {e}", dir.display())
                })
            })
            .await??;
            metrics::counter!("mailcast_archived_total", "archiver" => "prototype").increment(1);
            stored
        }
        Archiver::HyperKitty => {
            let Some(settings) = &ctx.settings.archivers.hyperkitty else {
                return Ok(());
            };
            hyperkitty::archive(settings, &meta.list, body)
                .await
                .map_err(Failed::Remote)?;
            metrics::counter!("mailcast_archived_total", "archiver" => "hyperkitty").increment(1);
            true
        }
    };
    if written {
        debug!(archiver = archiver.name(), "archived");
    } else {
        info!(
            archiver = archiver.name(),
            "archived before (a re-run); not written again"
        );
    }
    Ok(())
}
