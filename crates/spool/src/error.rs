//! The spool's error type: the variants are the cases a caller branches on.
//!
//! Errors are `Clone` because one failed group commit is reported to every waiter of the batch;
//! the underlying `io::Error` is shared behind an `Arc` for that reason. This module does not
//! decide what an error means to a client (the LMTP shell maps every spool error to a 4xx).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The result type of every fallible spool operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in the spool.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed (full disk, failing write or fsync, permissions, ...).
    #[error("spool I/O error: {op} {path}")]
    Io {
        /// The operation that failed, e.g. `"fdatasync"`.
        op: &'static str,
        /// The file or directory it was applied to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// An entry exists but cannot be trusted: bad JSON, unknown version, missing body or a body
    /// whose hash does not match its envelope. Its envelope has been moved to `corrupt/`.
    #[error("corrupt spool entry {id}: {reason}")]
    Corrupt {
        /// The entry id (or file name when no id could be read).
        id: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The entry is not in the stage (or anywhere) it was looked for.
    #[error("spool entry {0} not found")]
    NotFound(String),
    /// An entry with this id already exists (used for idempotent re-runs).
    #[error("spool entry {0} already exists")]
    Exists(String),
    /// A string is not a valid entry id.
    #[error("invalid spool entry id {0:?}")]
    InvalidId(String),
    /// A caller passed data the spool cannot store (e.g. a recipient line containing a newline).
    #[error("invalid spool input: {0}")]
    Invalid(String),
    /// Another process owns the write-ahead log (a second daemon on the same spool).
    #[error("the spool's write-ahead log is locked by another process")]
    Locked,
    /// The write-ahead log holds segments from an earlier run: call `Spool::recover` first.
    #[error("the spool's write-ahead log needs recovery before a committer can start")]
    NeedsRecovery,
    /// The entry is being changed elsewhere: another thread held it for longer than a caller
    /// waits, or it is still resident in the write-ahead log of a daemon running in another
    /// process (it becomes an ordinary file within seconds; try again then).
    #[error(
        "spool entry {0} is busy (still in the running daemon's write-ahead log); try again in a few seconds"
    )]
    Busy(String),
    /// The committer was shut down before this submission could be committed.
    #[error("the spool committer has shut down")]
    ShutDown,
}

impl Error {
    /// Wraps an `io::Error` with the operation and path it came from.
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }

    /// True when the error is a missing file or entry.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::NotFound(_) => true,
            Error::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// Adds the operation and path to an `io::Result`.
pub(crate) trait IoContext<T> {
    /// Converts the error into [`Error::Io`] naming `op` and `path`.
    fn ctx(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|source| Error::io(op, path, source))
    }
}
