//! The [`Store`] handle: opening a database by URL, its connection pools and transactions.
//!
//! One code path serves both back ends through sqlx's `Any` driver; the only per-back-end
//! decisions live here (connection set-up, how a write transaction begins) and in the two
//! migration directories. SQLite is opened with WAL, `synchronous=NORMAL`, a busy timeout and
//! foreign keys, and writes go through a one-connection pool and `BEGIN IMMEDIATE`, so that
//! neither this process nor another one sharing the file gets "database is locked" under
//! ordinary contention.
//!
//! Two footprints ([`Footprint`]): the daemon keeps pools of several connections; a
//! short-lived process (a CLI command, `mailcast inject` run by the MTA for every message)
//! opens at most one connection for reads and one for writes, each on first use, so that a
//! command that only reads opens exactly one. Opening checks the schema version with one
//! query and runs the migrator only when the database is older than this build (or new).
//! This module does not contain any domain SQL.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};

use crate::error::{Error, Result};
use crate::migrate;

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening the store waits for the database to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an operation waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Page cache per SQLite connection, in KiB (SQLite's default is 2 MiB). Five connections
/// share the file, and the kernel's page cache sits behind them, so each keeps a modest one:
/// the daemon's resident memory stays well under 100 MB with a 100,000-member list.
const CACHE_KIB: u32 = 8 * 1024;
/// Reader connections for SQLite (writes have their own single connection).
const SQLITE_READERS: u32 = 4;
/// Connections per process for PostgreSQL.
const POSTGRES_CONNECTIONS: u32 = 10;

/// How many connections a [`Store`] keeps, by the kind of process that opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Footprint {
    /// A long-running process (the daemon): pools of several connections, reused for its
    /// whole life (on SQLite four readers and one writer, on PostgreSQL ten).
    Daemon,
    /// A short-lived process that runs a few statements and exits (a CLI command, `mailcast
    /// inject`): at most one connection for reads and one for writes, each opened when first
    /// needed; the connection that checked the schema serves the first reads.
    Command,
}

impl Footprint {
    /// The most connections for reads, and how long an operation waits for one.
    fn readers(self, backend: Backend) -> (u32, Duration) {
        match (self, backend) {
            (Footprint::Command, _) => (1, CONNECT_TIMEOUT),
            (Footprint::Daemon, Backend::Sqlite) => (SQLITE_READERS, ACQUIRE_TIMEOUT),
            (Footprint::Daemon, Backend::Postgres) => (POSTGRES_CONNECTIONS, ACQUIRE_TIMEOUT),
        }
    }
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An SQLite file (`sqlite:path`).
    Sqlite,
    /// A PostgreSQL server (`postgres://...`).
    Postgres,
}

impl Backend {
    /// Both back ends, SQLite first.
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// The back end a database URL selects, if any.
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A handle on the database. Cloning is cheap and shares the connection pools.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// Pool for reads (and, on PostgreSQL, for everything).
    read: AnyPool,
    /// Pool for write transactions: one connection on SQLite, the read pool on PostgreSQL.
    write: AnyPool,
    /// Compiled `^regex` ban patterns (`None`: the pattern does not compile).
    ban_patterns: Mutex<HashMap<String, Option<Arc<regex::Regex>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite:path` or `postgres://...`) for the daemon
    /// ([`Footprint::Daemon`]), creating an SQLite file and its parent directory on first use,
    /// and applies pending migrations.
    ///
    /// The URL is used as given: relative SQLite paths are relative to the current directory.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, Footprint::Daemon).await
    }

    /// Opens the database for a short-lived process ([`Footprint::Command`]): otherwise as
    /// [`Store::open`].
    pub async fn open_for_command(url: &str) -> Result<Store> {
        Store::open_with(url, Footprint::Command).await
    }

    /// Opens the database at `url` with the pools `footprint` asks for. The schema version is
    /// checked with one query; the migrator runs only when the database is older than this
    /// build or empty, and an error says so when it is newer.
    pub async fn open_with(url: &str, footprint: Footprint) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            Error::Invalid(format!(
                "unsupported database URL {}: use sqlite:PATH or postgres://...",
                redact_url(url)
            ))
        })?;
        let unavailable = |source| Error::Unavailable {
            url_redacted: redact_url(url),
            source,
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let (max_readers, acquire_timeout) = footprint.readers(backend);
        let store = match backend {
            Backend::Sqlite => {
                // The pools' first connection checks the schema and then serves reads: an
                // SQLite connection costs a file open and a schema parse, so a command that
                // reads once opens exactly one. Opening a file fails at once (no retries).
                let store = Store::with_pools(
                    backend,
                    sqlite_pool(max_readers, acquire_timeout).connect_lazy(&url)?,
                    sqlite_pool(1, acquire_timeout).connect_lazy(&url)?,
                );
                let mut conn = within_connect_timeout(store.inner.read.acquire())
                    .await
                    .map_err(unavailable)?;
                migrate::ensure(&mut conn, backend).await?;
                store
            }
            Backend::Postgres => {
                // One direct connection first: it fails fast when the server is down (a pool
                // would retry a refused connection until its acquire timeout).
                let mut first = within_connect_timeout(AnyConnection::connect(&url))
                    .await
                    .map_err(unavailable)?;
                migrate::ensure(&mut first, backend).await?;
                first.close().await?;
                let pool = AnyPoolOptions::new()
                    .max_connections(max_readers)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy(&url)?;
                Store::with_pools(backend, pool.clone(), pool)
            }
        };
        Ok(store)
    }

    fn with_pools(backend: Backend, read: AnyPool, write: AnyPool) -> Store {
        Store {
            inner: Arc::new(Inner {
                backend,
                read,
                write,
                ban_patterns: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Which back end this store uses.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Closes every connection; pending operations finish first. Other clones become unusable.
    pub async fn close(&self) {
        self.inner.write.close().await;
        self.inner.read.close().await;
    }

    /// The pool for reads.
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.inner.read
    }

    /// The pool for single-statement writes outside a transaction.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.inner.write
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), waiting up to the busy timeout, so that it can never fail later when a
    /// read lock would have to be upgraded.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        let begin = match self.inner.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        Ok(self.inner.write.begin_with(begin).await?)
    }

    /// Begins a read-only transaction that sees one consistent snapshot.
    pub(crate) async fn begin_snapshot(&self) -> Result<Transaction<'static, Any>> {
        let begin = match self.inner.backend {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        Ok(self.inner.read.begin_with(begin).await?)
    }

    /// The compiled form of a `^regex` ban pattern, cached; `None` if it does not compile.
    pub(crate) fn ban_regex(&self, pattern: &str) -> Option<Arc<regex::Regex>> {
        // A poisoned lock only means another thread panicked while inserting; the map is
        // still a valid cache.
        let mut cache = self
            .inner
            .ban_patterns
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(pattern) {
            return hit.clone();
        }
        if cache.len() >= 4096 {
            cache.clear();
        }
        let compiled = crate::bans::compile_pattern(pattern).ok().map(Arc::new);
        cache.insert(pattern.to_string(), compiled.clone());
        compiled
    }
}

