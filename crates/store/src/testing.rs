//! Test support (cargo feature `testing`): a fresh database per test on either back end, and
//! [`backend_tests!`](crate::backend_tests) to run each test on both.
//!
//! SQLite gets a file in a new temporary directory. PostgreSQL gets a new database
//! `mailcast_t_<pid>_<n>` on the server named by `MAILCAST_TEST_POSTGRES_URL` (default
//! `postgres://mailcast:mailcast@127.0.0.1:5432/postgres`), dropped when the [`TestDb`] is
//! dropped. If that server cannot be reached, a test on PostgreSQL fails when `CI=true` and is
//! otherwise skipped with a loud warning. Not for production code.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use crate::store::{Backend, Store, redact_url};

/// The environment variable naming the PostgreSQL server for tests (an administrative URL
/// whose role may create databases).
pub const POSTGRES_URL_ENV: &str = "MAILCAST_TEST_POSTGRES_URL";
/// The server used when [`POSTGRES_URL_ENV`] is not set (what `scripts/postgres-up.sh` makes).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://mailcast:mailcast@127.0.0.1:5432/postgres";

static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty database for one test; removed on drop.
pub struct TestDb {
    backend: Backend,
    url: String,
    guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, database: String },
}

impl TestDb {
    /// Creates a fresh database, or returns `None` (after a warning) when PostgreSQL is not
    /// reachable outside CI. Panics when it is not reachable and `CI=true`.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                // Test set-up: a temporary directory that cannot be created is a broken machine.
                let dir = tempfile::tempdir().expect("creating a temporary directory");
                let url = format!("sqlite:{}", dir.path().join("mailcast.db").display());
                Some(TestDb {
                    backend,
                    url,
                    guard: Guard::Sqlite(dir),
                })
            }
            Backend::Postgres => Self::new_postgres().await,
        }
    }

    async fn new_postgres() -> Option<TestDb> {
        let admin_url =
            std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
        sqlx::any::install_default_drivers();
        let connected =
            tokio::time::timeout(Duration::from_secs(5), AnyConnection::connect(&admin_url)).await;
        let mut admin = match connected {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return unreachable_postgres(&admin_url, &e.to_string()),
            Err(_) => return unreachable_postgres(&admin_url, "timed out after 5 s"),
        };
        let database = format!(
            "mailcast_t_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
        );
        // The name is built from numbers only, so it is safe to format into SQL.
        for sql in [
            format!("DROP DATABASE IF EXISTS {database}"),
            format!("CREATE DATABASE {database}"),
        ] {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await {
                panic!(
                    "creating test database {database} on {}: {e}",
                    redact_url(&admin_url)
                );
            }
        }
        let _ = admin.close().await;
        Some(TestDb {
            backend: Backend::Postgres,
            url: with_database(&admin_url, &database),
            guard: Guard::Postgres {
                admin_url,
                database,
            },
        })
    }

    /// The back end.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL, for [`Store::open`] or for a program under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a new [`Store`] on this database (a separate connection pool each time, as
    /// another process would have). Panics on failure.
    pub async fn open(&self) -> Store {
        match Store::open(&self.url).await {
            Ok(store) => store,
            Err(e) => panic!("opening test database {}: {e}", redact_url(&self.url)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Guard::Postgres {
            admin_url,
            database,
        } = &self.guard
        else {
            return;
        };
        let (admin_url, database) = (admin_url.clone(), database.clone());
        let name = database.clone();
        // Drop may run inside a runtime (end of an async test); use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = AnyConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                // FORCE ends connections a test left open; it cannot end an autovacuum
                // worker without extra privileges, but a plain DROP waits for one to go.
                let mut last_error = String::new();
                for attempt in 0..20 {
                    let sql = if attempt % 2 == 0 {
                        format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                    } else {
                        format!("DROP DATABASE IF EXISTS {database}")
                    };
                    match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await {
                        Ok(_) => {
                            last_error.clear();
                            break;
                        }
                        Err(e) => last_error = e.to_string(),
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                if !last_error.is_empty() {
                    return Err(last_error);
                }
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("warning: could not drop test database {name}: {e}");
        }
    }
}

/// Creates a fresh database on `backend` and runs `test` with it; skips as [`TestDb::new`]
/// does. This is what [`backend_tests!`](crate::backend_tests) calls.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(db) = TestDb::new(backend).await {
        test(db).await;
    }
}

fn unreachable_postgres(admin_url: &str, reason: &str) -> Option<TestDb> {
    let url = redact_url(admin_url);
    let help = format!(
        "PostgreSQL is not reachable at {url} ({reason}).\n\
         Start one with `sudo scripts/postgres-up.sh`, or set {POSTGRES_URL_ENV} to a server \
         whose role may create databases."
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{help}");
    }
    eprintln!(
        "\n**********************************************************************\n\
         WARNING: skipping a PostgreSQL store test.\n{help}\n\
         **********************************************************************\n"
    );
    None
}

/// The URL with its database (path) replaced, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    match query {
        Some(query) => format!("{}/{database}?{query}", &base[..path]),
        None => format!("{}/{database}", &base[..path]),
    }
}

/// Declares each named `async fn(TestDb)` as two tests, `sqlite::<name>` and
/// `postgres::<name>`. The calling crate needs `tokio` (with its macros) as a dependency.
///
/// ```ignore
/// async fn lists_are_created(db: TestDb) { let store = db.open().await; /* ... */ }
/// mailcast_store::backend_tests!(lists_are_created);
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::testing::run($crate::Backend::Sqlite, super::$test).await;
                }
            )+
        }
        mod postgres {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::testing::run($crate::Backend::Postgres, super::$test).await;
                }
            )+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u:p@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    }
}
