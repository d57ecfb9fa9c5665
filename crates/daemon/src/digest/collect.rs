//! Mailman's `to-digest` handler: an accepted post joins the list's next digest, and the
//! digest closes when the waiting posts reach `digest_size_threshold` KiB.
//!
//! Nothing is collected when the list has `digests_enabled` off (as in Mailman) or has no
//! member on a digest mode (mailcast's saving: Mailman builds digests nobody receives).

use mailcast_spool::EntryId;
use mailcast_store::{DigestIssue, DigestTrigger, Store};
use tracing::debug;

use crate::directory::ListInfo;

/// Adds the post of incoming entry `source` (the handlers' output before decoration) to the
/// list's next digest, and closes the digest if it is full. Returns the closed digest.
pub async fn collect(
    store: &Store,
    list: &ListInfo,
    source: &EntryId,
    post: &[u8],
) -> anyhow::Result<Option<DigestIssue>> {
    let settings = &list.settings;
    if !settings.digests_enabled || !store.has_digest_members(&list.address).await? {
        return Ok(None);
    }
    let added = store
        .add_digest_post(&list.address, source.as_str(), post)
        .await?;
    debug!(added, "post collected for the digest");
    let frequency = settings.digest_volume_frequency;
    let trigger = DigestTrigger::Size(settings.digest_size_threshold);
    let closed = store
        .close_digest(&list.address, trigger, |n, at| {
            super::bumped(frequency, n, at)
        })
        .await?;
    Ok(closed)
}
