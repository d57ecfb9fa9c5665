//! The scheduled side of bounce processing: members disabled by bounces who are due a warning
//! or removal, claimed one at a time; stale scores; probes; re-enabling; and the per-list view.
//!
//! A claim ([`Store::claim_disabled_member`]) is a write transaction holding the member's row
//! lock. On PostgreSQL it is taken with `FOR UPDATE SKIP LOCKED`: a node that finds the row
//! locked by another node skips it, and the state read under the lock is re-checked by the
//! caller, so each warning and each removal happens once however many nodes run. SQLite has
//! one writer. The caller creates the warning (or goodbye) mail while it holds the claim and
//! then commits the new state; after a crash in between, the same node finds the mail by its
//! derived id instead of sending it again.

use jiff::Timestamp;
use mailcast_model::{DeliveryStatus, EmailAddress, ListAddress, MemberRole};
use sqlx::{Any, AssertSqlSafe, Transaction};
use uuid::Uuid;

use crate::bounces::{
    BounceState, BounceUpdate, STATE_COLUMNS, row_lock, state_from_row, write_update,
};
use crate::changes;
use crate::column::{RowExt, id_text, list_address, micros};
use crate::error::{Error, Result};
use crate::lists::{list_key, parse_settings};
use crate::store::Store;
use mailcast_model::settings::ListSettings;

/// A member disabled by bounces, as listed for the scheduled work.
#[derive(Debug, Clone, PartialEq)]
pub struct DisabledMember {
    /// The list.
    pub list: ListAddress,
    /// The membership.
    pub member_id: Uuid,
}

/// A claimed member disabled by bounces: a transaction holding its row lock.
pub struct DisabledClaim {
    tx: Transaction<'static, Any>,
    /// The list.
    pub list: ListAddress,
    /// The list's settings.
    pub settings: ListSettings,
    /// The member's state under the lock.
    pub state: BounceState,
}

/// A probe waiting for its bounce.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The token in the probe's envelope sender.
    pub token: String,
    /// The list.
    pub list: ListAddress,
    /// The membership probed.
    pub member_id: Uuid,
    /// The address probed.
    pub email: EmailAddress,
}

/// One member's line in the bounce view of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct BounceSummary {
    /// The member's state.
    pub state: BounceState,
    /// How many events are logged for the address on the list.
    pub events: u64,
}

