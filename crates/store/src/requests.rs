//! Pending requests: subscriptions and unsubscriptions waiting for a confirmation or a
//! moderator (Mailman's pended requests), each named by its token.
//!
//! At most one request of a kind is pending per list and lower-cased address; a second one is
//! a Conflict. Taking a request removes it, so a token is used once: of two concurrent takers
//! exactly one gets it (one `DELETE ... RETURNING`). Reissuing replaces a token by a new
//! request in one transaction (Mailman's confirm-then-moderate). Expired requests stay until
//! [`Store::expire_requests`] removes them. Every change bumps the change counter. This module
//! neither makes tokens nor decides what a confirmation does: callers do.

use jiff::Timestamp;
use mailcast_model::{DeliveryMode, EmailAddress, ListAddress};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::changes;
use crate::column::{RowExt, list_address, micros};
use crate::error::{Error, Result, is_unique_violation};
use crate::lists::list_key;
use crate::store::Store;

mailcast_model::vocabulary! {
    /// What a pending request asks for.
    pub enum RequestKind {
        /// To join the list.
        Subscription = "subscription",
        /// To leave the list.
        Unsubscription = "unsubscription",
    }
}

mailcast_model::vocabulary! {
    /// Who holds the token of a pending request, that is, whose answer it waits for
    /// (Mailman's `TokenOwner`).
    pub enum TokenOwner {
        /// Nobody: the request needs no answer.
        NoOne = "no_one",
        /// The subscriber, who confirms by mail or on the web.
        Subscriber = "subscriber",
        /// The list's moderators, who approve or refuse.
        Moderator = "moderator",
    }
}

/// A subscription or unsubscription request waiting for an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// The confirmation token, unique across all lists.
    pub token: String,
    /// The list the request is for.
    pub list: ListAddress,
    /// Subscription or unsubscription.
    pub kind: RequestKind,
    /// The address, as originally spelled (matched on its lower-cased form).
    pub email: EmailAddress,
    /// The display name the subscriber gave, if any.
    pub display_name: Option<String>,
    /// How the subscriber asked to receive posts.
    pub delivery_mode: DeliveryMode,
    /// Whose answer the request waits for.
    pub token_owner: TokenOwner,
    /// When the request was made (stored to the microsecond).
    pub created_at: Timestamp,
    /// When it expires (stored to the microsecond).
    pub expires_at: Timestamp,
}

/// The columns of a request, its list's address included. Written with correlated subqueries
/// rather than a join so that the same list serves `SELECT` and `DELETE ... RETURNING`.
const REQUEST_COLUMNS: &str = "token, kind, original_email, display_name, delivery_mode, \
    token_owner, created_at, expires_at, \
    (SELECT list_name FROM mailinglist WHERE mailinglist.id = pending_request.mailinglist_id) \
    AS list_name, \
    (SELECT mail_host FROM mailinglist WHERE mailinglist.id = pending_request.mailinglist_id) \
    AS list_host";

fn request_from_row(row: &AnyRow) -> Result<PendingRequest> {
    Ok(PendingRequest {
        token: row.col("token")?,
        list: list_address(
            &row.col::<String>("list_name")?,
            &row.col::<String>("list_host")?,
        )?,
        kind: row.word("kind", RequestKind::parse)?,
        email: row.email("original_email")?,
        display_name: row.col("display_name")?,
        delivery_mode: row.word("delivery_mode", DeliveryMode::parse)?,
        token_owner: row.word("token_owner", TokenOwner::parse)?,
        created_at: row.timestamp("created_at")?,
        expires_at: row.timestamp("expires_at")?,
    })
}

/// Tokens are secrets mailed to one person: errors do not repeat them.
fn token_not_found() -> Error {
    Error::NotFound("pending request with that token".into())
}

fn already_pending(kind: RequestKind, email: &EmailAddress, list: &ListAddress) -> Error {
    Error::Conflict(format!(
        "a {kind} request for {email} is already pending on {list}"
    ))
}

