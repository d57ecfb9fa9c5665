//! Putting an entry's files in place: write to `tmp/`, optionally fsync, rename into place.
//!
//! A file is valid only once renamed into its final name, so a reader never sees a partial
//! body or envelope. The body is always in place before the envelope that refers to it. The
//! envelopes of one submission share one body inode through hard links (each entry has its own
//! `messages/<hh>/<id>.eml` name, so removing one entry never affects another and no reference
//! count is kept). Whether the directories are then synced is the caller's choice; this module
//! does not decide durability policy.

use std::fs;
use std::io;
use std::path::Path;

use crate::disk::{self, Disk};
use crate::error::{IoContext, Result};
use crate::id::EntryId;
use crate::layout::Layout;
use crate::meta::EntryMeta;
use crate::stage::Stage;

/// Writes `bytes` as the body of `id`; with `sync` the file is fsynced before the rename.
pub(crate) fn write_body(
    layout: &Layout,
    disk: &Disk,
    id: &EntryId,
    bytes: &[u8],
    sync: bool,
) -> Result<()> {
    layout.ensure_messages_bucket(id, disk)?;
    write_then_rename(layout, disk, id, bytes, sync, &layout.body_path(id))
}

/// Writes the envelope `meta` into `stage`; with `sync` the file is fsynced before the rename.
pub(crate) fn write_envelope(
    layout: &Layout,
    disk: &Disk,
    stage: Stage,
    meta: &EntryMeta,
    sync: bool,
) -> Result<()> {
    layout.ensure_stage_bucket(stage, &meta.id, disk)?;
    let mut meta = meta.clone();
    meta.stage = stage;
    let target = layout.envelope_path(stage, &meta.id);
    write_then_rename(layout, disk, &meta.id, &meta.to_json(), sync, &target)
}

/// Gives the body of `from` a second name as the body of `to` (a hard link), replacing any
/// stale body of `to`.
pub(crate) fn link_body(layout: &Layout, disk: &Disk, from: &EntryId, to: &EntryId) -> Result<()> {
    layout.ensure_messages_bucket(to, disk)?;
    link_replacing(layout, &layout.body_path(from), to, &layout.body_path(to))
}

/// Hard-links `source` to `target` (replacing `target`) through a name in `tmp/`.
pub(crate) fn link_replacing(
    layout: &Layout,
    source: &Path,
    id: &EntryId,
    target: &Path,
) -> Result<()> {
    match fs::hard_link(source, target) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let tmp = layout.tmp_path(id, "link");
            fs::hard_link(source, &tmp).ctx("link", source)?;
            disk::rename(&tmp, target)
        }
        Err(err) => Err(err).ctx("link", source),
    }
}

fn write_then_rename(
    layout: &Layout,
    disk: &Disk,
    id: &EntryId,
    bytes: &[u8],
    sync: bool,
    target: &Path,
) -> Result<()> {
    let tmp = layout.tmp_path(id, "new");
    let result = disk
        .write_file(&tmp, bytes, sync)
        .and_then(|()| disk::rename(&tmp, target));
    if result.is_err() {
        let _ = fs::remove_file(&tmp); // Best effort; tmp/ is emptied at recovery.
    }
    result
}
