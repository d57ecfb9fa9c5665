//! Members: reading rosters, removing members, changing a member's moderation and delivery.
//!
//! A member row links an address to a list in one role (member, owner, moderator, nonmember);
//! one address may hold several roles on a list. Preference columns are NULL for "inherit",
//! as in Mailman. Bulk subscription is in `import.rs`; the queries of the posting path are in
//! `posting.rs`; finding memberships across lists (by id, subscriber, role) is in
//! `member_search.rs`. Addresses are never deleted here: Mailman keeps them after
//! unsubscription.

use jiff::Timestamp;
use mailcast_model::{Action, DeliveryMode, DeliveryStatus, EmailAddress, ListAddress, MemberRole};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::changes;
use crate::column::{RowExt, flag, page_bound};
use crate::error::{Error, Result};
use crate::lists::list_key;
use crate::sql::placeholders;
use crate::store::Store;

/// One membership: an address in one role on one list.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The member id (Mailman's `member_id`).
    pub id: Uuid,
    /// The address, as originally spelled.
    pub address: EmailAddress,
    /// The address's display name, if known.
    pub display_name: Option<String>,
    /// The user the address belongs to, if any.
    pub user_id: Option<Uuid>,
    /// The role on the list.
    pub role: MemberRole,
    /// The member's own moderation action; `None` uses the list default.
    pub moderation_action: Option<Action>,
    /// How posts are delivered.
    pub delivery_mode: DeliveryMode,
    /// Whether delivery is enabled.
    pub delivery_status: DeliveryStatus,
    /// The member's own preferences (`None`: inherit).
    pub preferences: MemberPreferences,
    /// Bounce bookkeeping.
    pub bounce: BounceInfo,
    /// When the membership was created.
    pub subscribed_at: Timestamp,
}

/// Mailman's per-member preferences; `None` means "inherit from address, user or site".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberPreferences {
    /// Send an acknowledgement for each post.
    pub acknowledge_posts: Option<bool>,
    /// Hide the address from the roster.
    pub hide_address: Option<bool>,
    /// Language code.
    pub preferred_language: Option<String>,
    /// Receive a list copy even when named in To/Cc.
    pub receive_list_copy: Option<bool>,
    /// Receive one's own posts.
    pub receive_own_postings: Option<bool>,
}

/// A member's bounce record (Mailman's bounce fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BounceInfo {
    /// Current score; delivery is disabled at the list's threshold.
    pub score: f64,
    /// When the last counted bounce arrived.
    pub last_bounce_received: Option<Timestamp>,
    /// When the last "you are disabled" warning went out.
    pub last_warning_sent: Option<Timestamp>,
    /// How many warnings went out.
    pub total_warnings_sent: u64,
}

/// What [`Store::remove_members`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoveReport {
    /// Memberships removed (an address removed from two roles counts twice).
    pub removed: usize,
    /// Addresses that had no matching membership.
    pub not_members: Vec<EmailAddress>,
}

pub(crate) const MEMBER_COLUMNS: &str = "m.id, a.original_email, a.display_name, a.user_id, m.role, \
    m.moderation_action, m.delivery_mode, m.delivery_status, m.acknowledge_posts, \
    m.hide_address, m.preferred_language, m.receive_list_copy, m.receive_own_postings, \
    m.bounce_score, m.last_bounce_received, m.last_warning_sent, m.total_warnings_sent, \
    m.subscribed_at";

pub(crate) fn member_from_row(row: &AnyRow) -> Result<Member> {
    let action: Option<String> = row.col("moderation_action")?;
    Ok(Member {
        id: row.uuid("id")?,
        address: row.email("original_email")?,
        display_name: row.col("display_name")?,
        user_id: row.uuid_opt("user_id")?,
        role: row.word("role", MemberRole::parse)?,
        moderation_action: action
            .map(|a| Action::parse(&a).map_err(|_| crate::column::corrupt("moderation_action", &a)))
            .transpose()?,
        delivery_mode: row.word("delivery_mode", DeliveryMode::parse)?,
        delivery_status: row.word("delivery_status", DeliveryStatus::parse)?,
        preferences: MemberPreferences {
            acknowledge_posts: row.flag("acknowledge_posts")?,
            hide_address: row.flag("hide_address")?,
            preferred_language: row.col("preferred_language")?,
            receive_list_copy: row.flag("receive_list_copy")?,
            receive_own_postings: row.flag("receive_own_postings")?,
        },
        bounce: BounceInfo {
            score: row.col("bounce_score")?,
            last_bounce_received: row.timestamp_opt("last_bounce_received")?,
            last_warning_sent: row.timestamp_opt("last_warning_sent")?,
            total_warnings_sent: row.count("total_warnings_sent")?,
        },
        subscribed_at: row.timestamp("subscribed_at")?,
    })
}

