//! Every write and sync the spool makes goes through [`Disk`], which adds the path to errors,
//! honours the test-only "no fsync" switch and consults the fault injector.
//!
//! [`FaultInjector`] is the seam for failure tests: it makes the Nth write fail with `ENOSPC`
//! or the Nth fsync/fdatasync/syncfs fail with `EIO`. This module does not know the spool
//! layout and never retries a failed sync (after a failed fsync the kernel may have dropped the
//! dirty pages, so a retry could succeed falsely: PostgreSQL's "fsyncgate").

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{IoContext, Result};

/// Makes chosen writes or syncs fail, for tests of the failure paths.
///
/// Only the spool's own writes count (log appends, entry files, progress and consumed logs);
/// the operator-facing `Options::faults` is the way to install one.
///
/// Counters start when the injector is created; `fail_write(n)` makes the n-th write *from the
/// time of the call* fail (1 = the next one). Each armed failure fires once.
#[derive(Debug, Default)]
pub struct FaultInjector {
    writes: AtomicU64,
    syncs: AtomicU64,
    fail_write_at: AtomicU64,
    fail_sync_at: AtomicU64,
    disk_full: AtomicBool,
}

impl FaultInjector {
    /// A new injector with nothing armed.
    pub fn new() -> Arc<FaultInjector> {
        Arc::new(FaultInjector::default())
    }

    /// Makes the n-th write from now fail with `ENOSPC` (n ≥ 1).
    pub fn fail_write(&self, n: u64) {
        let now = self.writes.load(Ordering::SeqCst);
        self.fail_write_at.store(now + n.max(1), Ordering::SeqCst);
    }

    /// Makes the n-th fsync, fdatasync or syncfs from now fail with `EIO` (n ≥ 1).
    pub fn fail_sync(&self, n: u64) {
        let now = self.syncs.load(Ordering::SeqCst);
        self.fail_sync_at.store(now + n.max(1), Ordering::SeqCst);
    }

    /// While `full` is true every write fails with `ENOSPC` (a full disk that stays full).
    pub fn set_disk_full(&self, full: bool) {
        self.disk_full.store(full, Ordering::SeqCst);
    }

    /// How many writes and syncs have been made so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.writes.load(Ordering::SeqCst),
            self.syncs.load(Ordering::SeqCst),
        )
    }

    fn on_write(&self) -> io::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(
                rustix::io::Errno::NOSPC.raw_os_error(),
            ));
        }
        fire(&self.fail_write_at, n, rustix::io::Errno::NOSPC)
    }

    fn on_sync(&self) -> io::Result<()> {
        let n = self.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        fire(&self.fail_sync_at, n, rustix::io::Errno::IO)
    }
}

/// Fails once when `n` reaches the armed count.
fn fire(armed: &AtomicU64, n: u64, errno: rustix::io::Errno) -> io::Result<()> {
    if armed
        .compare_exchange(n, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        return Err(io::Error::from_raw_os_error(errno.raw_os_error()));
    }
    Ok(())
}

/// The spool's access to the file system for writes and syncs.
#[derive(Debug, Clone)]
pub(crate) struct Disk {
    /// False only in tests and benchmarks that trade durability for speed.
    pub fsync: bool,
    /// Armed failures, if any.
    pub faults: Option<Arc<FaultInjector>>,
}

impl Disk {
    fn check_write(&self) -> io::Result<()> {
        self.faults.as_ref().map_or(Ok(()), |f| f.on_write())
    }

    fn check_sync(&self) -> io::Result<()> {
        self.faults.as_ref().map_or(Ok(()), |f| f.on_sync())
    }

    /// Writes all of `bytes` to `file`.
    pub fn write_all(&self, file: &mut File, bytes: &[u8], path: &Path) -> Result<()> {
        self.check_write()
            .and_then(|()| file.write_all(bytes))
            .ctx("write", path)
    }

    /// Writes all of `chunks` to `file`, in order, with vectored writes (one `writev` per
    /// 512 chunks when the kernel takes everything at once).
    pub fn write_all_vectored(&self, file: &mut File, chunks: &[&[u8]], path: &Path) -> Result<()> {
        self.check_write().ctx("write", path)?;
        for group in chunks.chunks(512) {
            let mut slices: Vec<IoSlice<'_>> = group.iter().map(|c| IoSlice::new(c)).collect();
            let mut slices = &mut slices[..];
            IoSlice::advance_slices(&mut slices, 0);
            while !slices.is_empty() {
                match file.write_vectored(slices) {
                    Ok(0) => {
                        return Err(io::Error::from(io::ErrorKind::WriteZero)).ctx("write", path);
                    }
                    Ok(n) => IoSlice::advance_slices(&mut slices, n),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(err).ctx("write", path),
                }
            }
        }
        Ok(())
    }

    /// `fdatasync(2)`: the file's data and the metadata needed to read it back.
    pub fn sync_data(&self, file: &File, path: &Path) -> Result<()> {
        if !self.fsync {
            return Ok(());
        }
        self.check_sync()
            .and_then(|()| file.sync_data())
            .ctx("fdatasync", path)
    }

    /// `fsync(2)` of a file.
    pub fn sync_all(&self, file: &File, path: &Path) -> Result<()> {
        if !self.fsync {
            return Ok(());
        }
        self.check_sync()
            .and_then(|()| file.sync_all())
            .ctx("fsync", path)
    }

    /// `fsync(2)` of a directory, making the names created or removed in it durable.
    pub fn sync_dir(&self, dir: &Path) -> Result<()> {
        if !self.fsync {
            return Ok(());
        }
        self.check_sync()
            .and_then(|()| File::open(dir)?.sync_all())
            .ctx("fsync directory", dir)
    }

    /// `syncfs(2)`: everything written to the file system holding `dir`.
    pub fn syncfs(&self, dir: &Path) -> Result<()> {
        if !self.fsync {
            return Ok(());
        }
        self.check_sync()
            .and_then(|()| {
                let handle = File::open(dir)?;
                rustix::fs::syncfs(&handle).map_err(io::Error::from)
            })
            .ctx("syncfs", dir)
    }

    /// Creates (or truncates) `path` with `bytes`; with `sync`, fsyncs it before returning.
    pub fn write_file(&self, path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
        let mut file = File::create(path).ctx("create", path)?;
        self.write_all(&mut file, bytes, path)?;
        if sync {
            self.sync_data(&file, path)?;
        }
        Ok(())
    }

    /// Opens `path` for appending, creating it if needed.
    pub fn open_append(&self, path: &Path) -> Result<File> {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .ctx("open for append", path)
    }
}

/// Renames `from` to `to`, replacing `to`.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).ctx("rename", from)
}

/// Removes a file; a file that is already gone is not an error.
pub(crate) fn remove_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).ctx("unlink", path),
    }
}

/// Reads a whole file; `Ok(None)` when it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).ctx("read", path),
    }
}
