//! What the posting path asks the store, once per post: facts about the senders, the
//! recipients, and the owners and moderators.
//!
//! Each call is one indexed query: the list is joined in, and a marker row proves that it
//! exists, so a missing list still answers NotFound without a second round trip. Ban patterns that are regular expressions (`^...`)
//! are matched here, in Rust, case-insensitively from the start of the lower-cased address as
//! Mailman's `re.match` does, so callers get a plain `banned` flag; patterns are compiled once
//! per store. This module does not decide anything about the post.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use mailcast_model::{Action, EmailAddress, ListAddress, MemberRole};
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::column::RowExt;
use crate::error::Result;
use crate::lists::{list_key, not_found};
use crate::members::{MEMBER_COLUMNS, Member, member_from_row};
use crate::sql::placeholders;
use crate::store::Store;

/// What the rules need to know about one sender address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderFacts {
    /// The address asked about.
    pub address: EmailAddress,
    /// Each role the address holds on the list, with that membership's own moderation action.
    pub roles: Vec<RoleFacts>,
    /// Whether a list or global ban matches the address.
    pub banned: bool,
}

/// One role of a sender on a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleFacts {
    /// The role.
    pub role: MemberRole,
    /// The membership's own moderation action, if set.
    pub moderation_action: Option<Action>,
}

impl SenderFacts {
    /// Whether the address holds `role` on the list.
    pub fn has_role(&self, role: MemberRole) -> bool {
        self.roles.iter().any(|r| r.role == role)
    }

    /// The moderation action Mailman's rules use: the member's own if it is a member,
    /// otherwise the nonmember record's, if any.
    pub fn moderation_action(&self) -> Option<Action> {
        let of = |role| {
            self.roles
                .iter()
                .find(|r| r.role == role)
                .and_then(|r| r.moderation_action)
        };
        if self.has_role(MemberRole::Member) {
            of(MemberRole::Member)
        } else {
            of(MemberRole::Nonmember)
        }
    }
}

/// One address a post goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The member id.
    pub member_id: Uuid,
    /// The address as originally spelled.
    pub address: EmailAddress,
    /// The display name, if known.
    pub display_name: Option<String>,
    /// Effective `receive_own_postings` (member, else address, else user, else yes).
    pub receive_own_postings: bool,
    /// Effective `receive_list_copy` (member, else address, else user, else yes).
    pub receive_list_copy: bool,
}

/// The recipients, plus one marker row (NULL member id, sorting first) that exists only if
/// the list does, so that one query also answers "no such list". A LEFT JOIN from the list
/// would be simpler to read, but SQLite plans it as a scan of every list's members.
const RECIPIENT_SQL: &str = "SELECT m.id AS member_id, a.original_email, a.display_name, \
    COALESCE(m.receive_own_postings, a.receive_own_postings, u.receive_own_postings, 1) AS own, \
    COALESCE(m.receive_list_copy, a.receive_list_copy, u.receive_list_copy, 1) AS copy, \
    a.email AS sort_key \
    FROM mailinglist ml JOIN member m ON m.mailinglist_id = ml.id \
    JOIN address a ON a.id = m.address_id \
    LEFT JOIN \"user\" u ON u.id = a.user_id \
    WHERE ml.list_name = $1 AND ml.mail_host = $2 AND m.role = 'member' \
    AND m.delivery_mode = 'regular' AND m.delivery_status = 'enabled' AND a.email > $3 \
    UNION ALL \
    SELECT NULL, NULL, NULL, NULL, NULL, '' FROM mailinglist \
    WHERE list_name = $1 AND mail_host = $2 \
    ORDER BY sort_key";

