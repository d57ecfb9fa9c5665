//! Users (Mailman's `user`): a person owning addresses, with a display name, a password hash,
//! a preferred address, the server-owner flag and preferences.
//!
//! An address belongs to at most one user (`address.user_id`); linking an address that
//! belongs to another user is a Conflict, and linking creates the address if it is new. The
//! preferred address must be one of the user's own, verified addresses. Users are ordered by
//! creation time, then id. The password is stored as given (callers hash it). Users are not
//! cached by the daemon, so nothing here bumps the change counter, except
//! [`Store::delete_user_and_addresses`], which removes memberships.

use jiff::Timestamp;
use mailcast_model::EmailAddress;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe};
use uuid::Uuid;

use crate::addresses::{Address, address_from_row, address_select, purge_addresses};
use crate::changes;
use crate::column::{RowExt, id_text, micros, new_id, now, page_bound};
use crate::error::{Error, Result};
use crate::preferences::{self, Preferences};
use crate::store::Store;

/// A user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The user id (Mailman's `user_id`).
    pub id: Uuid,
    /// The user's name.
    pub display_name: Option<String>,
    /// The password hash, as the caller stored it.
    pub password: Option<String>,
    /// When the user was created.
    pub created_on: Timestamp,
    /// The preferred address (one of the user's verified addresses), as originally spelled.
    pub preferred_address: Option<EmailAddress>,
    /// Whether the user administers the whole server.
    pub is_server_owner: bool,
    /// The user's preferences (`None` fields inherit the site defaults).
    pub preferences: Preferences,
}

/// What [`Store::create_user`] needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    /// An address to link to the new user, created if it does not exist.
    pub email: Option<EmailAddress>,
    /// The user's name (also the display name of an address created here).
    pub display_name: Option<String>,
    /// The password hash.
    pub password: Option<String>,
    /// Whether the user administers the whole server.
    pub is_server_owner: bool,
}

/// A change to a user; `None` fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// The new name (`Some(None)` clears it).
    pub display_name: Option<Option<String>>,
    /// The new password hash.
    pub password: Option<String>,
    /// The new server-owner flag.
    pub is_server_owner: Option<bool>,
}

/// The SELECT of a user, with its preferred address; callers add WHERE and ORDER BY.
pub(crate) fn user_select() -> String {
    format!(
        "SELECT u.id, u.display_name, u.password, u.created_on, u.is_server_owner, {}, \
         pa.original_email AS preferred_email \
         FROM \"user\" u LEFT JOIN address pa ON pa.id = u.preferred_address_id",
        preferences::columns("u")
    )
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User> {
    let preferred: Option<String> = row.col("preferred_email")?;
    Ok(User {
        id: row.uuid("id")?,
        display_name: row.col("display_name")?,
        password: row.col("password")?,
        created_on: row.timestamp("created_on")?,
        preferred_address: preferred
            .map(|e| {
                EmailAddress::parse(&e).map_err(|_| crate::column::corrupt("preferred_email", &e))
            })
            .transpose()?,
        is_server_owner: row.flag("is_server_owner")?.unwrap_or(false),
        preferences: preferences::from_row(row)?,
    })
}

/// A LIKE pattern (with `\\` as the escape) matching text that contains `text`, lower-cased.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn user_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("user {}", id_text(id)))
}

/// Whether the user exists (inside the caller's transaction).
async fn user_exists(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM \"user\" WHERE id = $1")
        .bind(id_text(id))
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Links the address to `user`, creating it (with `display_name`) if it is new. Conflict if it
/// belongs to another user; linking it to its own user again changes nothing.
async fn link(
    conn: &mut AnyConnection,
    user: Uuid,
    email: &EmailAddress,
    display_name: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO address (id, email, original_email, display_name, registered_on) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id_text(new_id()))
    .bind(email.as_str())
    .bind(email.original())
    .bind(display_name)
    .bind(micros(now()))
    .execute(&mut *conn)
    .await?;
    // The condition is evaluated again after waiting for a concurrent writer of the row, so
    // of two users racing for one address exactly one gets it.
    let linked = sqlx::query(
        "UPDATE address SET user_id = $1 WHERE email = $2 AND (user_id IS NULL OR user_id = $1)",
    )
    .bind(id_text(user))
    .bind(email.as_str())
    .execute(&mut *conn)
    .await?;
    if linked.rows_affected() == 0 {
        return Err(Error::Conflict(format!(
            "address {email} belongs to another user"
        )));
    }
    Ok(())
}

