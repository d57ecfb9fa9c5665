//! Preferences of users and addresses (Mailman's `preferences` rows, here columns of the
//! `"user"` and `address` tables): reading them from a row and replacing them.
//!
//! Every field is NULL for "inherit", as in Mailman: a member's own setting wins, then its
//! address's, then its user's, then the site default (that chain is resolved where it is used,
//! e.g. `posting.rs`). Members' own preferences are [`crate::MemberPreferences`]. These columns
//! are read when needed and never cached by the daemon, so changing them does not bump the
//! change counter.

use mailcast_model::{DeliveryMode, DeliveryStatus};
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::column::{RowExt, corrupt, flag};
use crate::error::Result;

/// The preferences of a user or an address; `None` means "inherit".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    /// Send an acknowledgement for each post.
    pub acknowledge_posts: Option<bool>,
    /// Hide the address from rosters.
    pub hide_address: Option<bool>,
    /// Language code.
    pub preferred_language: Option<String>,
    /// Receive a list copy even when named in To/Cc.
    pub receive_list_copy: Option<bool>,
    /// Receive one's own posts.
    pub receive_own_postings: Option<bool>,
    /// How posts are delivered.
    pub delivery_mode: Option<DeliveryMode>,
    /// Whether delivery is enabled.
    pub delivery_status: Option<DeliveryStatus>,
}

/// The preference columns, qualified by a table alias (`u.`, `a.`) for use in a SELECT.
pub(crate) fn columns(alias: &str) -> String {
    [
        "acknowledge_posts",
        "hide_address",
        "preferred_language",
        "receive_list_copy",
        "receive_own_postings",
        "delivery_mode",
        "delivery_status",
    ]
    .map(|c| format!("{alias}.{c}"))
    .join(", ")
}

/// Reads the columns of [`columns`] from a row.
pub(crate) fn from_row(row: &AnyRow) -> Result<Preferences> {
    Ok(Preferences {
        acknowledge_posts: row.flag("acknowledge_posts")?,
        hide_address: row.flag("hide_address")?,
        preferred_language: row.col("preferred_language")?,
        receive_list_copy: row.flag("receive_list_copy")?,
        receive_own_postings: row.flag("receive_own_postings")?,
        delivery_mode: word(row, "delivery_mode", DeliveryMode::parse)?,
        delivery_status: word(row, "delivery_status", DeliveryStatus::parse)?,
    })
}

fn word<T, E>(row: &AnyRow, name: &str, parse: impl Fn(&str) -> Result<T, E>) -> Result<Option<T>> {
    let text: Option<String> = row.col(name)?;
    text.map(|t| parse(&t).map_err(|_| corrupt(name, &t)))
        .transpose()
}

/// Replaces every preference of the rows of `table` (`"user"` or `address`, a literal of the
/// caller) where `key_column = key`. Returns how many rows changed.
pub(crate) async fn replace(
    conn: &mut AnyConnection,
    table: &'static str,
    key_column: &'static str,
    key: &str,
    preferences: &Preferences,
) -> Result<u64> {
    let sql = format!(
        "UPDATE {table} SET acknowledge_posts = $1, hide_address = $2, preferred_language = $3, \
         receive_list_copy = $4, receive_own_postings = $5, delivery_mode = $6, \
         delivery_status = $7 WHERE {key_column} = $8"
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(flag(preferences.acknowledge_posts))
        .bind(flag(preferences.hide_address))
        .bind(preferences.preferred_language.as_deref())
        .bind(flag(preferences.receive_list_copy))
        .bind(flag(preferences.receive_own_postings))
        .bind(preferences.delivery_mode.map(DeliveryMode::as_str))
        .bind(preferences.delivery_status.map(DeliveryStatus::as_str))
        .bind(key)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
