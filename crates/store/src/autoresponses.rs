//! Autoresponse records: which automatic responses went to which address, per list and day
//! (Mailman's `autoresponserecord`), so that callers can cap them (`max_autoresponses_per_day`)
//! and space them out (`autoresponse_grace_period`).
//!
//! A record is a lower-cased address, a response kind and a UTC civil date stored as
//! `YYYY-MM-DD` text (which sorts by date). Noting a response and counting that day's ones is
//! one transaction that first locks the list's row, so concurrent callers count one after the
//! other on PostgreSQL too (SQLite's `BEGIN IMMEDIATE` already serialises them). Records are
//! not a directory change and do not bump the change counter; removing the list removes them.
//! This module does not decide whether to respond, nor prune old records.

use jiff::civil::Date;
use mailcast_model::{EmailAddress, ListAddress};

use crate::column::RowExt;
use crate::error::{Error, Result};
use crate::lists::{list_key, not_found};
use crate::store::Store;

mailcast_model::vocabulary! {
    /// Which kind of automatic response was sent (Mailman's `Response`).
    pub enum ResponseKind {
        /// The notice that a post is held for moderation.
        Hold = "hold",
        /// The reply to an email command (`-request`).
        Command = "command",
        /// The autoresponse to mail for the owners (`-owner`).
        Owner = "owner",
        /// The autoresponse to a post.
        Postings = "postings",
    }
}

/// The stored form of a date, `YYYY-MM-DD`; Invalid for years that would not sort as text.
fn date_text(date: Date) -> Result<String> {
    if date.year() < 1 {
        return Err(Error::Invalid(format!(
            "autoresponse date {date} is before year 1"
        )));
    }
    Ok(date.to_string())
}

impl Store {
    /// Records one automatic response of `kind` to `email` on `list` on `date` (a UTC civil
    /// date) and returns how many of that kind the address got on that list that day, this
    /// one included. Atomic: concurrent callers get different counts. NotFound if the list
    /// does not exist.
    pub async fn note_autoresponse(
        &self,
        list: &ListAddress,
        email: &EmailAddress,
        kind: ResponseKind,
        date: Date,
    ) -> Result<u64> {
        let date = date_text(date)?;
        let mut tx = self.begin_write().await?;
        // A no-op update: it finds the list and, on PostgreSQL, locks its row until commit,
        // so that the count below includes every earlier caller's record.
        let key: String = sqlx::query_scalar(
            "UPDATE mailinglist SET post_id = post_id \
             WHERE list_name = $1 AND mail_host = $2 RETURNING id",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(list))?;
        sqlx::query(
            "INSERT INTO autoresponse_record (mailinglist_id, email, response_type, date_sent) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&key)
        .bind(email.as_str())
        .bind(kind.as_str())
        .bind(&date)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS sent FROM autoresponse_record \
             WHERE mailinglist_id = $1 AND email = $2 AND response_type = $3 AND date_sent = $4",
        )
        .bind(&key)
        .bind(email.as_str())
        .bind(kind.as_str())
        .bind(&date)
        .fetch_one(&mut *tx)
        .await?;
        let sent = row.count("sent")?;
        tx.commit().await?;
        Ok(sent)
    }

    /// The date of the newest response of `kind` to `email` on `list`, if any. NotFound if
    /// the list does not exist.
    pub async fn last_autoresponse(
        &self,
        list: &ListAddress,
        email: &EmailAddress,
        kind: ResponseKind,
    ) -> Result<Option<Date>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let row = sqlx::query(
            "SELECT MAX(date_sent) AS last FROM autoresponse_record \
             WHERE mailinglist_id = $1 AND email = $2 AND response_type = $3",
        )
        .bind(key)
        .bind(email.as_str())
        .bind(kind.as_str())
        .fetch_one(&mut *conn)
        .await?;
        let last: Option<String> = row.col("last")?;
        last.map(|text| {
            text.parse::<Date>()
                .map_err(|_| crate::column::corrupt("autoresponse_record.date_sent", &text))
        })
        .transpose()
    }
}
