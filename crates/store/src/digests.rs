//! Digests: the posts a list accumulates, the digests they are set aside into, and the
//! volume and issue numbers (mailman3-more.md §1).
//!
//! A post is added once per incoming spool entry (`source_key`), so a post processed again
//! after a crash is not added twice. Closing a digest ([`Store::close_digest`]) is one write
//! transaction under the list's row lock: it checks the trigger against the waiting posts,
//! creates the `digest_issue` with the numbers before the bump, moves every waiting post into
//! it and stores the bumped numbers, so each post is in exactly one digest on any number of
//! nodes. Sending is claimed per digest ([`Store::claim_digest`], with a lease that another
//! node may take over), and [`Store::digest_sent`] ends it, dropping its posts' text but
//! keeping their `source_key`s: a post whose incoming entry is processed again after a crash
//! that came after its digest went out must still be found, not put in the next digest. The
//! keys of digests sent a while ago are removed by [`Store::prune_sent_digest_posts`].

use jiff::{SignedDuration, Timestamp};
use mailcast_model::{DeliveryMode, EmailAddress, ListAddress};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::column::{RowExt, corrupt, id_text, list_address, micros, new_id, now, page_bound};
use crate::error::Result;
use crate::lists::list_key;
use crate::store::{Backend, Store};

/// A list's digest numbers: what the next digest carries and when the last one went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestNumbers {
    /// The volume.
    pub volume: u64,
    /// The issue number of the next digest.
    pub next_number: u64,
    /// When the last digest was sent (or the numbers bumped).
    pub last_sent_at: Option<Timestamp>,
}

/// When [`Store::close_digest`] closes a digest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DigestTrigger {
    /// When the waiting posts reach this many bytes (`digest_size_threshold` × 1024); a
    /// threshold of 0 never fires.
    Size(f64),
    /// Whenever a post is waiting (`--send`, `--periodic`).
    Force,
    /// When a waiting post was added before this time (the built-in periodic schedule: the
    /// digest due at a send time holds what waited then, checked under the list's lock so
    /// two nodes do not both send).
    WaitingSince(Timestamp),
}

/// A digest set aside, waiting to be built and queued (or being queued by a node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestIssue {
    /// Its id (the delivery jobs' ids derive from it).
    pub id: Uuid,
    /// The list.
    pub list: ListAddress,
    /// The volume it carries.
    pub volume: u64,
    /// The issue number it carries.
    pub number: u64,
    /// When its posts were set aside.
    pub closed_at: Timestamp,
}

/// A member who receives digests, with the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRecipient {
    /// The address as originally spelled.
    pub address: EmailAddress,
    /// `plaintext_digests`, `mime_digests` or `summary_digests`.
    pub mode: DeliveryMode,
}

/// What is waiting for a list's next digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DigestBacklog {
    /// How many posts.
    pub posts: u64,
    /// Their size in bytes.
    pub bytes: u64,
    /// When the oldest was added.
    pub oldest: Option<Timestamp>,
}

const ISSUE_COLUMNS: &str = "d.id, d.volume, d.number, d.closed_at, ml.list_name, ml.mail_host";

fn issue_from_row(row: &AnyRow) -> Result<DigestIssue> {
    let name: String = row.col("list_name")?;
    let host: String = row.col("mail_host")?;
    Ok(DigestIssue {
        id: row.uuid("id")?,
        list: list_address(&name, &host)?,
        volume: row.count("volume")?,
        number: row.count("number")?,
        closed_at: row.timestamp("closed_at")?,
    })
}

fn numbers_from_row(row: &AnyRow) -> Result<DigestNumbers> {
    Ok(DigestNumbers {
        volume: row.count("volume")?,
        next_number: row.count("next_digest_number")?,
        last_sent_at: row.timestamp_opt("digest_last_sent_at")?,
    })
}

fn stored(n: u64) -> i64 {
    page_bound(n)
}

impl Store {
    /// Adds an accepted post to the list's next digest. `Ok(false)` when the post with this
    /// `source_key` is there already (a re-run after a crash).
    pub async fn add_digest_post(
        &self,
        list: &ListAddress,
        source_key: &str,
        message: &[u8],
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let added = sqlx::query(
            "INSERT INTO digest_post (id, mailinglist_id, source_key, added_at, size, message) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (mailinglist_id, source_key) DO NOTHING",
        )
        .bind(id_text(new_id()))
        .bind(&key)
        .bind(source_key)
        .bind(micros(now()))
        .bind(stored(message.len() as u64))
        .bind(message.to_vec())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(added == 1)
    }

