//! Bounce bookkeeping: the event log of what each bounce report said, and a member's bounce
//! fields (Mailman's `bounce_score`, `last_bounce_received`, warnings), changed under a row lock.
//!
//! This module stores facts and decides nothing: the bounce runner reads the member's state
//! through a [`BounceLock`], applies Mailman's rules (the daemon's `runner::bounce::rules`)
//! and writes the event and the new state back in the same transaction. On PostgreSQL the member row is
//! locked with `FOR UPDATE`, so two nodes scoring the same member take turns and no increment
//! is lost; SQLite has one writer (`BEGIN IMMEDIATE`). An event may carry a `source_key`
//! (the report and recipient it came from): recording the same key twice keeps the first and
//! tells the caller, so a report processed again after a crash changes nothing.

use jiff::Timestamp;
use mailcast_model::{DeliveryStatus, EmailAddress, ListAddress, MemberRole};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Transaction};
use uuid::Uuid;

use crate::changes;
use crate::column::{RowExt, id_text, micros};
use crate::error::Result;
use crate::lists::list_key;
use crate::store::{Backend, Store};

mailcast_model::vocabulary! {
    /// What was being delivered when the failure happened.
    pub enum BounceContext {
        /// A post, a digest or a notice.
        Normal = "normal",
        /// A bounce probe.
        Probe = "probe",
    }
}

/// A member's bounce state, as read under the lock.
#[derive(Debug, Clone, PartialEq)]
pub struct BounceState {
    /// The membership.
    pub member_id: Uuid,
    /// The address as the member spelled it.
    pub email: EmailAddress,
    /// The address's display name.
    pub display_name: Option<String>,
    /// Whether delivery is enabled.
    pub delivery_status: DeliveryStatus,
    /// Mailman's `bounce_score`.
    pub score: f64,
    /// When the last bounce was received (counted or same-day).
    pub last_bounce_received: Option<Timestamp>,
    /// When the last "you are disabled" warning went out.
    pub last_warning_sent: Option<Timestamp>,
    /// How many warnings went out since delivery was disabled.
    pub total_warnings_sent: u64,
    /// When delivery was disabled by bounces.
    pub disabled_at: Option<Timestamp>,
}

/// The new bounce fields of a member (written as a whole).
#[derive(Debug, Clone, PartialEq)]
pub struct BounceUpdate {
    /// The new score.
    pub score: f64,
    /// The new `last_bounce_received`.
    pub last_bounce_received: Option<Timestamp>,
    /// The new delivery status.
    pub delivery_status: DeliveryStatus,
    /// The new `last_warning_sent`.
    pub last_warning_sent: Option<Timestamp>,
    /// The new warning count.
    pub total_warnings_sent: u64,
    /// The new `disabled_at`.
    pub disabled_at: Option<Timestamp>,
}

impl BounceState {
    /// The fields as they are now, to be changed and written back.
    pub fn update(&self) -> BounceUpdate {
        BounceUpdate {
            score: self.score,
            last_bounce_received: self.last_bounce_received,
            delivery_status: self.delivery_status,
            last_warning_sent: self.last_warning_sent,
            total_warnings_sent: self.total_warnings_sent,
            disabled_at: self.disabled_at,
        }
    }
}

/// One bounce event to log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBounceEvent {
    /// The report and recipient it came from, unique; `None` for no de-duplication.
    pub source_key: Option<String>,
    /// The failing address.
    pub email: EmailAddress,
    /// When it was received.
    pub at: Timestamp,
    /// The Message-ID of the report (or of the failed message).
    pub message_id: Option<String>,
    /// Post or probe.
    pub context: BounceContext,
    /// `permanent` or `temporary`.
    pub class: String,
    /// The RFC 3463 status, if known.
    pub status: Option<String>,
    /// The diagnostic text, if any.
    pub diagnostic: Option<String>,
    /// Where it was learnt: `smtp` (a reply at delivery time), or the report's format.
    pub source: String,
    /// What it did (`counted`, `same_day`, `not_counted`, `disabled`, ...).
    pub outcome: String,
}