/// Inserts a request inside the caller's write transaction, after checking that its list
/// exists and that neither its token nor its (list, kind, address) is taken.
async fn insert(conn: &mut AnyConnection, request: &PendingRequest) -> Result<()> {
    if request.token.is_empty() {
        return Err(Error::Invalid("a pending request needs a token".into()));
    }
    let key = list_key(conn, &request.list).await?;
    let pending: Option<String> = sqlx::query_scalar(
        "SELECT token FROM pending_request \
         WHERE mailinglist_id = $1 AND kind = $2 AND email = $3",
    )
    .bind(&key)
    .bind(request.kind.as_str())
    .bind(request.email.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let conflict = || already_pending(request.kind, &request.email, &request.list);
    if pending.is_some() {
        return Err(conflict());
    }
    let token_taken: Option<String> =
        sqlx::query_scalar("SELECT token FROM pending_request WHERE token = $1")
            .bind(&request.token)
            .fetch_optional(&mut *conn)
            .await?;
    if token_taken.is_some() {
        return Err(Error::Conflict(
            "the token of a pending request is already in use".into(),
        ));
    }
    let inserted = sqlx::query(
        "INSERT INTO pending_request (token, mailinglist_id, kind, email, original_email, \
         display_name, delivery_mode, token_owner, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&request.token)
    .bind(&key)
    .bind(request.kind.as_str())
    .bind(request.email.as_str())
    .bind(request.email.original())
    .bind(request.display_name.as_deref())
    .bind(request.delivery_mode.as_str())
    .bind(request.token_owner.as_str())
    .bind(micros(request.created_at))
    .bind(micros(request.expires_at))
    .execute(&mut *conn)
    .await;
    match inserted {
        // Another process added the same request since our check (PostgreSQL).
        Err(e) if is_unique_violation(&e) => Err(conflict()),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(()),
    }
}

impl Store {
    /// Records a pending request. Conflict if a request of this kind for this address is
    /// already pending on the list (or the token is in use), NotFound if the list does not
    /// exist, Invalid for an empty token. Bumps the change counter.
    pub async fn add_request(&self, request: &PendingRequest) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert(&mut tx, request).await?;
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The request with this token. NotFound if there is none.
    pub async fn request(&self, token: &str) -> Result<PendingRequest> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM pending_request WHERE token = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(token_not_found)?;
        request_from_row(&row)
    }

    /// A list's requests, oldest first, of one kind or all. NotFound if the list does not
    /// exist.
    pub async fn requests(
        &self,
        list: &ListAddress,
        kind: Option<RequestKind>,
    ) -> Result<Vec<PendingRequest>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let filter = if kind.is_some() { " AND kind = $2" } else { "" };
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM pending_request WHERE mailinglist_id = $1{filter} \
             ORDER BY created_at, token"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key);
        if let Some(kind) = kind {
            query = query.bind(kind.as_str());
        }
        let rows = query.fetch_all(&mut *conn).await?;
        rows.iter().map(request_from_row).collect()
    }

    /// The pending request of this kind for this address (compared lower-cased) on the list,
    /// if any. NotFound if the list does not exist.
    pub async fn pending_request_for(
        &self,
        list: &ListAddress,
        kind: RequestKind,
        email: &EmailAddress,
    ) -> Result<Option<PendingRequest>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM pending_request \
             WHERE mailinglist_id = $1 AND kind = $2 AND email = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(kind.as_str())
            .bind(email.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// Removes and returns the request with this token. A token is used once: of two
    /// concurrent callers exactly one gets the request and the other NotFound. Bumps the
    /// change counter.
    pub async fn take_request(&self, token: &str) -> Result<PendingRequest> {
        let mut tx = self.begin_write().await?;
        let sql =
            format!("DELETE FROM pending_request WHERE token = $1 RETURNING {REQUEST_COLUMNS}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(token_not_found)?;
        let request = request_from_row(&row)?;
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Replaces the request `old_token` by `new` in one transaction (confirm-then-moderate:
    /// the subscriber's token is used up and a moderator's issued). NotFound if `old_token` is
    /// gone (or `new`'s list does not exist); Conflict as [`Store::add_request`]. Bumps the
    /// change counter.
    pub async fn reissue_request(&self, old_token: &str, new: &PendingRequest) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("DELETE FROM pending_request WHERE token = $1")
            .bind(old_token)
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(token_not_found());
        }
        insert(&mut tx, new).await?;
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes and returns every request (of every list) with `expires_at <= now`, by
    /// expiry then token. Bumps the change counter when any went.
    pub async fn expire_requests(&self, now: Timestamp) -> Result<Vec<PendingRequest>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "DELETE FROM pending_request WHERE expires_at <= $1 RETURNING {REQUEST_COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(micros(now))
            .fetch_all(&mut *tx)
            .await?;
        let mut expired = rows
            .iter()
            .map(request_from_row)
            .collect::<Result<Vec<_>>>()?;
        if !expired.is_empty() {
            changes::bump(&mut tx).await?;
        }
        tx.commit().await?;
        expired.sort_by(|a, b| (a.expires_at, &a.token).cmp(&(b.expires_at, &b.token)));
        Ok(expired)
    }
}