fn member_not_found(list: &ListAddress, address: &EmailAddress, role: MemberRole) -> Error {
    Error::NotFound(format!("{role} {address} of list {list}"))
}

/// How many memberships the list with this key has, in one role or all, as kept in
/// `member_tally` by the schema's triggers.
pub(crate) async fn tally(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    role: Option<MemberRole>,
) -> Result<i64> {
    const SUM: &str = "SELECT CAST(COALESCE(SUM(members), 0) AS BIGINT) FROM member_tally \
        WHERE mailinglist_id = $1";
    let count = match role {
        Some(role) => {
            sqlx::query_scalar(AssertSqlSafe(format!("{SUM} AND role = $2")))
                .bind(key)
                .bind(role.as_str())
                .fetch_one(conn)
                .await?
        }
        None => sqlx::query_scalar(SUM).bind(key).fetch_one(conn).await?,
    };
    Ok(count)
}

/// Optional clauses of a roster query: the role filter and the page window.
fn roster_sql(role: Option<MemberRole>, paged: bool) -> String {
    let mut sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM member m JOIN address a ON a.id = m.address_id \
         WHERE m.mailinglist_id = $1"
    );
    if role.is_some() {
        sql.push_str(" AND m.role = $2");
    }
    // `m.email` (not `a.email`): the order `member_roster_idx` keeps.
    sql.push_str(" ORDER BY m.email, m.role");
    if paged {
        let first = if role.is_some() { 3 } else { 2 };
        sql.push_str(&format!(" LIMIT ${first} OFFSET ${}", first + 1));
    }
    sql
}

impl Store {
    /// The memberships of a list, in one role or all, sorted by email then role.
    pub async fn members(
        &self,
        list: &ListAddress,
        role: Option<MemberRole>,
    ) -> Result<Vec<Member>> {
        self.roster(list, role, None).await
    }

    /// One page of [`Store::members`]: `limit` memberships after skipping `offset`.
    pub async fn members_page(
        &self,
        list: &ListAddress,
        role: Option<MemberRole>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Member>> {
        self.roster(list, role, Some((offset, limit))).await
    }

    async fn roster(
        &self,
        list: &ListAddress,
        role: Option<MemberRole>,
        page: Option<(u64, u64)>,
    ) -> Result<Vec<Member>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let sql = roster_sql(role, page.is_some());
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(key);
        if let Some(role) = role {
            query = query.bind(role.as_str());
        }
        if let Some((offset, limit)) = page {
            query = query.bind(page_bound(limit)).bind(page_bound(offset));
        }
        let rows = query.fetch_all(&mut *conn).await?;
        rows.iter().map(member_from_row).collect()
    }

