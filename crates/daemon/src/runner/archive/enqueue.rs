//! The `to-archive` step: an accepted post that goes to any archiver becomes the entry
//! `<id>.arch` in the `archive` stage, written durably before the post leaves `incoming`
//! (a child of the post, like its delivery job: a re-run after a crash finds it and writes
//! nothing twice, and it is not archived while the post is still in `incoming`).

use mailcast_pipeline::Message;
use mailcast_pipeline::archive::wants_archive;
use mailcast_spool::{EntryId, EntryMeta, Stage};
use tracing::debug;

use crate::directory::ListInfo;
use crate::runner::RunnerContext;

/// The suffix of an archive entry's id.
pub const SUFFIX: &str = "arch";

/// Creates the archive entry of a post (`headed`: after the handlers, before decoration),
/// unless no archiver is enabled for the list or the post is kept out (`archive_policy`
/// `never`, `X-No-Archive`, `X-Archive: no`). Returns the new entry, `None` if there is none
/// to process (not archived, or created by an earlier run).
pub async fn create(
    ctx: &RunnerContext,
    parent: &EntryMeta,
    list: &ListInfo,
    headed: &[u8],
) -> anyhow::Result<Option<EntryId>> {
    if crate::archive::enabled(&ctx.settings.archivers, &list.archivers).is_empty() {
        return Ok(None);
    }
    let Ok(message) = Message::parse(headed) else {
        return Ok(None);
    };
    if !wants_archive(&message, &list.settings, false) {
        debug!("the post is kept out of the archives");
        return Ok(None);
    }
    let id = parent.id.derive(SUFFIX)?;
    let mut meta = EntryMeta::new(
        id.clone(),
        Stage::Archive,
        &parent.list,
        &parent.mail_from,
        &parent.rcpt_to,
    );
    meta.received_at = parent.received_at;
    meta.original_size = parent.original_size;
    let body = headed.to_vec();
    let created = ctx
        .on_spool(
            move |spool| match spool.write_entry(Stage::Archive, meta, &body) {
                Ok(_) => Ok(true),
                Err(mailcast_spool::Error::Exists(_)) => Ok(false),
                Err(e) => Err(e),
            },
        )
        .await?;
    Ok(created.then_some(id))
}