impl Store {
    /// Members of every list whose delivery is disabled by bounces, for the warning and
    /// removal pass.
    pub async fn disabled_by_bounces(&self) -> Result<Vec<DisabledMember>> {
        let rows = sqlx::query(
            "SELECT m.id, ml.list_name, ml.mail_host FROM member m \
             JOIN mailinglist ml ON ml.id = m.mailinglist_id \
             WHERE m.role = $1 AND m.delivery_status = $2 ORDER BY m.id",
        )
        .bind(MemberRole::Member.as_str())
        .bind(DeliveryStatus::ByBounces.as_str())
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DisabledMember {
                    list: list_address(
                        &row.col::<String>("list_name")?,
                        &row.col::<String>("mail_host")?,
                    )?,
                    member_id: row.uuid("id")?,
                })
            })
            .collect()
    }

    /// Claims a member disabled by bounces; `None` if it is no longer disabled by bounces,
    /// gone, or (PostgreSQL) claimed by another node right now.
    pub async fn claim_disabled_member(&self, member_id: Uuid) -> Result<Option<DisabledClaim>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {STATE_COLUMNS}, ml.list_name, ml.mail_host, ml.settings \
             FROM member m JOIN address a ON a.id = m.address_id \
             JOIN mailinglist ml ON ml.id = m.mailinglist_id \
             WHERE m.id = $1 AND m.delivery_status = $2{}",
            row_lock(self.backend(), true)
        );
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(id_text(member_id))
            .bind(DeliveryStatus::ByBounces.as_str())
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let list = list_address(
            &row.col::<String>("list_name")?,
            &row.col::<String>("mail_host")?,
        )?;
        let settings = parse_settings(&list, &row.col::<String>("settings")?)?;
        Ok(Some(DisabledClaim {
            state: state_from_row(&row)?,
            tx,
            list,
            settings,
        }))
    }

    /// Resets to 0 the scores of `list`'s enabled members whose last bounce is older than
    /// `before` (the list's `bounce_info_stale_after` ago). Returns how many were reset.
    pub async fn reset_stale_scores(&self, list: &ListAddress, before: Timestamp) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let reset = sqlx::query(
            "UPDATE member SET bounce_score = 0 WHERE mailinglist_id = $1 AND bounce_score > 0 \
             AND delivery_status <> $2 AND last_bounce_received < $3",
        )
        .bind(&key)
        .bind(DeliveryStatus::ByBounces.as_str())
        .bind(micros(before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(reset)
    }

    /// The probe named by `token`, if it has not expired at `now` (left in place).
    pub async fn probe(&self, token: &str, now: Timestamp) -> Result<Option<Probe>> {
        let row = sqlx::query(
            "SELECT p.token, p.member_id, p.email, ml.list_name, ml.mail_host FROM bounce_probe p \
             JOIN mailinglist ml ON ml.id = p.mailinglist_id WHERE p.token = $1 AND p.expires_at > $2",
        )
        .bind(token)
        .bind(micros(now))
        .fetch_optional(self.reader())
        .await?;
        row.map(|row| probe_from_row(&row)).transpose()
    }

    /// Takes the probe named by `token` if it has not expired at `now`: of two takers, one
    /// gets it.
    pub async fn take_probe(&self, token: &str, now: Timestamp) -> Result<Option<Probe>> {
        let row = sqlx::query(
            "DELETE FROM bounce_probe WHERE token = $1 AND expires_at > $2 RETURNING token, \
             member_id, email, \
             (SELECT list_name FROM mailinglist WHERE mailinglist.id = bounce_probe.mailinglist_id) AS list_name, \
             (SELECT mail_host FROM mailinglist WHERE mailinglist.id = bounce_probe.mailinglist_id) AS mail_host",
        )
        .bind(token)
        .bind(micros(now))
        .fetch_optional(self.writer())
        .await?;
        row.map(|row| probe_from_row(&row)).transpose()
    }

    /// Removes probes that expired before `now` (the member answered nothing: it stays
    /// enabled). Returns how many.
    pub async fn expire_probes(&self, now: Timestamp) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM bounce_probe WHERE expires_at <= $1")
                .bind(micros(now))
                .execute(self.writer())
                .await?
                .rows_affected(),
        )
    }

    /// Re-enables the delivery of `address` on `list` and clears its bounce fields. NotFound
    /// if it is not a member; returns the state before.
    pub async fn reenable_member(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
    ) -> Result<BounceState> {
        let lock = self.lock_for_bounce(list, address).await?;
        let Some(state) = lock.member().cloned() else {
            return Err(Error::NotFound(format!("member {address} of list {list}")));
        };
        let update = BounceUpdate {
            score: 0.0,
            last_bounce_received: state.last_bounce_received,
            delivery_status: DeliveryStatus::Enabled,
            last_warning_sent: None,
            total_warnings_sent: 0,
            disabled_at: None,
        };
        lock.write(&update).await?;
        Ok(state)
    }

    /// The members of `list` with a bounce score, a disabled delivery or a logged event,
    /// by address.
    pub async fn bounce_summaries(&self, list: &ListAddress) -> Result<Vec<BounceSummary>> {
        let mut tx = self.begin_snapshot().await?;
        let key = list_key(&mut tx, list).await?;
        let sql = format!(
            "SELECT {STATE_COLUMNS}, \
             (SELECT COUNT(*) FROM bounce_event e WHERE e.mailinglist_id = m.mailinglist_id \
              AND e.email = a.email) AS events \
             FROM member m JOIN address a ON a.id = m.address_id \
             WHERE m.mailinglist_id = $1 AND m.role = $2 AND (m.bounce_score > 0 \
             OR m.delivery_status = $3 OR m.last_bounce_received IS NOT NULL) \
             ORDER BY a.email"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&key)
            .bind(MemberRole::Member.as_str())
            .bind(DeliveryStatus::ByBounces.as_str())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(BounceSummary {
                    state: state_from_row(row)?,
                    events: row.count("events")?,
                })
            })
            .collect()
    }
}

fn probe_from_row(row: &sqlx::any::AnyRow) -> Result<Probe> {
    Ok(Probe {
        token: row.col("token")?,
        list: list_address(
            &row.col::<String>("list_name")?,
            &row.col::<String>("mail_host")?,
        )?,
        member_id: row.uuid("member_id")?,
        email: row.email("email")?,
    })
}

impl DisabledClaim {
    /// Writes the member's new bounce fields and commits.
    pub async fn commit(mut self, update: &BounceUpdate) -> Result<()> {
        write_update(&mut self.tx, &self.state, update).await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Removes the membership and commits.
    pub async fn remove(mut self) -> Result<()> {
        sqlx::query("DELETE FROM member WHERE id = $1")
            .bind(id_text(self.state.member_id))
            .execute(&mut *self.tx)
            .await?;
        changes::bump(&mut self.tx).await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Gives the claim up, changing nothing.
    pub async fn release(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}
