//! The mbox archiver's files: appends records ([`super::mboxrd`]) durably, one writer per
//! file.
//!
//! - **One writer per file.** In this process a file is appended to under its own mutex; it
//!   stays open with an exclusive `flock`, so a second process (another daemon on the same
//!   `var/`) is refused and retries later instead of interleaving records.
//! - **Durable.** A record is one `write` at the end of the file followed by `fdatasync`; a
//!   new file's directory is synced too. The spool entry is removed only after that.
//! - **A torn append is cut.** The first time a file is opened by this process, a tail that
//!   does not end with a record's empty line (a crash in the middle of an append) is cut back
//!   to the last complete record; the post whose append was torn is still in the spool and is
//!   written again. A tear that happens to end on an empty line inside the message cannot be
//!   told from a complete record and stays.
//! - **A re-run does not append twice.** An entry that may have been archived before (it was
//!   received before this process started, or failed an attempt) is first looked for in the
//!   last [`RERUN_WINDOW`] bytes of the file, byte for byte; found, it is not written again.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::mboxrd::torn_tail;

/// How far back from the end a possibly archived record is looked for.
pub const RERUN_WINDOW: u64 = 16 << 20;
/// How much of a file's end is read to find a torn append.
const TORN_WINDOW: u64 = 4 << 20;
/// Files kept open at most; beyond this every handle is closed (and unlocked).
const MAX_OPEN: usize = 512;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The record was written.
    Written,
    /// A re-run found the record already at the end of the file.
    AlreadyThere,
}

/// The open mbox files of this process.
#[derive(Default)]
pub struct MboxFiles {
    open: Mutex<HashMap<PathBuf, Arc<Mutex<File>>>>,
}

impl MboxFiles {
    /// Appends `record` to `path`; with `maybe_rerun`, not if it is there already. Blocking.
    pub fn append(&self, path: &Path, record: &[u8], maybe_rerun: bool) -> io::Result<Appended> {
        let file = self.file(path)?;
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        if maybe_rerun && ends_with_record(&mut file, record)? {
            return Ok(Appended::AlreadyThere);
        }
        file.write_all(record)?;
        file.sync_data()?;
        Ok(Appended::Written)
    }

    fn file(&self, path: &Path) -> io::Result<Arc<Mutex<File>>> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = open.get(path) {
            return Ok(file.clone());
        }
        if open.len() >= MAX_OPEN {
            open.clear();
        }
        let file = Arc::new(Mutex::new(open_for_append(path)?));
        open.insert(path.to_path_buf(), file.clone());
        Ok(file)
    }
}

/// Opens (creating it and its directory if needed) and locks `path`, and cuts a torn tail.
fn open_for_append(path: &Path) -> io::Result<File> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let existed = path.exists();
    if !existed {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    rustix::fs::flock(
        file.as_fd(),
        rustix::fs::FlockOperation::NonBlockingLockExclusive,
    )
    .map_err(|e| {
        io::Error::other(format!(
            "{} is being written by another process ({e})",
            path.display()
        ))
    })?;
    if !existed {
        File::open(dir)?.sync_all()?;
    }
    let len = file.metadata()?.len();
    let from = len.saturating_sub(TORN_WINDOW);
    let tail = read_range(&mut file, from, len)?;
    if let Some(keep) = torn_tail(&tail, from == 0) {
        let keep = from + keep as u64;
        tracing::warn!(
            file = %path.display(),
            cut = len - keep,
            "cutting a torn append from an mbox archive"
        );
        file.set_len(keep)?;
        file.sync_all()?;
    }
    Ok(file)
}

/// Whether `record` is in the last [`RERUN_WINDOW`] bytes of `file`.
fn ends_with_record(file: &mut File, record: &[u8]) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if (record.len() as u64) > len {
        return Ok(false);
    }
    let from = len.saturating_sub(RERUN_WINDOW.max(record.len() as u64));
    let tail = read_range(file, from, len)?;
    Ok(tail.windows(record.len()).any(|w| w == record))
}

fn read_range(file: &mut File, from: u64, to: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity((to - from) as usize);
    file.seek(SeekFrom::Start(from))?;
    Read::by_ref(file).take(to - from).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::mboxrd::record;

    #[test]
    fn appends_once_cuts_torn_tails_and_keeps_others_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ant.example.com/2026-12.mbox");
        let one = record("From a Mon Dec  7 08:04:05 2026", b"A: 1\r\n\r\nx\r\n");
        let two = record("From a Mon Dec  7 08:04:06 2026", b"A: 2\r\n\r\ny\r\n");
        let files = MboxFiles::default();
        assert_eq!(files.append(&path, &one, false).unwrap(), Appended::Written);
        assert_eq!(
            files.append(&path, &one, true).unwrap(),
            Appended::AlreadyThere
        );
        assert_eq!(files.append(&path, &two, true).unwrap(), Appended::Written);
        assert_eq!(
            files.append(&path, &one, true).unwrap(),
            Appended::AlreadyThere,
            "found before the last record too"
        );
        let other = MboxFiles::default();
        let refused = other.append(&path, &two, false).unwrap_err();
        assert!(refused.to_string().contains("another process"), "{refused}");
        drop(files);

        let mut torn = one.clone();
        torn.extend_from_slice(&two);
        torn.extend_from_slice(&one[..one.len() / 2]);
        std::fs::write(&path, &torn).unwrap();
        let again = MboxFiles::default();
        assert_eq!(
            again.append(&path, &one, true).unwrap(),
            Appended::AlreadyThere
        );
        let mut whole = one.clone();
        whole.extend_from_slice(&two);
        assert_eq!(std::fs::read(&path).unwrap(), whole);
    }
}
