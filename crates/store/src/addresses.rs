//! Addresses apart from their memberships: verification (Mailman's `address.verified_on`)
//! and display names, as the subscription path records them.
//!
//! An address row is found by its lower-cased form and created on first use, keeping the
//! spelling it was first given. Verification is kept at its earliest time: verifying again
//! never moves it. These facts are read when needed and never cached by the daemon, so they do
//! not bump the change counter. Addresses are never deleted here, and users are not touched.

use jiff::Timestamp;
use mailcast_model::EmailAddress;

use crate::column::{RowExt, id_text, micros, new_id, now};
use crate::error::Result;
use crate::store::Store;

impl Store {
    /// When the address was verified; `None` if never, or if the address is unknown.
    pub async fn address_verified_on(&self, email: &EmailAddress) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT verified_on FROM address WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(row) => row.timestamp_opt("verified_on"),
            None => Ok(None),
        }
    }

    /// Marks the address verified at `at` (stored to the microsecond), creating its row if
    /// needed. An earlier verification time is kept.
    pub async fn verify_address(&self, email: &EmailAddress, at: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO address (id, email, original_email, verified_on, registered_on) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (email) DO UPDATE SET verified_on = CASE \
             WHEN address.verified_on IS NULL OR address.verified_on > excluded.verified_on \
             THEN excluded.verified_on ELSE address.verified_on END",
        )
        .bind(id_text(new_id()))
        .bind(email.as_str())
        .bind(email.original())
        .bind(micros(at))
        .bind(micros(now()))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Sets (or, with `None`, clears) the display name of the address, creating its row if
    /// needed. Used when a subscriber gives a name.
    pub async fn set_address_display_name(
        &self,
        email: &EmailAddress,
        name: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO address (id, email, original_email, display_name, registered_on) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (email) DO UPDATE SET display_name = excluded.display_name",
        )
        .bind(id_text(new_id()))
        .bind(email.as_str())
        .bind(email.original())
        .bind(name)
        .bind(micros(now()))
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
