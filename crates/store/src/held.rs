//! Held posts: the moderation queue's index in the database.
//!
//! The message itself stays in the spool of one mailcast node; a held row records which node
//! and spool entry it is, the facts a moderator sees (sender, subject, Message-ID, the
//! reasons), an integer request id, as Mailman's REST API shows it, and the token of the
//! moderators' notice (`""` for none; otherwise unique). Holding is idempotent on the spool
//! entry, so a runner that crashes after holding and holds again gets the same request id.
//!
//! A moderator's decision may be taken anywhere (the CLI, the REST API, a reply to the
//! notice): it is recorded once on the row ([`Store::record_held_decision`], which bumps the
//! change counter), and the node holding the post finds it with [`Store::decided_held`],
//! carries it out and removes the row. This module does not approve or reject anything.

use jiff::Timestamp;
use mailcast_model::{Action, ListAddress};
use sqlx::any::AnyRow;

use crate::changes;
use crate::column::{RowExt, corrupt, list_address, micros, now};
use crate::error::{Error, Result, is_unique_violation};
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
    /// The confirmation token in the moderators' notice (`""` for none); unique when set.
    pub token: String,
    /// Which mailcast node's local spool holds the post.
    pub node: String,
}

/// A held post as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    /// The list the post was sent to.
    pub list: ListAddress,
    /// Mailman's request id.
    pub request_id: u64,
    /// What was held.
    pub message: HeldMessage,
    /// When it was held.
    pub held_at: Timestamp,
    /// The moderator's decision, once one is recorded and until the row is removed.
    pub decision: Option<HeldDecision>,
}

/// A moderator's decision on a held post, waiting to be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDecision {
    /// Accept, Reject, Discard or Defer (never Hold).
    pub action: Action,
    /// The moderator's reason (for a rejection notice), if given.
    pub reason: Option<String>,
    /// When the decision was taken (stored to the microsecond).
    pub decided_at: Timestamp,
}

/// Selects held rows with their list's address; callers add the conditions on `h`.
const HELD_SELECT: &str = "SELECT h.id, h.spool_id, h.sender, h.subject, h.message_id, \
    h.reasons, h.held_at, h.token, h.node, h.decision, h.decision_reason, h.decided_at, \
    ml.list_name, ml.mail_host \
    FROM held_message h JOIN mailinglist ml ON ml.id = h.mailinglist_id";

fn held_from_row(row: &AnyRow) -> Result<HeldRecord> {
    let reasons: String = row.col("reasons")?;
    let decision = match row.col::<Option<String>>("decision")? {
        None => None,
        Some(action) => Some(HeldDecision {
            action: Action::parse(&action)
                .map_err(|_| corrupt("held_message.decision", &action))?,
            reason: row.col("decision_reason")?,
            decided_at: row
                .timestamp_opt("decided_at")?
                .ok_or_else(|| corrupt("held_message.decided_at", &"NULL"))?,
        }),
    };
    Ok(HeldRecord {
        list: list_address(
            &row.col::<String>("list_name")?,
            &row.col::<String>("mail_host")?,
        )?,
        request_id: row.count("id")?,
        message: HeldMessage {
            spool_id: row.col("spool_id")?,
            sender: row.col("sender")?,
            subject: row.col("subject")?,
            message_id: row.col("message_id")?,
            reasons: serde_json::from_str(&reasons).map_err(|_| corrupt("reasons", &reasons))?,
            token: row.col("token")?,
            node: row.col("node")?,
        },
        held_at: row.timestamp("held_at")?,
        decision,
    })
}

fn request_not_found(list: &ListAddress, request_id: u64) -> Error {
    Error::NotFound(format!("held message {request_id} of list {list}"))
}

/// A request id as bound to a query (ids beyond `i64` match no row).
fn id_param(request_id: u64) -> i64 {
    i64::try_from(request_id).unwrap_or(-1)
}

