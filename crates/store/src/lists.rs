//! Mailing lists: identity, settings document and per-list state.
//!
//! A list row holds its address (`list_name`, `mail_host`), its List-Id (unique too: `a.b@c`
//! and `a@b.c` would share one, so the second is refused), its settings as the JSON document
//! of `ListSettings::to_json()`, and the state Mailman keeps beside the settings (next post
//! number, digest volume and number, times). Removing a list removes its members, holds, bans,
//! bounce events, pending requests, autoresponse records and template overrides (foreign keys
//! cascade). This module does not interpret settings.

use jiff::Timestamp;
use mailcast_model::{DomainName, ListAddress, ListSettings};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::changes;
use crate::column::{RowExt, corrupt, id_text, list_address, micros, new_id, now};
use crate::error::{Error, Result, is_unique_violation};
use crate::store::Store;

/// A list with its settings and state.
#[derive(Debug, Clone, PartialEq)]
pub struct MailingList {
    /// Internal id (Mailman's list UUID).
    pub id: Uuid,
    /// The posting address, the list's identity.
    pub address: ListAddress,
    /// The RFC 2919 List-Id label, `name.domain`.
    pub list_id: String,
    /// Every setting.
    pub settings: ListSettings,
    /// Counters and times the server maintains.
    pub state: ListState,
}

/// What the server maintains about a list, beside its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListState {
    /// The number the next post gets (Mailman's `post_id`); starts at 1.
    pub post_id: u64,
    /// When the last post was numbered.
    pub last_post_at: Option<Timestamp>,
    /// When the list was created.
    pub created_at: Timestamp,
    /// Digest volume.
    pub volume: u64,
    /// Number of the next digest in the volume.
    pub next_digest_number: u64,
    /// When the last digest went out.
    pub digest_last_sent_at: Option<Timestamp>,
}

pub(crate) const LIST_COLUMNS: &str = "ml.id, ml.list_name, ml.mail_host, ml.list_id, ml.settings, \
    ml.post_id, ml.last_post_at, ml.created_at, ml.volume, ml.next_digest_number, \
    ml.digest_last_sent_at";

/// Parses a stored settings document.
pub(crate) fn parse_settings(list: &ListAddress, text: &str) -> Result<ListSettings> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|_| corrupt("settings of list", &list.to_string()))?;
    let map = doc
        .as_object()
        .ok_or_else(|| corrupt("settings of list", &list.to_string()))?;
    ListSettings::from_json(list, map)
        .map_err(|e| Error::Corrupt(format!("settings of list {list}: {e}")))
}

pub(crate) fn settings_text(settings: &ListSettings) -> String {
    serde_json::Value::Object(settings.to_json()).to_string()
}

pub(crate) fn list_from_row(row: &AnyRow) -> Result<MailingList> {
    let name: String = row.col("list_name")?;
    let mail_host: String = row.col("mail_host")?;
    let address = list_address(&name, &mail_host)?;
    let settings = parse_settings(&address, &row.col::<String>("settings")?)?;
    Ok(MailingList {
        id: row.uuid("id")?,
        list_id: row.col("list_id")?,
        settings,
        state: ListState {
            post_id: row.count("post_id")?,
            last_post_at: row.timestamp_opt("last_post_at")?,
            created_at: row.timestamp("created_at")?,
            volume: row.count("volume")?,
            next_digest_number: row.count("next_digest_number")?,
            digest_last_sent_at: row.timestamp_opt("digest_last_sent_at")?,
        },
        address,
    })
}

/// The stored id of a list, or NotFound.
pub(crate) async fn list_key(conn: &mut AnyConnection, list: &ListAddress) -> Result<String> {
    sqlx::query_scalar("SELECT id FROM mailinglist WHERE list_name = $1 AND mail_host = $2")
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| not_found(list))
}

pub(crate) fn not_found(list: &ListAddress) -> Error {
    Error::NotFound(format!("list {list}"))
}

