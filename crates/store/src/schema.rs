//! The logical schema as the database reports it, comparable across dialects.
//!
//! This exists so that a test can prove the SQLite and PostgreSQL migrations build the same
//! tables, columns (name, portable type, nullability, order) and named indexes; operators can
//! also use it to check a database. Primary-key indexes are left out because each dialect
//! names them its own way. It does not describe constraints beyond that.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;

use crate::column::RowExt;
use crate::error::Result;
use crate::store::{Backend, Store};

/// The portable type class of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnKind {
    /// INTEGER, BIGINT, SMALLINT.
    Integer,
    /// REAL, DOUBLE PRECISION.
    Real,
    /// TEXT, VARCHAR.
    Text,
    /// BLOB, BYTEA.
    Bytes,
    /// Anything else (the declared type, lower-cased).
    Other,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// Portable type class.
    pub kind: ColumnKind,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// Tables with their columns in declaration order, and the named (non-primary-key) indexes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogicalSchema {
    /// Table name → columns.
    pub tables: BTreeMap<String, Vec<ColumnSchema>>,
    /// Index names.
    pub indexes: BTreeSet<String>,
}

fn kind(declared: &str) -> ColumnKind {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "smallint" => ColumnKind::Integer,
        "real" | "double precision" => ColumnKind::Real,
        "text" | "character varying" => ColumnKind::Text,
        "blob" | "bytea" => ColumnKind::Bytes,
        _ => ColumnKind::Other,
    }
}

impl Store {
    /// Reads the logical schema of the database.
    pub async fn logical_schema(&self) -> Result<LogicalSchema> {
        let mut schema = LogicalSchema::default();
        let pool = self.reader();
        match self.backend() {
            Backend::Sqlite => {
                let tables = sqlx::query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .fetch_all(pool)
                .await?;
                for table in tables {
                    let table: String = table.col("name")?;
                    let columns = sqlx::query(
                        "SELECT name, type, \"notnull\" AS not_null, pk \
                         FROM pragma_table_info($1) ORDER BY cid",
                    )
                    .bind(&table)
                    .fetch_all(pool)
                    .await?;
                    let columns = columns
                        .iter()
                        .map(|c| {
                            let not_null: i64 = c.col("not_null")?;
                            let pk: i64 = c.col("pk")?;
                            Ok(ColumnSchema {
                                name: c.col("name")?,
                                kind: kind(&c.col::<String>("type")?),
                                nullable: not_null == 0 && pk == 0,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    schema.tables.insert(table, columns);
                }
                let indexes = sqlx::query(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
                )
                .fetch_all(pool)
                .await?;
                for index in indexes {
                    schema.indexes.insert(index.col("name")?);
                }
            }
            Backend::Postgres => {
                let columns = sqlx::query(
                    "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                     data_type::text AS data_type, is_nullable::text AS is_nullable \
                     FROM information_schema.columns WHERE table_schema = current_schema() \
                     ORDER BY table_name, ordinal_position",
                )
                .fetch_all(pool)
                .await?;
                for c in columns {
                    let table: String = c.col("table_name")?;
                    let nullable: String = c.col("is_nullable")?;
                    schema.tables.entry(table).or_default().push(ColumnSchema {
                        name: c.col("column_name")?,
                        kind: kind(&c.col::<String>("data_type")?),
                        nullable: nullable == "YES",
                    });
                }
                let indexes = sqlx::query(
                    "SELECT indexname::text AS name FROM pg_indexes \
                     WHERE schemaname = current_schema() AND indexname NOT LIKE '%\\_pkey' ESCAPE '\\'",
                )
                .fetch_all(pool)
                .await?;
                for index in indexes {
                    schema.indexes.insert(index.try_get("name")?);
                }
            }
        }
        Ok(schema)
    }
}