impl Store {
    /// Records a held post and returns its request id. Holding the same spool entry again
    /// returns the first id and keeps the first token and node ([`Store::get_held`] reads
    /// them). NotFound if the list does not exist; Conflict if another held post has the
    /// same non-empty token.
    pub async fn hold(&self, list: &ListAddress, message: &HeldMessage) -> Result<u64> {
        let reasons = serde_json::Value::from(message.reasons.clone()).to_string();
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let inserted = sqlx::query(
            "INSERT INTO held_message (mailinglist_id, spool_id, sender, subject, message_id, \
             reasons, held_at, token, node) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (mailinglist_id, spool_id) DO NOTHING",
        )
        .bind(&key)
        .bind(&message.spool_id)
        .bind(&message.sender)
        .bind(&message.subject)
        .bind(&message.message_id)
        .bind(reasons)
        .bind(micros(now()))
        .bind(&message.token)
        .bind(&message.node)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict(format!(
                    "the token of held message {} of list {list} is already in use",
                    message.spool_id
                )));
            }
            other => other?,
        };
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

    /// The held posts of a list, oldest first, decided or not. NotFound if the list does not
    /// exist.
    pub async fn held(&self, list: &ListAddress) -> Result<Vec<HeldRecord>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let sql = format!("{HELD_SELECT} WHERE h.mailinglist_id = $1 ORDER BY h.id");
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
        let sql = format!("{HELD_SELECT} WHERE h.mailinglist_id = $1 AND h.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(id_param(request_id))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| request_not_found(list, request_id))?;
        held_from_row(&row)
    }

    /// The held post whose moderators' notice carries `token`, on any list. NotFound for the
    /// empty token or an unknown one.
    pub async fn held_by_token(&self, token: &str) -> Result<HeldRecord> {
        // Tokens are secrets mailed to the moderators: errors do not repeat them.
        let not_found = || Error::NotFound("held message with that token".into());
        if token.is_empty() {
            return Err(not_found());
        }
        let sql = format!("{HELD_SELECT} WHERE h.token = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(not_found)?;
        held_from_row(&row)
    }

    /// Records a moderator's decision on a held post, unless one is recorded already
    /// (Conflict, naming it). NotFound if the list or the request does not exist; Invalid for
    /// [`Action::Hold`], which is no decision. Bumps the change counter.
    pub async fn record_held_decision(
        &self,
        list: &ListAddress,
        request_id: u64,
        action: Action,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        if action == Action::Hold {
            return Err(Error::Invalid(format!(
                "hold is not a decision on held message {request_id} of list {list}"
            )));
        }
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let updated = sqlx::query(
            "UPDATE held_message SET decision = $1, decision_reason = $2, decided_at = $3 \
             WHERE mailinglist_id = $4 AND id = $5 AND decision IS NULL",
        )
        .bind(action.as_str())
        .bind(reason)
        .bind(micros(at))
        .bind(&key)
        .bind(id_param(request_id))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let existing: Option<Option<String>> = sqlx::query_scalar(
                "SELECT decision FROM held_message WHERE mailinglist_id = $1 AND id = $2",
            )
            .bind(&key)
            .bind(id_param(request_id))
            .fetch_optional(&mut *tx)
            .await?;
            return Err(match existing.flatten() {
                Some(decision) => Error::Conflict(format!(
                    "held message {request_id} of list {list} is already decided: {decision}"
                )),
                None => request_not_found(list, request_id),
            });
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The held posts in `node`'s spool that have a decision, on every list, oldest decision
    /// first: what that node has to carry out.
    pub async fn decided_held(&self, node: &str) -> Result<Vec<HeldRecord>> {
        let sql = format!(
            "{HELD_SELECT} WHERE h.node = $1 AND h.decision IS NOT NULL \
             ORDER BY h.decided_at, h.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(node)
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(held_from_row).collect()
    }

    /// The undecided held posts of every list held before `before`, oldest first (for
    /// `max_days_to_hold`; the caller applies each list's setting).
    pub async fn held_before(&self, before: Timestamp) -> Result<Vec<HeldRecord>> {
        let sql = format!(
            "{HELD_SELECT} WHERE h.held_at < $1 AND h.decision IS NULL ORDER BY h.held_at, h.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(micros(before))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(held_from_row).collect()
    }

    /// Forgets a held post (after it was approved, rejected or discarded). NotFound if absent.
    pub async fn remove_held(&self, list: &ListAddress, request_id: u64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let removed = sqlx::query("DELETE FROM held_message WHERE mailinglist_id = $1 AND id = $2")
            .bind(key)
            .bind(id_param(request_id))
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(request_not_found(list, request_id));
        }
        tx.commit().await?;
        Ok(())
    }
}