/// A logged bounce event.
#[derive(Debug, Clone, PartialEq)]
pub struct BounceEvent {
    /// The failing address.
    pub email: String,
    /// When it was received.
    pub at: Timestamp,
    /// Post or probe.
    pub context: BounceContext,
    /// `permanent` or `temporary`.
    pub class: String,
    /// The RFC 3463 status, if known.
    pub status: Option<String>,
    /// The diagnostic text, if any.
    pub diagnostic: Option<String>,
    /// Where it was learnt.
    pub source: String,
    /// What it did.
    pub outcome: String,
    /// The Message-ID of the report.
    pub message_id: Option<String>,
}

/// A write transaction on one list's bounce bookkeeping, holding the member's row lock.
pub struct BounceLock {
    tx: Transaction<'static, Any>,
    list_key: String,
    member: Option<BounceState>,
}

pub(crate) const STATE_COLUMNS: &str = "m.id, a.original_email, a.display_name, \
    m.delivery_status, m.bounce_score, m.last_bounce_received, m.last_warning_sent, \
    m.total_warnings_sent, m.disabled_at";

pub(crate) fn state_from_row(row: &AnyRow) -> Result<BounceState> {
    Ok(BounceState {
        member_id: row.uuid("id")?,
        email: row.email("original_email")?,
        display_name: row.col("display_name")?,
        delivery_status: row.word("delivery_status", DeliveryStatus::parse)?,
        score: row.col("bounce_score")?,
        last_bounce_received: row.timestamp_opt("last_bounce_received")?,
        last_warning_sent: row.timestamp_opt("last_warning_sent")?,
        total_warnings_sent: row.count("total_warnings_sent")?,
        disabled_at: row.timestamp_opt("disabled_at")?,
    })
}

/// `FOR UPDATE` (with `SKIP LOCKED` if asked) on PostgreSQL; nothing on SQLite, whose write
/// transaction already excludes every other writer.
pub(crate) fn row_lock(backend: Backend, skip_locked: bool) -> &'static str {
    match (backend, skip_locked) {
        (Backend::Sqlite, _) => "",
        (Backend::Postgres, false) => " FOR UPDATE OF m",
        (Backend::Postgres, true) => " FOR UPDATE OF m SKIP LOCKED",
    }
}

impl Store {
    /// Opens a write transaction on `list`'s bounce bookkeeping for `address`, locking its
    /// membership (role `member`) if there is one. NotFound if the list does not exist.
    pub async fn lock_for_bounce(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
    ) -> Result<BounceLock> {
        let mut tx = self.begin_write().await?;
        let list_key = list_key(&mut tx, list).await?;
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM member m JOIN address a ON a.id = m.address_id \
             WHERE m.mailinglist_id = $1 AND m.role = $2 AND a.email = $3{}",
            row_lock(self.backend(), false)
        );
        let member = sqlx::query(AssertSqlSafe(sql))
            .bind(&list_key)
            .bind(MemberRole::Member.as_str())
            .bind(address.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| state_from_row(&row))
            .transpose()?;
        Ok(BounceLock {
            tx,
            list_key,
            member,
        })
    }

    /// The most recent `limit` bounce events of `address` on `list`, newest first.
    pub async fn bounce_events(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        limit: u32,
    ) -> Result<Vec<BounceEvent>> {
        let rows = sqlx::query(
            "SELECT e.email, e.timestamp, e.context, e.class, e.status, e.diagnostic, \
             e.source, e.outcome, e.message_id \
             FROM bounce_event e JOIN mailinglist ml ON ml.id = e.mailinglist_id \
             WHERE ml.list_name = $1 AND ml.mail_host = $2 AND e.email = $3 \
             ORDER BY e.timestamp DESC, e.id DESC LIMIT $4",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .bind(address.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(BounceEvent {
                    email: row.col("email")?,
                    at: row.timestamp("timestamp")?,
                    context: row.word("context", BounceContext::parse)?,
                    class: row.col("class")?,
                    status: row.col("status")?,
                    diagnostic: row.col("diagnostic")?,
                    source: row.col("source")?,
                    outcome: row.col("outcome")?,
                    message_id: row.col("message_id")?,
                })
            })
            .collect()
    }

    /// How many bounce events have been logged for an address on a list.
    pub async fn bounce_event_count(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
    ) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM bounce_event e JOIN mailinglist ml ON ml.id = e.mailinglist_id \
             WHERE ml.list_name = $1 AND ml.mail_host = $2 AND e.email = $3",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .bind(address.as_str())
        .fetch_one(self.reader())
        .await?;
        Ok(count.max(0) as u64)
    }
}

