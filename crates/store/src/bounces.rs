//! Delivery failures: the bounce event log and the member's bounce score, Mailman style.
//!
//! Every failure is logged as a `bounce_event`. The score of the list member (role `member`)
//! follows Mailman 3's bounce runner: a member whose delivery is already disabled by bounces
//! is left alone; a second bounce on the same UTC calendar day is not counted; after the
//! list's `bounce_info_stale_after` without a bounce the score starts again at 1, otherwise it
//! goes up by 1. This module only reports that the `bounce_score_threshold` was reached; the
//! bounce runner (a later issue) decides on probes, disabling, warnings and removal.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use mailcast_model::{DeliveryStatus, EmailAddress, ListAddress, MemberRole};
use sqlx::Row;

use crate::column::{RowExt, micros};
use crate::error::Result;
use crate::lists::{not_found, parse_settings};
use crate::store::Store;

/// Why a failure was recorded: an ordinary post, or a VERP probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceContext {
    /// A failure delivering a post or notice.
    Normal,
    /// A failure delivering a bounce probe.
    Probe,
}

impl BounceContext {
    fn as_str(self) -> &'static str {
        match self {
            BounceContext::Normal => "normal",
            BounceContext::Probe => "probe",
        }
    }
}

/// What recording a failure did to the member's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BounceOutcome {
    /// The address is not a member of the list: only the event was logged.
    NotAMember,
    /// Delivery is already disabled by bounces: nothing changed.
    AlreadyDisabled,
    /// The member already bounced today: the score stays.
    AlreadyCountedToday {
        /// The unchanged score.
        score: f64,
    },
    /// The score changed.
    Counted {
        /// The new score.
        score: f64,
        /// Whether it reached the list's `bounce_score_threshold`.
        threshold_reached: bool,
    },
}

fn utc_day(ts: Timestamp) -> jiff::civil::Date {
    ts.to_zoned_datetime(TimeZone::UTC).date()
}

impl Store {
    /// Logs a permanent delivery failure of `address` on `list` at time `at` and updates the
    /// member's bounce score. NotFound if the list does not exist.
    pub async fn record_delivery_failure(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        at: Timestamp,
        message_id: Option<&str>,
        context: BounceContext,
    ) -> Result<BounceOutcome> {
        let mut tx = self.begin_write().await?;
        let list_row = sqlx::query(
            "SELECT id, settings FROM mailinglist WHERE list_name = $1 AND mail_host = $2",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(list))?;
        let key: String = list_row.try_get("id")?;
        let settings = parse_settings(list, &list_row.col::<String>("settings")?)?;
        sqlx::query(
            "INSERT INTO bounce_event (mailinglist_id, email, timestamp, message_id, context, processed) \
             VALUES ($1, $2, $3, $4, $5, 1)",
        )
        .bind(&key)
        .bind(address.as_str())
        .bind(micros(at))
        .bind(message_id)
        .bind(context.as_str())
        .execute(&mut *tx)
        .await?;

        let member = sqlx::query(
            "SELECT m.id, m.delivery_status, m.bounce_score, m.last_bounce_received \
             FROM member m JOIN address a ON a.id = m.address_id \
             WHERE m.mailinglist_id = $1 AND m.role = $2 AND a.email = $3",
        )
        .bind(&key)
        .bind(MemberRole::Member.as_str())
        .bind(address.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match member {
            None => BounceOutcome::NotAMember,
            Some(member) => {
                let status = member.word("delivery_status", DeliveryStatus::parse)?;
                let score: f64 = member.col("bounce_score")?;
                let last = member.timestamp_opt("last_bounce_received")?;
                if status == DeliveryStatus::ByBounces {
                    BounceOutcome::AlreadyDisabled
                } else if last.is_some_and(|last| utc_day(last) == utc_day(at)) {
                    BounceOutcome::AlreadyCountedToday { score }
                } else {
                    let stale_after = jiff::SignedDuration::from_secs(
                        i64::try_from(settings.bounce_info_stale_after.seconds).unwrap_or(i64::MAX),
                    );
                    let stale = last.is_none_or(|last| at.duration_since(last) > stale_after);
                    let score = if stale { 1.0 } else { score + 1.0 };
                    sqlx::query(
                        "UPDATE member SET bounce_score = $1, last_bounce_received = $2 WHERE id = $3",
                    )
                    .bind(score)
                    .bind(micros(at))
                    .bind(member.col::<String>("id")?)
                    .execute(&mut *tx)
                    .await?;
                    BounceOutcome::Counted {
                        score,
                        threshold_reached: score >= settings.bounce_score_threshold.0 as f64,
                    }
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// How many delivery failures have been logged for an address on a list.
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