impl Store {
    /// Creates a user; with an email, links that address (created if new, with the user's
    /// display name). Conflict if the address already belongs to a user.
    pub async fn create_user(&self, new: &NewUser) -> Result<User> {
        let id = new_id();
        let created_on = now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO \"user\" (id, display_name, password, created_on, is_server_owner) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_text(id))
        .bind(new.display_name.as_deref())
        .bind(new.password.as_deref())
        .bind(micros(created_on))
        .bind(i32::from(new.is_server_owner))
        .execute(&mut *tx)
        .await?;
        if let Some(email) = &new.email {
            link(&mut tx, id, email, new.display_name.as_deref()).await?;
        }
        tx.commit().await?;
        Ok(User {
            id,
            display_name: new.display_name.clone(),
            password: new.password.clone(),
            created_on,
            preferred_address: None,
            is_server_owner: new.is_server_owner,
            preferences: Preferences::default(),
        })
    }

    /// One user, by id.
    pub async fn user(&self, id: Uuid) -> Result<Option<User>> {
        let sql = format!("{} WHERE u.id = $1", user_select());
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id_text(id))
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user an address belongs to, if any (found lower-cased).
    pub async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        let sql = format!(
            "{} WHERE u.id = (SELECT user_id FROM address WHERE email = $1)",
            user_select()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email.as_str())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// One page of users (by creation time, then id) after skipping `offset`, and how many
    /// users there are in all, read from one snapshot.
    pub async fn users_page(&self, offset: u64, limit: u64) -> Result<(Vec<User>, u64)> {
        self.user_search(None, offset, limit).await
    }

    /// [`Store::users_page`] of the users whose display name, or the display name or email
    /// of one of whose addresses, contains `text` (case-insensitive, taken literally):
    /// Mailman's `/users/find?q=`, each user once.
    pub async fn find_users(
        &self,
        text: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<User>, u64)> {
        self.user_search(Some(text), offset, limit).await
    }

    async fn user_search(
        &self,
        text: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<User>, u64)> {
        let (filter, first) = match text {
            None => (String::new(), 1),
            Some(_) => (
                "WHERE LOWER(COALESCE(u.display_name, '')) LIKE $1 ESCAPE '\\' \
                 OR u.id IN (SELECT f.user_id FROM address f WHERE f.user_id IS NOT NULL \
                 AND (LOWER(f.email) LIKE $1 ESCAPE '\\' \
                 OR LOWER(COALESCE(f.display_name, '')) LIKE $1 ESCAPE '\\'))"
                    .to_string(),
                2,
            ),
        };
        let pattern = text.map(contains_pattern);
        let count_sql = format!("SELECT COUNT(*) FROM \"user\" u {filter}");
        let page_sql = format!(
            "{} {filter} ORDER BY u.created_on, u.id LIMIT ${first} OFFSET ${}",
            user_select(),
            first + 1
        );
        let mut tx = self.begin_snapshot().await?;
        let mut count = sqlx::query_scalar(AssertSqlSafe(count_sql));
        let mut page = sqlx::query(AssertSqlSafe(page_sql));
        if let Some(pattern) = &pattern {
            count = count.bind(pattern.clone());
            page = page.bind(pattern.clone());
        }
        let total: i64 = count.fetch_one(&mut *tx).await?;
        let rows = page
            .bind(page_bound(limit))
            .bind(page_bound(offset))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let users = rows.iter().map(user_from_row).collect::<Result<_>>()?;
        Ok((users, total.max(0) as u64))
    }

