//! The consumed log: what happened to entries while the log segment that created them was
//! still live, so that replay neither brings back a removed entry nor forgets a rewrite.
//!
//! `wal/<seq>.consumed` is appended without fsync (the page cache survives `kill -9`; after a
//! power loss a removed entry may come back once, or lose its last rewrite: the documented
//! duplicate window). Two kinds of lines:
//!
//! ```text
//! <id>\n              the entry was removed (consumed)
//! <id> <json>\n       the envelope of an entry still resident in the log was rewritten;
//!                     the JSON (one line) replaces the one in the log record
//! ```
//!
//! A removal wins over any rewrite; among rewrites the last line wins. A torn last line does
//! not parse and is ignored (as are lines an older version of this crate wrote or cannot
//! read). `<seq>` is the newest segment at the time of the append, so the file can be deleted
//! once every segment up to `<seq>` is gone. This module does not decide when.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use super::segment;
use crate::disk::Disk;
use crate::error::{IoContext, Result};
use crate::id::EntryId;
use crate::meta::EntryMeta;

/// Appends the removal of `id` to `wal/<seq>.consumed`.
pub(crate) fn append(wal_dir: &Path, seq: u64, id: &EntryId, disk: &Disk) -> Result<()> {
    write_line(wal_dir, seq, format!("{id}\n").as_bytes(), disk)
}

/// Appends a rewrite of a resident entry's envelope to `wal/<seq>.consumed`.
pub(crate) fn append_rewrite(
    wal_dir: &Path,
    seq: u64,
    meta: &EntryMeta,
    disk: &Disk,
) -> Result<()> {
    let mut line = format!("{} ", meta.id).into_bytes();
    // Serializing plain data with string keys cannot fail; compact JSON has no newline.
    serde_json::to_writer(&mut line, meta).expect("EntryMeta serializes");
    line.push(b'\n');
    write_line(wal_dir, seq, &line, disk)
}

fn write_line(wal_dir: &Path, seq: u64, line: &[u8], disk: &Disk) -> Result<()> {
    let path = segment::consumed_path(wal_dir, seq);
    let mut file = disk.open_append(&path)?;
    disk.write_all(&mut file, line, &path)
}

/// Everything the consumed logs say.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// Entries removed.
    pub consumed: HashSet<EntryId>,
    /// The latest rewritten envelope of entries not removed.
    pub rewrites: HashMap<EntryId, EntryMeta>,
}

impl Notes {
    /// The envelope `id` should have: its rewrite if any, else `logged`.
    pub fn current<'a>(&'a self, logged: &'a EntryMeta) -> &'a EntryMeta {
        self.rewrites.get(&logged.id).unwrap_or(logged)
    }
}

/// Reads every consumed log, oldest first.
pub(crate) fn read_all(wal_dir: &Path) -> Result<Notes> {
    let mut notes = Notes::default();
    for seq in segment::list(wal_dir, "consumed")? {
        let path = segment::consumed_path(wal_dir, seq);
        let text = match fs::read(&path) {
            Ok(text) => text,
            // Deleted by a checkpoint of the process that owns the log, while we listed.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).ctx("read", &path),
        };
        for line in text.split(|b| *b == b'\n') {
            read_line(line, &mut notes);
        }
    }
    for id in &notes.consumed {
        notes.rewrites.remove(id);
    }
    Ok(notes)
}

fn read_line(line: &[u8], notes: &mut Notes) {
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    match line.split_once(' ') {
        None => {
            if let Ok(id) = EntryId::parse(line) {
                notes.consumed.insert(id);
            }
        }
        Some((id, json)) => {
            let Ok(meta) = EntryMeta::from_json(id, json.as_bytes()) else {
                return; // A torn last line.
            };
            notes.rewrites.insert(meta.id.clone(), meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Stage;

    #[test]
    fn removals_win_and_the_last_rewrite_counts() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk {
            fsync: false,
            faults: None,
        };
        let (a, b) = (EntryId::generate(), EntryId::generate());
        let mut meta = EntryMeta::new(b.clone(), Stage::Incoming, "l@x", "f@x", "l@x");
        append_rewrite(dir.path(), 1, &meta, &disk).unwrap();
        meta.attempts = 2;
        append_rewrite(dir.path(), 2, &meta, &disk).unwrap();
        let mut a_meta = meta.clone();
        a_meta.id = a.clone();
        append_rewrite(dir.path(), 2, &a_meta, &disk).unwrap();
        append(dir.path(), 2, &a, &disk).unwrap();
        // A torn line at the end is ignored.
        let path = segment::consumed_path(dir.path(), 2);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(format!("{b} {{\"version\":1,\"id\"").as_bytes());
        fs::write(&path, bytes).unwrap();
        let notes = read_all(dir.path()).unwrap();
        assert_eq!(notes.consumed, HashSet::from([a]));
        assert_eq!(notes.rewrites.len(), 1);
        assert_eq!(notes.rewrites[&b].attempts, 2);
    }
}
