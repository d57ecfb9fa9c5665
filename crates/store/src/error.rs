//! The store's error type: one variant per thing a caller branches on.
//!
//! Constraint violations that callers can provoke (a duplicate list, an unknown domain, ...)
//! are checked and reported as [`Error::NotFound`], [`Error::Conflict`] or
//! [`Error::DomainNotFound`] with a one-line text naming the object; everything else the
//! database reports is [`Error::Backend`] with the driver error as its source. This module
//! does not log: errors are logged once, where they are handled.

use mailcast_model::DomainName;

/// The result type of every store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named object (list, member, held message, ...) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation would duplicate an object or break a rule about existing objects.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The domain (mail host) is not configured.
    #[error("domain {0} does not exist")]
    DomainNotFound(DomainName),
    /// An argument is not acceptable (a malformed ban pattern, an unsupported URL, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database cannot be reached or opened. The URL has any password replaced by `***`.
    #[error("cannot open database {url_redacted}: {source}")]
    Unavailable {
        /// The database URL without its password.
        url_redacted: String,
        /// What the driver reported.
        #[source]
        source: sqlx::Error,
    },
    /// The database was migrated by a newer mailcast than this one.
    #[error("database schema version {found} is newer than this mailcast supports ({supported})")]
    SchemaTooNew {
        /// The version recorded in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A stored value no longer parses as its domain type (edited by hand, or a bug).
    #[error("corrupt data in the database: {0}")]
    Corrupt(String),
    /// Any other failure reported by the database driver.
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
}

/// Whether a driver error is a unique-constraint violation (both back ends).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}
