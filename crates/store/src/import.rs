//! Bulk subscription: adding many mailboxes to a list in one role, fast and idempotently.
//!
//! Rows go in with multi-row `INSERT ... ON CONFLICT DO NOTHING` statements, a few thousand
//! per transaction: first the missing addresses (unverified, original spelling and display
//! name kept), then the memberships, each finding its address by an indexed lookup. An address
//! that already exists keeps its display name; a mailbox that is already a member in that role
//! (or appears twice in the input) is counted, not duplicated. Each transaction bumps the
//! change counter once and then reports progress. Users are not created (Mailman's
//! `add_member` does create one per new address; the REST issue decides whether we must).

use std::collections::HashSet;

use mailcast_model::{ListAddress, Mailbox, MemberRole};
use sqlx::AssertSqlSafe;

use crate::changes;
use crate::column::{id_text, micros, new_id, now};
use crate::error::Result;
use crate::lists::list_key;
use crate::sql::tuples;
use crate::store::{Backend, Store};

/// Rows per statement on SQLite. sqlx looks up each `$n` placeholder by name, which SQLite
/// does in time linear in the number of placeholders, so a statement costs quadratic time in
/// its parameters: small statements are faster there.
const SQLITE_ROWS_PER_STATEMENT: usize = 100;
/// Rows per statement on PostgreSQL, where each statement is a network round trip.
const POSTGRES_ROWS_PER_STATEMENT: usize = 1000;
/// Rows per transaction: big enough to amortise the commit, small enough to let other writers
/// (the daemon, another CLI) in between.
const ROWS_PER_TRANSACTION: usize = 5000;

/// What [`Store::add_members`] did. `added + already_members` is the number of mailboxes given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New memberships created.
    pub added: usize,
    /// Mailboxes that were already members in that role, or repeated in the input.
    pub already_members: usize,
}

impl Store {
    /// Subscribes mailboxes to a list in one role, creating their addresses as needed.
    /// `progress` is called after each committed transaction with the number of mailboxes
    /// handled so far. NotFound if the list does not exist. A failure leaves the transactions
    /// already committed in place; running the import again completes it.
    pub async fn add_members(
        &self,
        list: &ListAddress,
        role: MemberRole,
        mailboxes: &[Mailbox],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let key = {
            let mut conn = self.reader().acquire().await?;
            list_key(&mut conn, list).await?
        };
        let rows_per_statement = match self.backend() {
            Backend::Sqlite => SQLITE_ROWS_PER_STATEMENT,
            Backend::Postgres => POSTGRES_ROWS_PER_STATEMENT,
        };
        let mut seen = HashSet::with_capacity(mailboxes.len());
        let mut handled = 0;
        for batch in mailboxes.chunks(ROWS_PER_TRANSACTION) {
            let unique: Vec<&Mailbox> = batch
                .iter()
                .filter(|m| seen.insert(m.address.as_str()))
                .collect();
            let mut added = 0;
            if !unique.is_empty() {
                let mut tx = self.begin_write().await?;
                let at = micros(now());
                for rows in unique.chunks(rows_per_statement) {
                    insert_addresses(&mut tx, rows, at).await?;
                    added += insert_members(&mut tx, &key, role, rows, at).await?;
                }
                if added > 0 {
                    changes::bump(&mut tx).await?;
                }
                tx.commit().await?;
            }
            report.added += added;
            report.already_members += batch.len() - added;
            handled += batch.len();
            progress(handled);
        }
        Ok(report)
    }
}

/// Inserts the addresses that do not exist yet (existing ones keep their data).
async fn insert_addresses(
    conn: &mut sqlx::AnyConnection,
    rows: &[&Mailbox],
    registered_on: i64,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO address (id, email, original_email, display_name, registered_on) \
         VALUES {} ON CONFLICT (email) DO NOTHING",
        tuples("({}, $1)", 2, rows.len(), 4)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(registered_on);
    for mailbox in rows {
        query = query
            .bind(id_text(new_id()))
            .bind(mailbox.address.as_str())
            .bind(mailbox.address.original())
            .bind(mailbox.display_name.as_deref());
    }
    query.execute(conn).await?;
    Ok(())
}

/// Inserts the memberships; returns how many were new. Each address id is found by a
/// correlated lookup on the unique email index: a join with the VALUES list would be planned
/// by PostgreSQL as a scan of the whole address table.
async fn insert_members(
    conn: &mut sqlx::AnyConnection,
    list_key: &str,
    role: MemberRole,
    rows: &[&Mailbox],
    subscribed_at: i64,
) -> Result<usize> {
    let sql = format!(
        "INSERT INTO member (id, address_id, mailinglist_id, role, subscribed_at, email) \
         SELECT v.column1, (SELECT a.id FROM address a WHERE a.email = v.column2), $1, $2, $3, \
         v.column2 \
         FROM (VALUES {}) AS v WHERE 1 = 1 \
         ON CONFLICT (mailinglist_id, address_id, role) DO NOTHING",
        tuples("({})", 4, rows.len(), 2)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(list_key)
        .bind(role.as_str())
        .bind(subscribed_at);
    for mailbox in rows {
        query = query.bind(id_text(new_id())).bind(mailbox.address.as_str());
    }
    Ok(query.execute(conn).await?.rows_affected() as usize)
}
