//! The change counter: how the daemon notices what the CLI (another process) changed.
//!
//! Every mutation the daemon must see (domains, lists, settings, members, bans, pending
//! requests, template overrides, moderators' decisions on held posts) bumps the single row of
//! `change_counter` in its own transaction, as its last statement so that the row lock is held
//! briefly on PostgreSQL. A reader polls [`Store::change_counter`] (one indexed read) and
//! reloads what it caches when the value moves. Post numbers, holding a post, bounce scores,
//! autoresponse records, users, domain owners and addresses' verification, display names,
//! links and preferences do not bump it: the daemon reads those when it needs them. Deleting
//! an address (or a user with its addresses) bumps it when memberships went with it.

use sqlx::AnyConnection;

use crate::error::Result;
use crate::store::Store;

/// Bumps the change counter inside the caller's transaction.
pub(crate) async fn bump(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query("UPDATE change_counter SET value = value + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// The current value of the change counter. It only grows.
    pub async fn change_counter(&self) -> Result<i64> {
        let value = sqlx::query_scalar("SELECT value FROM change_counter WHERE id = 1")
            .fetch_one(self.reader())
            .await?;
        Ok(value)
    }
}