impl Store {
    /// Creates a list with Mailman's default settings. DomainNotFound if its domain is not
    /// configured; Conflict if the list, or another list with the same List-Id, exists.
    pub async fn create_list(&self, list: &ListAddress) -> Result<MailingList> {
        let settings = ListSettings::defaults_for(list);
        let id = new_id();
        let created_at = now();
        let mut tx = self.begin_write().await?;
        let domain: Option<String> =
            sqlx::query_scalar("SELECT mail_host FROM domain WHERE mail_host = $1")
                .bind(list.domain().as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if domain.is_none() {
            return Err(Error::DomainNotFound(list.domain().clone()));
        }
        let clash: Option<AnyRow> = sqlx::query(
            "SELECT list_name, mail_host FROM mailinglist \
             WHERE (list_name = $1 AND mail_host = $2) OR list_id = $3",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .bind(list.list_id())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = clash {
            let other = list_address(
                &row.col::<String>("list_name")?,
                &row.col::<String>("mail_host")?,
            )?;
            return Err(Error::Conflict(if &other == list {
                format!("list {list} already exists")
            } else {
                format!("list {other} already has the List-Id {}", list.list_id())
            }));
        }
        let inserted = sqlx::query(
            "INSERT INTO mailinglist (id, list_name, mail_host, list_id, settings, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_text(id))
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .bind(list.list_id())
        .bind(settings_text(&settings))
        .bind(micros(created_at))
        .execute(&mut *tx)
        .await;
        match inserted {
            // Another process created it between our check and our insert (PostgreSQL).
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict(format!("list {list} already exists")));
            }
            other => other?,
        };
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(MailingList {
            id,
            address: list.clone(),
            list_id: list.list_id(),
            settings,
            state: ListState {
                post_id: 1,
                last_post_at: None,
                created_at,
                volume: 1,
                next_digest_number: 1,
                digest_last_sent_at: None,
            },
        })
    }

    /// Removes a list with its members, holds, bans, bounce events, pending requests,
    /// autoresponse records and template overrides. NotFound if absent.
    pub async fn remove_list(&self, list: &ListAddress) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let removed =
            sqlx::query("DELETE FROM mailinglist WHERE list_name = $1 AND mail_host = $2")
                .bind(list.name().as_str())
                .bind(list.domain().as_str())
                .execute(&mut *tx)
                .await?;
        if removed.rows_affected() == 0 {
            return Err(not_found(list));
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One list, with settings and state. NotFound if absent.
    pub async fn list(&self, list: &ListAddress) -> Result<MailingList> {
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM mailinglist ml WHERE ml.list_name = $1 AND ml.mail_host = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(list.name().as_str())
            .bind(list.domain().as_str())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| not_found(list))?;
        list_from_row(&row)
    }

    /// Every list, or those of one domain (DomainNotFound if it does not exist), ordered by
    /// mail host, then name.
    pub async fn lists(&self, domain: Option<&DomainName>) -> Result<Vec<MailingList>> {
        let rows = match domain {
            Some(domain) => {
                let mut conn = self.reader().acquire().await?;
                let exists: Option<String> =
                    sqlx::query_scalar("SELECT mail_host FROM domain WHERE mail_host = $1")
                        .bind(domain.as_str())
                        .fetch_optional(&mut *conn)
                        .await?;
                if exists.is_none() {
                    return Err(Error::DomainNotFound(domain.clone()));
                }
                let sql = format!(
                    "SELECT {LIST_COLUMNS} FROM mailinglist ml WHERE ml.mail_host = $1 \
                     ORDER BY ml.list_name"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(domain.as_str())
                    .fetch_all(&mut *conn)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {LIST_COLUMNS} FROM mailinglist ml ORDER BY ml.mail_host, ml.list_name"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(self.reader())
                    .await?
            }
        };
        rows.iter().map(list_from_row).collect()
    }

    /// Replaces a list's settings. NotFound if the list does not exist.
    pub async fn set_settings(&self, list: &ListAddress, settings: &ListSettings) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE mailinglist SET settings = $1 WHERE list_name = $2 AND mail_host = $3",
        )
        .bind(settings_text(settings))
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(not_found(list));
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the next post number of a list: atomically increments `post_id`, records
    /// `last_post_at`, and returns the number this post gets (1 for the first post).
    pub async fn next_post_number(&self, list: &ListAddress) -> Result<u64> {
        let taken: Option<i64> = sqlx::query_scalar(
            "UPDATE mailinglist SET post_id = post_id + 1, last_post_at = $1 \
             WHERE list_name = $2 AND mail_host = $3 RETURNING post_id - 1",
        )
        .bind(micros(now()))
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .fetch_optional(self.writer())
        .await?;
        let taken = taken.ok_or_else(|| not_found(list))?;
        u64::try_from(taken).map_err(|_| corrupt("post_id", &taken))
    }
}