    /// Whether the list has a member (role `member`) on any digest delivery mode.
    pub async fn has_digest_members(&self, list: &ListAddress) -> Result<bool> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM member WHERE mailinglist_id = $1 AND delivery_mode <> 'regular' \
             AND role = 'member' LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(found.is_some())
    }

    /// What is waiting for the list's next digest.
    pub async fn digest_backlog(&self, list: &ListAddress) -> Result<DigestBacklog> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        backlog(&mut conn, &key).await
    }

    /// The lists with a post that has waited for their next digest since before `at`.
    pub async fn lists_with_digest_waiting_since(&self, at: Timestamp) -> Result<Vec<ListAddress>> {
        let rows = sqlx::query(
            "SELECT ml.list_name, ml.mail_host FROM mailinglist ml \
             WHERE EXISTS (SELECT 1 FROM digest_post p WHERE p.mailinglist_id = ml.id \
             AND p.issue_id IS NULL AND p.added_at < $1) \
             ORDER BY ml.mail_host, ml.list_name",
        )
        .bind(micros(at))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                list_address(
                    &row.col::<String>("list_name")?,
                    &row.col::<String>("mail_host")?,
                )
            })
            .collect()
    }

    /// The list's digest numbers.
    pub async fn digest_numbers(&self, list: &ListAddress) -> Result<DigestNumbers> {
        let row = sqlx::query(
            "SELECT volume, next_digest_number, digest_last_sent_at FROM mailinglist \
             WHERE list_name = $1 AND mail_host = $2",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| crate::lists::not_found(list))?;
        numbers_from_row(&row)
    }

    /// Bumps the list's numbers with `bump` (Mailman's `--bump`), under the list's row lock;
    /// returns the new numbers.
    pub async fn bump_digest(
        &self,
        list: &ListAddress,
        bump: impl FnOnce(DigestNumbers) -> DigestNumbers,
    ) -> Result<DigestNumbers> {
        let mut tx = self.begin_write().await?;
        let (key, current) = self.lock_numbers(&mut tx, list).await?;
        let next = bump(current);
        store_numbers(&mut tx, &key, next).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Closes the list's current digest if `trigger` fires: the waiting posts become a digest
    /// carrying the current numbers, and the numbers are bumped with `bump` (which gets the
    /// time the digest closes). `None` when nothing fired (or nothing is waiting).
    pub async fn close_digest(
        &self,
        list: &ListAddress,
        trigger: DigestTrigger,
        bump: impl FnOnce(DigestNumbers, Timestamp) -> DigestNumbers,
    ) -> Result<Option<DigestIssue>> {
        let mut tx = self.begin_write().await?;
        let (key, current) = self.lock_numbers(&mut tx, list).await?;
        let DigestBacklog {
            posts,
            bytes,
            oldest,
        } = backlog(&mut tx, &key).await?;
        let fires = match trigger {
            DigestTrigger::Size(kib) => kib > 0.0 && bytes as f64 >= kib * 1024.0,
            DigestTrigger::Force => true,
            DigestTrigger::WaitingSince(at) => oldest.is_some_and(|oldest| oldest < at),
        };
        if posts == 0 || !fires {
            return Ok(None);
        }
        let closed_at = now();
        let issue = DigestIssue {
            id: new_id(),
            list: list.clone(),
            volume: current.volume,
            number: current.next_number,
            closed_at,
        };
        sqlx::query(
            "INSERT INTO digest_issue (id, mailinglist_id, volume, number, closed_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_text(issue.id))
        .bind(&key)
        .bind(stored(issue.volume))
        .bind(stored(issue.number))
        .bind(micros(closed_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE digest_post SET issue_id = $1 WHERE mailinglist_id = $2 AND issue_id IS NULL",
        )
        .bind(id_text(issue.id))
        .bind(&key)
        .execute(&mut *tx)
        .await?;
        store_numbers(&mut tx, &key, bump(current, closed_at)).await?;
        tx.commit().await?;
        Ok(Some(issue))
    }

    /// Claims the oldest digest that is not sent and not claimed by a live node (a claim
    /// older than `lease` is taken over), for `node`.
    pub async fn claim_digest(
        &self,
        node: &str,
        lease: SignedDuration,
    ) -> Result<Option<DigestIssue>> {
        let at = now();
        let stale = at.checked_sub(lease).unwrap_or(Timestamp::UNIX_EPOCH);
        let lock = match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
        };
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {ISSUE_COLUMNS} FROM digest_issue d \
             JOIN mailinglist ml ON ml.id = d.mailinglist_id \
             WHERE d.sent_at IS NULL AND (d.claimed_at IS NULL OR d.claimed_at < $1) \
             ORDER BY d.closed_at, d.id LIMIT 1{lock}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(micros(stale))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let issue = issue_from_row(&row)?;
        sqlx::query("UPDATE digest_issue SET claimed_by = $1, claimed_at = $2 WHERE id = $3")
            .bind(node)
            .bind(micros(at))
            .bind(id_text(issue.id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(issue))
    }

    /// Gives up `node`'s claims on digests not yet sent (the node restarted: what it was
    /// sending is sent again); how many.
    pub async fn release_digest_claims(&self, node: &str) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let released = sqlx::query(
            "UPDATE digest_issue SET claimed_by = NULL, claimed_at = NULL \
             WHERE claimed_by = $1 AND sent_at IS NULL",
        )
        .bind(node)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(released)
    }

    /// The posts of a digest not yet sent, in the order they were added (none once sent).
    pub async fn digest_posts(&self, issue: Uuid) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "SELECT p.message FROM digest_post p JOIN digest_issue i ON i.id = p.issue_id \
             WHERE p.issue_id = $1 AND i.sent_at IS NULL ORDER BY p.added_at, p.id",
        )
        .bind(id_text(issue))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| r.col::<Vec<u8>>("message")).collect()
    }

    /// Marks a digest sent (its jobs are written), drops its posts' text (their keys stay)
    /// and consumes the one-last-digest rows it served.
    pub async fn digest_sent(&self, issue: &DigestIssue) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, &issue.list).await?;
        sqlx::query("DELETE FROM digest_last WHERE mailinglist_id = $1 AND switched_at < $2")
            .bind(&key)
            .bind(micros(issue.closed_at))
            .execute(&mut *tx)
            .await?;
        let issue = issue.id;
        // The text goes; the key stays, so a re-run of the post's entry finds it.
        sqlx::query("UPDATE digest_post SET message = $1, size = 0 WHERE issue_id = $2")
            .bind(Vec::<u8>::new())
            .bind(id_text(issue))
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE digest_issue SET sent_at = $1 WHERE id = $2")
            .bind(micros(now()))
            .bind(id_text(issue))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes the posts (keys) of digests sent before `before`; how many.
    pub async fn prune_sent_digest_posts(&self, before: Timestamp) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query(
            "DELETE FROM digest_post WHERE issue_id IN \
             (SELECT id FROM digest_issue WHERE sent_at IS NOT NULL AND sent_at < $1)",
        )
        .bind(micros(before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }

    /// Who receives `issue`: the members (role `member`, delivery enabled) on a digest mode,
    /// and those who left digest delivery before it closed (one last digest, in the mode
    /// they had), by address, each once.
    pub async fn digest_recipients(&self, issue: &DigestIssue) -> Result<Vec<DigestRecipient>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, &issue.list).await?;
        let rows = sqlx::query(
            "SELECT a.original_email, a.email, m.delivery_mode FROM member m \
             JOIN address a ON a.id = m.address_id \
             WHERE m.mailinglist_id = $1 AND m.role = 'member' \
             AND m.delivery_mode <> 'regular' AND m.delivery_status = 'enabled' \
             UNION \
             SELECT a.original_email, a.email, l.delivery_mode FROM digest_last l \
             JOIN address a ON a.id = l.address_id \
             WHERE l.mailinglist_id = $1 AND l.switched_at < $2 \
             ORDER BY 2",
        )
        .bind(key)
        .bind(micros(issue.closed_at))
        .fetch_all(&mut *conn)
        .await?;
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|row| seen.insert(row.col::<String>("email").unwrap_or_default()))
            .collect();
        rows.iter()
            .map(|row| {
                Ok(DigestRecipient {
                    address: row.email("original_email")?,
                    mode: row.word("delivery_mode", DeliveryMode::parse)?,
                })
            })
            .collect()
    }

    /// The list's key and numbers, with the list row locked for the rest of `tx`.
    async fn lock_numbers(
        &self,
        tx: &mut sqlx::AnyConnection,
        list: &ListAddress,
    ) -> Result<(String, DigestNumbers)> {
        let lock = match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!(
            "SELECT id, volume, next_digest_number, digest_last_sent_at FROM mailinglist \
             WHERE list_name = $1 AND mail_host = $2{lock}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(list.name().as_str())
            .bind(list.domain().as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| crate::lists::not_found(list))?;
        let key: String = row.col("id")?;
        Ok((key, numbers_from_row(&row)?))
    }
}

/// What waits for the next digest of the list with this key.
async fn backlog(conn: &mut sqlx::AnyConnection, key: &str) -> Result<DigestBacklog> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS posts, \
         CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes, MIN(added_at) AS oldest \
         FROM digest_post WHERE mailinglist_id = $1 AND issue_id IS NULL",
    )
    .bind(key)
    .fetch_one(conn)
    .await?;
    Ok(DigestBacklog {
        posts: row.count("posts")?,
        bytes: row.count("bytes")?,
        oldest: row.timestamp_opt("oldest")?,
    })
}

async fn store_numbers(
    tx: &mut sqlx::AnyConnection,
    key: &str,
    numbers: DigestNumbers,
) -> Result<()> {
    if numbers.volume == 0 || numbers.next_number == 0 {
        return Err(corrupt("digest numbers", &numbers.volume));
    }
    sqlx::query(
        "UPDATE mailinglist SET volume = $1, next_digest_number = $2, digest_last_sent_at = $3 \
         WHERE id = $4",
    )
    .bind(stored(numbers.volume))
    .bind(stored(numbers.next_number))
    .bind(numbers.last_sent_at.map(micros))
    .bind(key)
    .execute(tx)
    .await?;
    Ok(())
}