    /// Changes the fields of `update` that are set. Returns false if there is no such user.
    pub async fn update_user(&self, id: Uuid, update: &UserUpdate) -> Result<bool> {
        let mut sets = Vec::new();
        if update.display_name.is_some() {
            sets.push("display_name");
        }
        if update.password.is_some() {
            sets.push("password");
        }
        if update.is_server_owner.is_some() {
            sets.push("is_server_owner");
        }
        if sets.is_empty() {
            let mut conn = self.reader().acquire().await?;
            return user_exists(&mut conn, id).await;
        }
        let assignments: Vec<String> = sets
            .iter()
            .enumerate()
            .map(|(i, column)| format!("{column} = ${}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE \"user\" SET {} WHERE id = ${}",
            assignments.join(", "),
            sets.len() + 1
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(name) = &update.display_name {
            query = query.bind(name.clone());
        }
        if let Some(password) = &update.password {
            query = query.bind(password.clone());
        }
        if let Some(owner) = update.is_server_owner {
            query = query.bind(i32::from(owner));
        }
        let done = query.bind(id_text(id)).execute(self.writer()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a user. Its addresses stay, unlinked (with their memberships), and it stops
    /// owning any domain. Returns false if there was no such user. Mailman's REST API deletes
    /// the addresses too: that is [`Store::delete_user_and_addresses`].
    pub async fn delete_user(&self, id: Uuid) -> Result<bool> {
        let key = id_text(id);
        let mut tx = self.begin_write().await?;
        for sql in [
            "UPDATE address SET user_id = NULL WHERE user_id = $1",
            "DELETE FROM domain_owner WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(&key).execute(&mut *tx).await?;
        }
        let deleted = sqlx::query("DELETE FROM \"user\" WHERE id = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Deletes a user with all its addresses and their memberships, as Mailman's
    /// `DELETE /users/<id>` does. Returns false if there was no such user.
    pub async fn delete_user_and_addresses(&self, id: Uuid) -> Result<bool> {
        let key = id_text(id);
        let mut tx = self.begin_write().await?;
        let removed = purge_addresses(&mut tx, "user_id = $1", &key).await?;
        sqlx::query("DELETE FROM domain_owner WHERE user_id = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM \"user\" WHERE id = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        if removed > 0 {
            changes::bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// The addresses of a user, by (lower-cased) email; empty if none or no such user.
    pub async fn user_addresses(&self, id: Uuid) -> Result<Vec<Address>> {
        let sql = format!("{} WHERE a.user_id = $1 ORDER BY a.email", address_select());
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(id_text(id))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(address_from_row).collect()
    }

    /// Links an address to a user, creating the address if it is new. NotFound if there is no
    /// such user; Conflict if the address belongs to another user. Linking again is harmless.
    pub async fn link_address(&self, user: Uuid, email: &EmailAddress) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if !user_exists(&mut tx, user).await? {
            return Err(user_not_found(user));
        }
        link(&mut tx, user, email, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Unlinks an address from its user (no longer its preferred address either). Returns
    /// false if the address is unknown or belongs to no user.
    pub async fn unlink_address(&self, email: &EmailAddress) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE \"user\" SET preferred_address_id = NULL WHERE preferred_address_id = \
             (SELECT id FROM address WHERE email = $1)",
        )
        .bind(email.as_str())
        .execute(&mut *tx)
        .await?;
        let unlinked = sqlx::query(
            "UPDATE address SET user_id = NULL WHERE email = $1 AND user_id IS NOT NULL",
        )
        .bind(email.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(unlinked.rows_affected() > 0)
    }

    /// Makes one of the user's addresses its preferred address. NotFound if the user or the
    /// address does not exist; Conflict if the address is not the user's; Invalid if it is not
    /// verified.
    pub async fn set_preferred_address(&self, user: Uuid, email: &EmailAddress) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if !user_exists(&mut tx, user).await? {
            return Err(user_not_found(user));
        }
        let row = sqlx::query("SELECT id, user_id, verified_on FROM address WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::NotFound(format!("address {email}")))?;
        if row.uuid_opt("user_id")? != Some(user) {
            return Err(Error::Conflict(format!(
                "address {email} is not linked to user {}",
                id_text(user)
            )));
        }
        if row.timestamp_opt("verified_on")?.is_none() {
            return Err(Error::Invalid(format!("address {email} is not verified")));
        }
        sqlx::query("UPDATE \"user\" SET preferred_address_id = $1 WHERE id = $2")
            .bind(row.col::<String>("id")?)
            .bind(id_text(user))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Clears the user's preferred address. Returns false if there is no such user.
    pub async fn clear_preferred_address(&self, user: Uuid) -> Result<bool> {
        let done = sqlx::query("UPDATE \"user\" SET preferred_address_id = NULL WHERE id = $1")
            .bind(id_text(user))
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the user's preferences (`None` fields inherit). Returns false if there is no
    /// such user.
    pub async fn set_user_preferences(
        &self,
        user: Uuid,
        preferences: &Preferences,
    ) -> Result<bool> {
        let mut conn = self.writer().acquire().await?;
        let changed =
            preferences::replace(&mut conn, "\"user\"", "id", &id_text(user), preferences).await?;
        Ok(changed > 0)
    }
}