impl Store {
    /// Roles, own moderation actions and ban status of each address on a list, in the order
    /// given. NotFound if the list does not exist.
    pub async fn sender_facts(
        &self,
        list: &ListAddress,
        addresses: &[EmailAddress],
    ) -> Result<Vec<SenderFacts>> {
        if addresses.is_empty() {
            let mut conn = self.reader().acquire().await?;
            list_key(&mut conn, list).await?;
            return Ok(Vec::new());
        }
        let emails = placeholders(3, addresses.len());
        let sql = format!(
            "SELECT 'm' AS kind, a.email AS email, m.role AS role, m.moderation_action AS action \
             FROM mailinglist ml JOIN member m ON m.mailinglist_id = ml.id \
             JOIN address a ON a.id = m.address_id \
             WHERE ml.list_name = $1 AND ml.mail_host = $2 AND a.email IN ({emails}) \
             UNION ALL \
             SELECT 'b', b.email, NULL, NULL FROM ban b \
             WHERE (b.mailinglist_id IS NULL OR b.mailinglist_id = \
                 (SELECT id FROM mailinglist WHERE list_name = $1 AND mail_host = $2)) \
             AND (b.email IN ({emails}) OR b.email LIKE '^%') \
             UNION ALL \
             SELECT 'l', '', NULL, NULL FROM mailinglist WHERE list_name = $1 AND mail_host = $2"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(list.name().as_str())
            .bind(list.domain().as_str());
        for address in addresses {
            query = query.bind(address.as_str());
        }
        let rows = query.fetch_all(self.reader()).await?;

        let mut list_exists = false;
        let mut roles: HashMap<String, Vec<RoleFacts>> = HashMap::new();
        let mut patterns = Vec::new();
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            match kind.as_str() {
                "l" => list_exists = true,
                "m" => {
                    let action: Option<String> = row.col("action")?;
                    roles.entry(row.col("email")?).or_default().push(RoleFacts {
                        role: row.word("role", MemberRole::parse)?,
                        moderation_action: action
                            .map(|a| {
                                Action::parse(&a)
                                    .map_err(|_| crate::column::corrupt("moderation_action", &a))
                            })
                            .transpose()?,
                    });
                }
                _ => patterns.push(row.col::<String>("email")?),
            }
        }
        if !list_exists {
            return Err(not_found(list));
        }
        Ok(addresses
            .iter()
            .map(|address| {
                let mut facts = roles.get(address.as_str()).cloned().unwrap_or_default();
                facts.sort_by_key(|r| r.role.as_str());
                SenderFacts {
                    address: address.clone(),
                    banned: patterns.iter().any(|p| self.ban_matches(p, address)),
                    roles: facts,
                }
            })
            .collect())
    }

    /// Regular-delivery members with delivery enabled, sorted by email.
    pub async fn recipients(&self, list: &ListAddress) -> Result<Vec<Recipient>> {
        self.recipients_after(list, None, None).await
    }

    /// Up to `limit` recipients whose email sorts after `after` (keyset paging for very large
    /// lists; pass the last address of the previous page).
    pub async fn recipients_page(
        &self,
        list: &ListAddress,
        after: Option<&EmailAddress>,
        limit: u64,
    ) -> Result<Vec<Recipient>> {
        self.recipients_after(list, after, Some(limit)).await
    }

    async fn recipients_after(
        &self,
        list: &ListAddress,
        after: Option<&EmailAddress>,
        limit: Option<u64>,
    ) -> Result<Vec<Recipient>> {
        let sql = match limit {
            Some(_) => format!("{RECIPIENT_SQL} LIMIT $4"),
            None => RECIPIENT_SQL.to_string(),
        };
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(list.name().as_str())
            .bind(list.domain().as_str())
            .bind(after.map_or("", |a| a.as_str()));
        if let Some(limit) = limit {
            // One more for the marker row.
            query = query.bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
        }
        // Rows are converted one at a time as they stream in: a driver row costs about a
        // kilobyte, a `Recipient` a tenth of that, and lists have 100,000 members.
        let mut rows = query.fetch(self.reader());
        let mut list_exists = false;
        let mut recipients = Vec::new();
        while let Some(row) = rows.try_next().await? {
            list_exists = true;
            if row.col::<Option<String>>("member_id")?.is_none() {
                continue;
            }
            recipients.push(Recipient {
                member_id: row.uuid("member_id")?,
                address: row.email("original_email")?,
                display_name: row.col("display_name")?,
                receive_own_postings: row.col::<i64>("own")? != 0,
                receive_list_copy: row.col::<i64>("copy")? != 0,
            });
        }
        if !list_exists {
            return Err(not_found(list));
        }
        Ok(recipients)
    }

    /// The owners and moderators of a list, sorted by email then role.
    pub async fn owners_and_moderators(&self, list: &ListAddress) -> Result<Vec<Member>> {
        // As for recipients: a marker row (NULL id) proves the list exists.
        let nulls = vec!["NULL"; MEMBER_COLUMNS.split(',').count()].join(", ");
        let sql = format!(
            "SELECT {MEMBER_COLUMNS}, a.email AS sort_key \
             FROM mailinglist ml JOIN member m ON m.mailinglist_id = ml.id \
             JOIN address a ON a.id = m.address_id \
             WHERE ml.list_name = $1 AND ml.mail_host = $2 AND m.role IN ('owner', 'moderator') \
             UNION ALL \
             SELECT {nulls}, '' FROM mailinglist WHERE list_name = $1 AND mail_host = $2 \
             ORDER BY sort_key, role"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(list.name().as_str())
            .bind(list.domain().as_str())
            .fetch_all(self.reader())
            .await?;
        if rows.is_empty() {
            return Err(not_found(list));
        }
        rows.iter()
            .filter(|row| matches!(row.try_get::<Option<String>, _>("id"), Ok(Some(_))))
            .map(member_from_row)
            .collect()
    }

    /// Whether a ban pattern (a lower-cased address or a `^regex`) matches an address.
    fn ban_matches(&self, pattern: &str, address: &EmailAddress) -> bool {
        if pattern.starts_with('^') {
            self.ban_regex(pattern)
                .is_some_and(|re| re.is_match(address.as_str()))
        } else {
            pattern == address.as_str()
        }
    }
}
