//! Write-ahead log segments on disk: naming, creating, appending and scanning.
//!
//! A segment is `wal/<16-hex-seq>.wal`: a 16-byte header (`"mailcast-wal v1\n"`) followed by
//! records (see [`super::record`]). A new segment is made durable (file and `wal/` directory
//! fsync) before any record in it is acknowledged. A segment whose write or sync failed is
//! abandoned, never appended to again. This module does not decide when to roll or delete.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, Decoded};
use crate::disk::Disk;
use crate::error::{IoContext, Result};
use crate::meta::EntryMeta;

/// The first bytes of every segment.
const HEADER: &[u8; 16] = b"mailcast-wal v1\n";

/// `wal/<seq>.wal`.
pub(crate) fn segment_path(wal_dir: &Path, seq: u64) -> PathBuf {
    wal_dir.join(format!("{seq:016x}.wal"))
}

/// `wal/<seq>.consumed`.
pub(crate) fn consumed_path(wal_dir: &Path, seq: u64) -> PathBuf {
    wal_dir.join(format!("{seq:016x}.consumed"))
}

/// The sequence numbers of the files `wal/<seq>.<ext>`, ascending.
pub(crate) fn list(wal_dir: &Path, ext: &str) -> Result<Vec<u64>> {
    let suffix = format!(".{ext}");
    let mut seqs = Vec::new();
    for entry in fs::read_dir(wal_dir).ctx("read directory", wal_dir)? {
        let entry = entry.ctx("read directory", wal_dir)?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(&suffix)) else {
            continue;
        };
        if stem.len() == 16
            && let Ok(seq) = u64::from_str_radix(stem, 16)
        {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    /// Its sequence number.
    pub seq: u64,
    /// Its path.
    pub path: PathBuf,
    file: File,
    /// Bytes written and made durable so far.
    pub len: u64,
}

impl SegmentWriter {
    /// Creates segment `seq` and makes its existence durable.
    pub fn create(wal_dir: &Path, seq: u64, disk: &Disk) -> Result<SegmentWriter> {
        let path = segment_path(wal_dir, seq);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .ctx("create", &path)?;
        disk.write_all(&mut file, HEADER, &path)?;
        disk.sync_data(&file, &path)?;
        disk.sync_dir(wal_dir)?;
        Ok(SegmentWriter {
            seq,
            path,
            file,
            len: HEADER.len() as u64,
        })
    }

    /// Opens the segment again for reading (bodies of resident entries are read from it).
    pub fn reader(&self) -> Result<File> {
        File::open(&self.path).ctx("open", &self.path)
    }

    /// Appends `chunks` (with as few `write` calls as the kernel allows) and makes them
    /// durable with one `fdatasync`.
    pub fn append_durably(&mut self, chunks: &[&[u8]], disk: &Disk) -> Result<()> {
        disk.write_all_vectored(&mut self.file, chunks, &self.path)?;
        disk.sync_data(&self.file, &self.path)?;
        self.len += chunks.iter().map(|b| b.len() as u64).sum::<u64>();
        Ok(())
    }

    /// Best effort after a failed append: cut the segment back to its last durable length so
    /// that records nobody was told about are not replayed. Errors are ignored: the segment is
    /// abandoned either way, and a replayed unacknowledged record is a duplicate, not a loss.
    pub fn truncate_to_durable(&self) {
        let _ = self.file.set_len(self.len);
    }
}

/// Reads `len` bytes at `offset` of segment `seq` (a body of a resident entry).
pub(crate) fn read_at(file: &File, offset: u64, len: u64, seq: u64) -> Result<Vec<u8>> {
    let mut bytes = vec![0; len as usize];
    file.read_exact_at(&mut bytes, offset)
        .ctx("read", Path::new(&format!("wal/{seq:016x}.wal")))?;
    Ok(bytes)
}

/// One valid record found by a scan.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// Where the body is within [`Scan::bytes`] (also its offset in the segment file).
    pub body: Range<usize>,
    /// The envelopes of the record's entries.
    pub metas: Vec<EntryMeta>,
}

/// What a scan of one segment found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The whole segment as read.
    pub bytes: Vec<u8>,
    /// The valid records, in log order.
    pub records: Vec<Scanned>,
    /// True when the segment ends in bytes that are not a valid record.
    pub torn: bool,
}

impl Scan {
    /// The body of a scanned record.
    pub fn body(&self, record: &Scanned) -> &[u8] {
        &self.bytes[record.body.clone()]
    }
}

/// Reads every valid record of a segment, stopping at the first invalid byte. A segment that
/// no longer exists (retired by a checkpoint meanwhile) scans as empty.
pub(crate) fn scan(path: &Path) -> Result<Scan> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Scan::default()),
        Err(err) => return Err(err).ctx("read", path),
    };
    let mut scan = Scan::default();
    if bytes.len() < HEADER.len() || &bytes[..HEADER.len()] != HEADER {
        // Created but its header never became durable: nothing in it was acknowledged.
        scan.torn = !bytes.is_empty();
        return Ok(scan);
    }
    let mut offset = HEADER.len();
    loop {
        match record::decode(&bytes[offset..]) {
            Decoded::Record { len, body, metas } => {
                scan.records.push(Scanned {
                    body: offset + body.start..offset + body.end,
                    metas,
                });
                offset += len;
            }
            Decoded::End => break,
            Decoded::Torn => {
                scan.torn = true;
                break;
            }
        }
    }
    scan.bytes = bytes;
    Ok(scan)
}
