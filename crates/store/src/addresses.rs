//! Addresses (Mailman's `address`): reading and paging them, creating and deleting them,
//! verification (`verified_on`), display names and preferences.
//!
//! An address row is found by its lower-cased form and keeps the spelling it was first given;
//! the subscription path creates it on first use. [`Store::verify_address`] keeps the earliest
//! verification time (verifying again never moves it); [`Store::set_verified`] sets or clears
//! it as an operator asks. Deleting an address deletes its memberships and autoresponse
//! records too, as Mailman does, and only that bumps the change counter: the other facts here
//! are read when needed and never cached by the daemon. Linking addresses to users is in
//! `users.rs`.

use jiff::Timestamp;
use mailcast_model::EmailAddress;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe};
use uuid::Uuid;

use crate::changes;
use crate::column::{RowExt, id_text, micros, new_id, now, page_bound};
use crate::error::{Error, Result};
use crate::preferences::{self, Preferences};
use crate::store::Store;

/// An address, whether or not it is subscribed anywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    /// The address id.
    pub id: Uuid,
    /// The address as originally spelled (its lower-cased form is its identity).
    pub email: EmailAddress,
    /// The display name, if known.
    pub display_name: Option<String>,
    /// When the address was verified, if it was.
    pub verified_on: Option<Timestamp>,
    /// When the address was first recorded.
    pub registered_on: Timestamp,
    /// The user the address belongs to, if any.
    pub user_id: Option<Uuid>,
    /// The address's preferences (`None` fields inherit from its user).
    pub preferences: Preferences,
}

/// The SELECT of an address (alias `a`); callers add WHERE and ORDER BY.
pub(crate) fn address_select() -> String {
    format!(
        "SELECT a.id, a.original_email, a.display_name, a.verified_on, a.registered_on, \
         a.user_id, {} FROM address a",
        preferences::columns("a")
    )
}

pub(crate) fn address_from_row(row: &AnyRow) -> Result<Address> {
    Ok(Address {
        id: row.uuid("id")?,
        email: row.email("original_email")?,
        display_name: row.col("display_name")?,
        verified_on: row.timestamp_opt("verified_on")?,
        registered_on: row.timestamp("registered_on")?,
        user_id: row.uuid_opt("user_id")?,
        preferences: preferences::from_row(row)?,
    })
}

/// Deletes the addresses `address.<condition>` selects (`condition` is a literal of the
/// caller with one parameter, `$1` = `key`), with their memberships and autoresponse records;
/// they stop being anyone's preferred address. Returns how many memberships went.
pub(crate) async fn purge_addresses(
    conn: &mut AnyConnection,
    condition: &'static str,
    key: &str,
) -> Result<u64> {
    let chosen = format!("SELECT id FROM address WHERE {condition}");
    let members = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM member WHERE address_id IN ({chosen})"
    )))
    .bind(key)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    for sql in [
        format!(
            "DELETE FROM autoresponse_record WHERE email IN \
             (SELECT email FROM address WHERE {condition})"
        ),
        format!(
            "UPDATE \"user\" SET preferred_address_id = NULL WHERE preferred_address_id IN ({chosen})"
        ),
        format!("DELETE FROM address WHERE {condition}"),
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(members)
}

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
    /// One address, found lower-cased.
    pub async fn address(&self, email: &EmailAddress) -> Result<Option<Address>> {
        let sql = format!("{} WHERE a.email = $1", address_select());
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email.as_str())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(address_from_row).transpose()
    }

    /// One page of addresses (by registration time, then id) after skipping `offset`, and how
    /// many addresses there are in all, read from one snapshot.
    pub async fn addresses_page(&self, offset: u64, limit: u64) -> Result<(Vec<Address>, u64)> {
        let mut tx = self.begin_snapshot().await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM address")
            .fetch_one(&mut *tx)
            .await?;
        let sql = format!(
            "{} ORDER BY a.registered_on, a.id LIMIT $1 OFFSET $2",
            address_select()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(page_bound(limit))
            .bind(page_bound(offset))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let addresses = rows.iter().map(address_from_row).collect::<Result<_>>()?;
        Ok((addresses, total.max(0) as u64))
    }

    /// Creates an unverified address belonging to no user. Conflict if it exists (in any
    /// spelling).
    pub async fn create_address(
        &self,
        email: &EmailAddress,
        display_name: Option<&str>,
    ) -> Result<Address> {
        let id = new_id();
        let registered_on = now();
        let inserted = sqlx::query(
            "INSERT INTO address (id, email, original_email, display_name, registered_on) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
        )
        .bind(id_text(id))
        .bind(email.as_str())
        .bind(email.original())
        .bind(display_name)
        .bind(micros(registered_on))
        .execute(self.writer())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(Error::Conflict(format!("address {email} already exists")));
        }
        Ok(Address {
            id,
            email: email.clone(),
            display_name: display_name.map(str::to_string),
            verified_on: None,
            registered_on,
            user_id: None,
            preferences: Preferences::default(),
        })
    }

    /// Sets when the address was verified (to the microsecond), or with `None` makes it
    /// unverified again. Returns false if the address is unknown.
    pub async fn set_verified(&self, email: &EmailAddress, at: Option<Timestamp>) -> Result<bool> {
        let done = sqlx::query("UPDATE address SET verified_on = $1 WHERE email = $2")
            .bind(at.map(micros))
            .bind(email.as_str())
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes an address with its memberships and autoresponse records, unlinking it from
    /// its user. Returns false if the address is unknown.
    pub async fn delete_address(&self, email: &EmailAddress) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM address WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        let removed = purge_addresses(&mut tx, "email = $1", email.as_str()).await?;
        if removed > 0 {
            changes::bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The address's preferences; `None` if the address is unknown.
    pub async fn address_preferences(&self, email: &EmailAddress) -> Result<Option<Preferences>> {
        let sql = format!(
            "SELECT {} FROM address a WHERE a.email = $1",
            preferences::columns("a")
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email.as_str())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(preferences::from_row).transpose()
    }

    /// Replaces the address's preferences (`None` fields inherit). Returns false if the
    /// address is unknown.
    pub async fn set_address_preferences(
        &self,
        email: &EmailAddress,
        preferences: &Preferences,
    ) -> Result<bool> {
        let mut conn = self.writer().acquire().await?;
        let changed =
            preferences::replace(&mut conn, "address", "email", email.as_str(), preferences)
                .await?;
        Ok(changed > 0)
    }
}
