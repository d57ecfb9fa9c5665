//! Bans: addresses (or `^regex` patterns) that may not post or subscribe, per list or global.
//!
//! A literal pattern is stored as a lower-cased, validated address; a pattern starting with
//! `^` is a regular expression (Rust `regex` syntax, matched case-insensitively from the start
//! of the address) and is refused if it does not compile. Matching happens in `posting.rs`
//! (the posting path's sender facts); [`Store::is_banned`] asks it about one address.
//! Adding an existing ban or removing a missing one is not an error: the result says whether
//! anything changed.

use mailcast_model::{EmailAddress, ListAddress};
use sqlx::AnyConnection;

use crate::changes;
use crate::column::{micros, now};
use crate::error::{Error, Result, is_unique_violation};
use crate::lists::list_key;
use crate::store::Store;

/// Compiles a `^regex` ban pattern as it is matched: case-insensitively.
pub(crate) fn compile_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

/// The stored form of a ban pattern, or Invalid.
fn normalise(pattern: &str) -> Result<String> {
    let pattern = pattern.trim();
    if pattern.starts_with('^') {
        compile_pattern(pattern)
            .map_err(|e| Error::Invalid(format!("ban pattern {pattern:?}: {e}")))?;
        Ok(pattern.to_string())
    } else {
        EmailAddress::parse(pattern)
            .map(|a| a.as_str().to_string())
            .map_err(|e| Error::Invalid(format!("ban pattern: {e}")))
    }
}

/// The stored id of the list a ban applies to (`None`: global).
async fn scope_key(conn: &mut AnyConnection, list: Option<&ListAddress>) -> Result<Option<String>> {
    match list {
        Some(list) => Ok(Some(list_key(conn, list).await?)),
        None => Ok(None),
    }
}

impl Store {
    /// Bans an address or `^regex` on a list, or everywhere with `None`. Returns false if the
    /// same ban already existed.
    pub async fn add_ban(&self, list: Option<&ListAddress>, pattern: &str) -> Result<bool> {
        let pattern = normalise(pattern)?;
        let mut tx = self.begin_write().await?;
        let key = scope_key(&mut tx, list).await?;
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM ban WHERE email = $1 AND COALESCE(mailinglist_id, '') = $2",
        )
        .bind(&pattern)
        .bind(key.as_deref().unwrap_or(""))
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let inserted =
            sqlx::query("INSERT INTO ban (email, mailinglist_id, created_at) VALUES ($1, $2, $3)")
                .bind(&pattern)
                .bind(key)
                .bind(micros(now()))
                .execute(&mut *tx)
                .await;
        match inserted {
            // Another process added the same ban since our check (PostgreSQL).
            Err(e) if is_unique_violation(&e) => return Ok(false),
            other => other?,
        };
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Lifts a ban. Returns false if there was no such ban.
    pub async fn remove_ban(&self, list: Option<&ListAddress>, pattern: &str) -> Result<bool> {
        let pattern = normalise(pattern)?;
        let mut tx = self.begin_write().await?;
        let key = scope_key(&mut tx, list).await?;
        let removed =
            sqlx::query("DELETE FROM ban WHERE email = $1 AND COALESCE(mailinglist_id, '') = $2")
                .bind(&pattern)
                .bind(key.as_deref().unwrap_or(""))
                .execute(&mut *tx)
                .await?;
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether `email` matches a ban of the list or a global ban (a literal address,
    /// compared lower-cased, or a `^regex`), exactly as [`Store::sender_facts`] computes
    /// `banned`. NotFound if the list does not exist.
    pub async fn is_banned(&self, list: &ListAddress, email: &EmailAddress) -> Result<bool> {
        let facts = self.sender_facts(list, std::slice::from_ref(email)).await?;
        Ok(facts.first().is_some_and(|f| f.banned))
    }

    /// The ban patterns of a list, or the global ones with `None`, sorted.
    pub async fn bans(&self, list: Option<&ListAddress>) -> Result<Vec<String>> {
        let mut conn = self.reader().acquire().await?;
        let key = scope_key(&mut conn, list).await?;
        let patterns = sqlx::query_scalar(
            "SELECT email FROM ban WHERE COALESCE(mailinglist_id, '') = $1 ORDER BY email",
        )
        .bind(key.as_deref().unwrap_or(""))
        .fetch_all(&mut *conn)
        .await?;
        Ok(patterns)
    }
}