impl BounceLock {
    /// The member's state, if the address is a member of the list.
    pub fn member(&self) -> Option<&BounceState> {
        self.member.as_ref()
    }

    /// The outcome of the event already logged under `key`, if any: the report was processed
    /// before (then nothing is to be written again).
    pub async fn recorded(&mut self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT outcome FROM bounce_event WHERE source_key = $1")
                .bind(key)
                .fetch_optional(&mut *self.tx)
                .await?,
        )
    }

    /// Records a probe sent to the locked member, valid until `expires_at` (committed with
    /// [`BounceLock::record`]).
    pub async fn add_probe(
        &mut self,
        token: &str,
        sent_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<()> {
        let Some(member) = &self.member else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO bounce_probe (token, mailinglist_id, member_id, email, sent_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token) DO NOTHING",
        )
        .bind(token)
        .bind(&self.list_key)
        .bind(id_text(member.member_id))
        .bind(member.email.as_str())
        .bind(micros(sent_at))
        .bind(micros(expires_at))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Writes `update` to the member (if there is one) without logging an event, and commits.
    pub async fn write(mut self, update: &BounceUpdate) -> Result<()> {
        if let Some(member) = &self.member {
            write_update(&mut self.tx, member, update).await?;
        }
        self.tx.commit().await?;
        Ok(())
    }

    /// Logs `event`, writes `update` to the member (if there is one and it is given) and
    /// commits. Returns false, writing nothing, if an event with the same `source_key` exists.
    pub async fn record(
        mut self,
        event: &NewBounceEvent,
        update: Option<&BounceUpdate>,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO bounce_event (mailinglist_id, email, timestamp, message_id, context, \
             processed, source_key, class, status, diagnostic, source, outcome) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (source_key) DO NOTHING",
        )
        .bind(&self.list_key)
        .bind(event.email.as_str())
        .bind(micros(event.at))
        .bind(event.message_id.as_deref())
        .bind(event.context.as_str())
        .bind(event.source_key.as_deref())
        .bind(event.class.as_str())
        .bind(event.status.as_deref())
        .bind(event.diagnostic.as_deref())
        .bind(event.source.as_str())
        .bind(event.outcome.as_str())
        .execute(&mut *self.tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            self.tx.rollback().await?;
            return Ok(false);
        }
        if let (Some(member), Some(update)) = (&self.member, update) {
            write_update(&mut self.tx, member, update).await?;
        }
        self.tx.commit().await?;
        Ok(true)
    }
}

/// Writes a member's bounce fields; bumps the change counter when delivery is switched.
pub(crate) async fn write_update(
    tx: &mut Transaction<'static, Any>,
    member: &BounceState,
    update: &BounceUpdate,
) -> Result<()> {
    sqlx::query(
        "UPDATE member SET bounce_score = $1, last_bounce_received = $2, delivery_status = $3, \
         last_warning_sent = $4, total_warnings_sent = $5, disabled_at = $6 WHERE id = $7",
    )
    .bind(update.score)
    .bind(update.last_bounce_received.map(micros))
    .bind(update.delivery_status.as_str())
    .bind(update.last_warning_sent.map(micros))
    .bind(i64::try_from(update.total_warnings_sent).unwrap_or(i64::MAX))
    .bind(update.disabled_at.map(micros))
    .bind(id_text(member.member_id))
    .execute(&mut **tx)
    .await?;
    if update.delivery_status != member.delivery_status {
        changes::bump(tx).await?;
    }
    Ok(())
}
