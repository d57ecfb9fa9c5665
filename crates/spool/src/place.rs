//! Putting an entry's files in place.
//!
//! An envelope is valid only once it appears under its final name complete, so a reader never
//! sees a partial one. The body is always in place before the envelope that refers to it, and
//! a body is only ever read through its envelope and checked against the envelope's hash. The
//! envelopes of one submission share one body inode through hard links (each entry has its own
//! `messages/<hh>/<id>.eml` name, so removing one entry never affects another and no reference
//! count is kept).
//!
//! Two ways of writing:
//! - **durable paths** (direct commits, runner entries, moves): write to `tmp/`, optionally
//!   fsync, rename into place (replacing whatever was there);
//! - **the materializer** ([`write_fresh_body`], [`write_fresh_envelope`]), for entries whose
//!   record is still in the write-ahead log: the body is written straight under its final name
//!   (nothing refers to it until the envelope exists; a crash leaves at worst a partial body
//!   that recovery rewrites from the log), and the envelope is written to an anonymous
//!   `O_TMPFILE` in its bucket directory and linked into place, so no directory sees a
//!   temporary name and nothing is left behind by a crash. Measured on this machine
//!   (`benches/commit.rs`, part (e)), this costs about half the CPU of `tmp/` plus a
//!   cross-directory rename. Where `O_TMPFILE` or `/proc/self/fd` is not available, the
//!   envelope falls back to `tmp/` and a rename.
//!
//! Whether anything is synced is the caller's choice; this module does not decide durability
//! policy.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};

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

/// Writes `bytes` as the body of `id` directly under its final name, without fsync (for the
/// materializer: the write-ahead log still holds the body). A stale file of that name (a
/// failed earlier attempt) is replaced, never written through: it may be a hard link.
pub(crate) fn write_fresh_body(
    layout: &Layout,
    disk: &Disk,
    id: &EntryId,
    bytes: &[u8],
) -> Result<()> {
    layout.ensure_messages_bucket(id, disk)?;
    let path = layout.body_path(id);
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
    };
    let mut file = match open() {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            disk::remove_if_exists(&path)?;
            open().ctx("create", &path)?
        }
        Err(err) => return Err(err).ctx("create", &path),
    };
    if let Err(err) = disk.write_all(&mut file, bytes, &path) {
        let _ = fs::remove_file(&path); // Best effort; a partial body is never read as valid.
        return Err(err);
    }
    Ok(())
}

/// Whether `O_TMPFILE` plus `linkat` through `/proc/self/fd` works here (cleared at the first
/// failure that says it does not).
static ANONYMOUS_FILES: AtomicBool = AtomicBool::new(true);

/// Writes the envelope `meta` into `stage` without fsync, for an entry that has no envelope
/// yet (the materializer): an anonymous file in the bucket directory, linked into place.
pub(crate) fn write_fresh_envelope(
    layout: &Layout,
    disk: &Disk,
    stage: Stage,
    meta: &EntryMeta,
) -> Result<()> {
    layout.ensure_stage_bucket(stage, &meta.id, disk)?;
    let target = layout.envelope_path(stage, &meta.id);
    let json = meta.to_json();
    if ANONYMOUS_FILES.load(Ordering::Relaxed) {
        match link_anonymous(disk, &target, &json) {
            Ok(()) => return Ok(()),
            Err(Anonymous::Unsupported(err)) => {
                tracing::info!(error = %err, "O_TMPFILE is not usable here; envelopes go through tmp/");
                ANONYMOUS_FILES.store(false, Ordering::Relaxed);
            }
            Err(Anonymous::Exists) => {} // Replace it the ordinary way below.
            Err(Anonymous::Failed(err)) => return Err(err),
        }
    }
    write_then_rename(layout, disk, &meta.id, &json, false, &target)
}

enum Anonymous {
    /// The file system or the system does not offer it.
    Unsupported(io::Error),
    /// The target name exists already.
    Exists,
    /// A real failure (full disk, ...).
    Failed(crate::error::Error),
}

fn link_anonymous(disk: &Disk, target: &Path, bytes: &[u8]) -> Result<(), Anonymous> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let fd = match rustix::fs::openat(
        CWD,
        dir,
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    ) {
        Ok(fd) => fd,
        Err(errno) if errno == rustix::io::Errno::NOSPC => {
            return Err(Anonymous::Failed(crate::error::Error::io(
                "create",
                target,
                errno.into(),
            )));
        }
        Err(errno) => return Err(Anonymous::Unsupported(errno.into())),
    };
    let mut file = File::from(fd);
    disk.write_all(&mut file, bytes, target)
        .map_err(Anonymous::Failed)?;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    match rustix::fs::linkat(
        CWD,
        proc_path.as_str(),
        CWD,
        target,
        AtFlags::SYMLINK_FOLLOW,
    ) {
        Ok(()) => Ok(()),
        Err(errno) if errno == rustix::io::Errno::EXIST => Err(Anonymous::Exists),
        Err(errno)
            if errno == rustix::io::Errno::NOENT
                || errno == rustix::io::Errno::PERM
                || errno == rustix::io::Errno::ACCESS =>
        {
            Err(Anonymous::Unsupported(errno.into()))
        }
        Err(errno) => Err(Anonymous::Failed(crate::error::Error::io(
            "link",
            target,
            errno.into(),
        ))),
    }
}