    /// How many memberships a list has, in one role or all (from `member_tally`).
    pub async fn member_count(&self, list: &ListAddress, role: Option<MemberRole>) -> Result<u64> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let count = tally(&mut conn, &key, role).await?;
        Ok(count.max(0) as u64)
    }

    /// Every role an address holds on a list (empty if none).
    pub async fn member(&self, list: &ListAddress, address: &EmailAddress) -> Result<Vec<Member>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM member m JOIN address a ON a.id = m.address_id \
             WHERE m.mailinglist_id = $1 AND a.email = $2 ORDER BY m.role"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(key)
            .bind(address.as_str())
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(member_from_row).collect()
    }

    /// Removes memberships of these addresses, in one role or all. Reports how many went and
    /// which addresses had none.
    pub async fn remove_members(
        &self,
        list: &ListAddress,
        role: Option<MemberRole>,
        addresses: &[EmailAddress],
    ) -> Result<RemoveReport> {
        let mut report = RemoveReport::default();
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&EmailAddress> = addresses
            .iter()
            .filter(|a| seen.insert(a.as_str()))
            .collect();
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        for chunk in unique.chunks(500) {
            let mut sql = format!(
                "SELECT m.id, a.email FROM member m JOIN address a ON a.id = m.address_id \
                 WHERE m.mailinglist_id = $1 AND a.email IN ({})",
                placeholders(2, chunk.len())
            );
            if role.is_some() {
                sql.push_str(&format!(" AND m.role = ${}", chunk.len() + 2));
            }
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(&key);
            for address in chunk {
                query = query.bind(address.as_str());
            }
            if let Some(role) = role {
                query = query.bind(role.as_str());
            }
            let found = query.fetch_all(&mut *tx).await?;
            let mut ids = Vec::with_capacity(found.len());
            let mut emails = std::collections::HashSet::new();
            for row in &found {
                ids.push(row.try_get::<String, _>("id")?);
                emails.insert(row.try_get::<String, _>("email")?);
            }
            report.not_members.extend(
                chunk
                    .iter()
                    .filter(|a| !emails.contains(a.as_str()))
                    .map(|a| (*a).clone()),
            );
            if ids.is_empty() {
                continue;
            }
            let sql = format!(
                "DELETE FROM member WHERE id IN ({})",
                placeholders(1, ids.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in &ids {
                query = query.bind(id);
            }
            report.removed += query.execute(&mut *tx).await?.rows_affected() as usize;
        }
        if report.removed > 0 {
            changes::bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Sets (or, with `None`, clears) a member's own moderation action. NotFound if the
    /// address has no membership in that role.
    pub async fn set_moderation_action(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        role: MemberRole,
        action: Option<Action>,
    ) -> Result<()> {
        self.update_member(
            list,
            address,
            role,
            "moderation_action",
            action.map(|a| a.as_str()),
        )
        .await
    }

    /// Sets a member's delivery status (enabled, or disabled by whom). NotFound if the
    /// address has no membership in that role.
    pub async fn set_delivery_status(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        role: MemberRole,
        status: DeliveryStatus,
    ) -> Result<()> {
        self.update_member(
            list,
            address,
            role,
            "delivery_status",
            Some(status.as_str()),
        )
        .await
    }

    /// Sets how a member receives posts (regular or a digest kind). NotFound if the address
    /// has no membership in that role.
    pub async fn set_delivery_mode(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        role: MemberRole,
        mode: DeliveryMode,
    ) -> Result<()> {
        self.update_member(list, address, role, "delivery_mode", Some(mode.as_str()))
            .await
    }

    /// Replaces a member's own preferences (`None` fields inherit). NotFound if the address
    /// has no membership in that role.
    pub async fn set_preferences(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        role: MemberRole,
        preferences: &MemberPreferences,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let updated = sqlx::query(
            "UPDATE member SET acknowledge_posts = $1, hide_address = $2, \
             preferred_language = $3, receive_list_copy = $4, receive_own_postings = $5 \
             WHERE mailinglist_id = $6 AND role = $7 \
             AND address_id = (SELECT id FROM address WHERE email = $8)",
        )
        .bind(flag(preferences.acknowledge_posts))
        .bind(flag(preferences.hide_address))
        .bind(preferences.preferred_language.as_deref())
        .bind(flag(preferences.receive_list_copy))
        .bind(flag(preferences.receive_own_postings))
        .bind(key)
        .bind(role.as_str())
        .bind(address.as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(member_not_found(list, address, role));
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets one text column of a membership; `column` is one of this module's literals.
    async fn update_member(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        role: MemberRole,
        column: &'static str,
        value: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let key = list_key(&mut tx, list).await?;
        let sql = format!(
            "UPDATE member SET {column} = $1 WHERE mailinglist_id = $2 AND role = $3 \
             AND address_id = (SELECT id FROM address WHERE email = $4)"
        );
        let updated = sqlx::query(AssertSqlSafe(sql))
            .bind(value)
            .bind(key)
            .bind(role.as_str())
            .bind(address.as_str())
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(member_not_found(list, address, role));
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