/// Waits at most [`CONNECT_TIMEOUT`] for a connection.
async fn within_connect_timeout<C>(
    connect: impl std::future::Future<Output = Result<C, sqlx::Error>>,
) -> Result<C, sqlx::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        ))),
    }
}

fn sqlite_pool(max_connections: u32, acquire_timeout: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .after_connect(|conn, _meta| Box::pin(async move { configure_sqlite(conn).await }))
}

/// Per-connection SQLite settings. WAL is a property of the file, set by the first connection;
/// switching to it needs an exclusive lock that the busy timeout does not wait for, so two
/// processes creating the file at once retry briefly.
async fn configure_sqlite(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let busy = format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
         PRAGMA cache_size = -{CACHE_KIB};",
        BUSY_TIMEOUT.as_millis()
    );
    conn.execute(sqlx::AssertSqlSafe(busy)).await?;
    let mut attempt = 0;
    loop {
        let mode: Result<String, sqlx::Error> = sqlx::query_scalar("PRAGMA journal_mode = WAL")
            .fetch_one(&mut *conn)
            .await;
        match mode {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(sqlx::Error::Configuration(
                    format!("SQLite refused WAL journal mode (got {mode})").into(),
                ));
            }
            Err(_) if attempt < 50 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Checks an `sqlite:` URL, creates the parent directory, and asks for the file to be created
/// (`mode=rwc`) unless the URL already sets a mode.
fn prepare_sqlite_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" || query.is_some_and(|q| q.contains("mode=memory")) {
        return Err(Error::Invalid(format!(
            "{url}: an SQLite database must be a file (the daemon and the CLI share it)"
        )));
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| Error::Unavailable {
            url_redacted: url.to_string(),
            source: sqlx::Error::Io(e),
        })?;
    }
    Ok(match query {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => url.to_string(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    })
}

/// The URL with the password of its user-info part, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:***{}",
        &url[..authority_start],
        &authority[..colon],
        &url[authority_start + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_only_the_password() {
        assert_eq!(
            redact_url("postgres://mailcast:s3cr:et@db.example:5432/mc?sslmode=require"),
            "postgres://mailcast:***@db.example:5432/mc?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://mailcast@db/mc"),
            "postgres://mailcast@db/mc"
        );
        assert_eq!(redact_url("postgres://db/mc"), "postgres://db/mc");
        assert_eq!(
            redact_url("sqlite:var/mailcast.db"),
            "sqlite:var/mailcast.db"
        );
    }

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(Backend::from_url("sqlite:var/x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("sqlite:///abs/x.db"),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://h/db"), None);
    }

    #[test]
    fn sqlite_url_gets_create_mode_and_memory_is_refused() {
        let dir = std::env::temp_dir().join(format!("mailcast-url-{}", std::process::id()));
        let url = format!("sqlite:{}/sub/x.db", dir.display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.join("sub").is_dir());
        let ro = format!("{url}?mode=ro");
        assert_eq!(prepare_sqlite_url(&ro).unwrap(), ro);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            prepare_sqlite_url("sqlite::memory:"),
            Err(Error::Invalid(_))
        ));
    }
}
