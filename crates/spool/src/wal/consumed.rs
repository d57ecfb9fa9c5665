//! The consumed log: ids of entries removed while the log segment that created them was still
//! live, so that replay does not bring them back.
//!
//! `wal/<seq>.consumed` holds one id per line, appended without fsync (the page cache survives
//! `kill -9`; after a power loss a removed entry may come back once, which is the documented
//! duplicate window). `<seq>` is the newest segment at the time of the append, so the file can
//! be deleted once every segment up to `<seq>` is gone. This module does not decide when.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use super::segment;
use crate::disk::Disk;
use crate::error::{IoContext, Result};
use crate::id::EntryId;

/// Appends `id` to `wal/<seq>.consumed`.
pub(crate) fn append(wal_dir: &Path, seq: u64, id: &EntryId, disk: &Disk) -> Result<()> {
    let path = segment::consumed_path(wal_dir, seq);
    let mut file = disk.open_append(&path)?;
    let line = format!("{id}\n");
    disk.write_all(&mut file, line.as_bytes(), &path)
}

/// Every id in every consumed file. Lines that are not valid ids (a torn last line) are
/// ignored.
pub(crate) fn read_all(wal_dir: &Path) -> Result<HashSet<EntryId>> {
    let mut ids = HashSet::new();
    for seq in segment::list(wal_dir, "consumed")? {
        let path = segment::consumed_path(wal_dir, seq);
        let text = fs::read(&path).ctx("read", &path)?;
        for line in text.split(|b| *b == b'\n') {
            if let Ok(id) = std::str::from_utf8(line)
                .map_err(drop)
                .and_then(|s| EntryId::parse(s).map_err(drop))
            {
                ids.insert(id);
            }
        }
    }
    Ok(ids)
}
