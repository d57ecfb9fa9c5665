//! Held posts: the moderation queue's index in the database.
//!
//! The message itself stays in the spool; a held row records which spool entry it is, the
//! facts a moderator sees (sender, subject, Message-ID, the reasons) and an integer request
//! id, as Mailman's REST API shows it. Holding is idempotent on the spool entry, so a runner
//! that crashes after holding and holds again gets the same request id. This module does not
//! approve or reject anything: the caller does, then removes the row.

use jiff::Timestamp;
use mailcast_model::ListAddress;
use sqlx::any::AnyRow;

use crate::column::{RowExt, corrupt, micros, now};
use crate::error::{Error, Result};
use crate::lists::list_key;
use crate::store::Store;

/// A post to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMessage {
    /// The spool entry holding the message.
    pub spool_id: String,
    /// The sender as the rules saw it.
    pub sender: String,
    /// The decoded Subject (empty if none).
    pub subject: String,
    /// The Message-ID.
    pub message_id: String,
    /// Why it is held, one human-readable reason per entry.
    pub reasons: Vec<String>,
}

/// A held post as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    /// Mailman's request id.
    pub request_id: u64,
    /// What was held.
    pub message: HeldMessage,
    /// When it was held.
    pub held_at: Timestamp,
}

const HELD_COLUMNS: &str = "id, spool_id, sender, subject, message_id, reasons, held_at";

fn held_from_row(row: &AnyRow) -> Result<HeldRecord> {
    let reasons: String = row.col("reasons")?;
    Ok(HeldRecord {
        request_id: row.count("id")?,
        message: HeldMessage {
            spool_id: row.col("spool_id")?,
            sender: row.col("sender")?,
            subject: row.col("subject")?,
            message_id: row.col("message_id")?,
            reasons: serde_json::from_str(&reasons).map_err(|_| corrupt("reasons", &reasons))?,
        },
        held_at: row.timestamp("held_at")?,
    })
}

fn request_not_found(list: &ListAddress, request_id: u64) -> Error {
    Error::NotFound(format!("held message {request_id} of list {list}"))
}

impl Store {
    /// Records a held post and returns its request id; holding the same spool entry again
    /// returns the first id. NotFound if the list does not exist.
    pub async fn hold(&self, list: &ListAddress, message: &HeldMessage) -> Result<u64> {
        let reasons = serde_json::Value::from(message.reasons.clone()).to_string();
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        sqlx::query(
            "INSERT INTO held_message \
             (mailinglist_id, spool_id, sender, subject, message_id, reasons, held_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (mailinglist_id, spool_id) DO NOTHING",
        )
        .bind(&key)
        .bind(&message.spool_id)
        .bind(&message.sender)
        .bind(&message.subject)
        .bind(&message.message_id)
        .bind(reasons)
        .bind(micros(now()))
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM held_message WHERE mailinglist_id = $1 AND spool_id = $2",
        )
        .bind(&key)
        .bind(&message.spool_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        u64::try_from(id).map_err(|_| corrupt("held_message.id", &id))
    }

    /// The held posts of a list, oldest first.
    pub async fn held(&self, list: &ListAddress) -> Result<Vec<HeldRecord>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let sql = format!(
            "SELECT {HELD_COLUMNS} FROM held_message WHERE mailinglist_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(held_from_row).collect()
    }

    /// One held post. NotFound if the list or the request does not exist.
    pub async fn get_held(&self, list: &ListAddress, request_id: u64) -> Result<HeldRecord> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let sql = format!(
            "SELECT {HELD_COLUMNS} FROM held_message WHERE mailinglist_id = $1 AND id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(i64::try_from(request_id).unwrap_or(-1))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| request_not_found(list, request_id))?;
        held_from_row(&row)
    }

    /// Forgets a held post (after it was approved, rejected or discarded). NotFound if absent.
    pub async fn remove_held(&self, list: &ListAddress, request_id: u64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let removed = sqlx::query("DELETE FROM held_message WHERE mailinglist_id = $1 AND id = $2")
            .bind(key)
            .bind(i64::try_from(request_id).unwrap_or(-1))
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(request_not_found(list, request_id));
        }
        tx.commit().await?;
        Ok(())
    }
}
