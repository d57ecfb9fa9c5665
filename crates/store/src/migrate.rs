//! Our migrator: ordered SQL files per dialect, embedded in the binary, applied in one
//! transaction and recorded in `mailcast_schema`.
//!
//! Each migration exists once per dialect, `migrations/{sqlite,postgres}/NNNN_name.sql`, with
//! the same number and name; the test `migrations_produce_the_same_logical_schema` checks that
//! both produce the same tables, columns and indexes. Several processes may open a fresh
//! database at once: SQLite serialises them with `BEGIN IMMEDIATE`, PostgreSQL with a
//! transaction-scoped advisory lock. Migrations only go forward; there is no down-migration.

use jiff::Timestamp;
use sqlx::AnyConnection;
use sqlx::{Connection, Row};

use crate::column::micros;
use crate::error::{Error, Result};
use crate::store::{Backend, Store};

/// One schema change.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, oldest first. Append only; never edit one that has shipped.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "requests",
        sqlite: include_str!("../migrations/sqlite/0002_requests.sql"),
        postgres: include_str!("../migrations/postgres/0002_requests.sql"),
    },
    Migration {
        version: 3,
        name: "bounces",
        sqlite: include_str!("../migrations/sqlite/0003_bounces.sql"),
        postgres: include_str!("../migrations/postgres/0003_bounces.sql"),
    },
    Migration {
        version: 4,
        name: "roster order",
        sqlite: include_str!("../migrations/sqlite/0004_roster_order.sql"),
        postgres: include_str!("../migrations/postgres/0004_roster_order.sql"),
    },
    Migration {
        version: 5,
        name: "list archivers",
        sqlite: include_str!("../migrations/sqlite/0005_list_archivers.sql"),
        postgres: include_str!("../migrations/postgres/0005_list_archivers.sql"),
    },
    Migration {
        version: 6,
        name: "digests",
        sqlite: include_str!("../migrations/sqlite/0006_digests.sql"),
        postgres: include_str!("../migrations/postgres/0006_digests.sql"),
    },
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = 6;

/// Arbitrary key of the PostgreSQL advisory lock that serialises migrators.
const PG_MIGRATION_LOCK: i64 = 0x6d61_696c_6361_7374; // "mailcast"

const CREATE_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS mailcast_schema (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Makes sure the database has this build's schema: one query when it already does (every
/// open but the first), the migrator when it is older or empty, [`Error::SchemaTooNew`] when
/// a newer build has migrated it.
///
/// The check runs without a lock: migrations only go forward, so a database found current
/// stays current, and a migrator that finds work takes the lock and reads the version again.
pub(crate) async fn ensure(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    // Fails on a new database, where `mailcast_schema` does not exist yet: the migrator
    // creates it (and reports any other failure itself).
    match current_version(conn).await {
        Ok(SCHEMA_VERSION) => Ok(()),
        Ok(found) if found > SCHEMA_VERSION => Err(Error::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        }),
        Ok(_) | Err(_) => run(conn, backend).await,
    }
}

/// Applies every migration newer than the database's version, all in one transaction.
pub(crate) async fn run(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let mut tx = conn.begin_with(begin).await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS locked")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::raw_sql(CREATE_SCHEMA_TABLE).execute(&mut *tx).await?;
    let current = current_version(&mut tx).await?;
    if current > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO mailcast_schema (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(micros(Timestamp::now()))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn current_version(conn: &mut AnyConnection) -> Result<i64> {
    let row = sqlx::query("SELECT MAX(version) AS version FROM mailcast_schema")
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<Option<i64>, _>("version")?.unwrap_or(0))
}

impl Store {
    /// The schema version recorded in the database (the newest applied migration).
    pub async fn schema_version(&self) -> Result<i64> {
        let mut conn = self.reader().acquire().await?;
        current_version(&mut conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_end_at_schema_version() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            assert!(!m.sqlite.trim().is_empty() && !m.postgres.trim().is_empty());
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }
}
