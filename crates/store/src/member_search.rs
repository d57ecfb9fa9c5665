//! Finding memberships across lists, as Mailman's REST API does: one membership by its id
//! (`/members/<id>`) and a filtered, paged search (`/members/find`).
//!
//! Results come with their list's address and are sorted as Mailman's `find_members` sorts
//! them: by List-Id, then lower-cased email, then role in Mailman's enum order (member, owner,
//! moderator, nonmember). The List-Id order is byte order on both back ends (it is computed
//! from the `C`-collated name and host columns on PostgreSQL). Reads only.

use mailcast_model::{ListAddress, MemberRole};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::column::{RowExt, id_text, list_address, page_bound};
use crate::error::{Error, Result};
use crate::lists::list_key;
use crate::members::{MEMBER_COLUMNS, Member, member_from_row, tally};
use crate::store::Store;

/// What [`Store::find_members`] looks for; every field set must match. Like Mailman, a query
/// with no field set finds nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberQuery {
    /// Only memberships of this list.
    pub list: Option<ListAddress>,
    /// Only memberships of this subscriber: a user id (32 hex digits or hyphenated: every
    /// address of that user), otherwise an email address compared lower-cased, in which `*`
    /// matches any run of characters (Mailman's pattern).
    pub subscriber: Option<String>,
    /// Only memberships in this role.
    pub role: Option<MemberRole>,
}

/// How [`MemberQuery::subscriber`] is matched.
enum Subscriber {
    User(Uuid),
    Email(String),
    Pattern(String),
}

impl Subscriber {
    fn parse(text: &str) -> Subscriber {
        let text = text.trim();
        if !text.contains('@')
            && let Ok(id) = Uuid::try_parse(text)
        {
            return Subscriber::User(id);
        }
        let lower = text.to_lowercase();
        if !lower.contains('*') {
            return Subscriber::Email(lower);
        }
        let mut pattern = String::with_capacity(lower.len() + 4);
        for c in lower.chars() {
            match c {
                '*' => pattern.push('%'),
                '%' | '_' | '\\' => {
                    pattern.push('\\');
                    pattern.push(c);
                }
                c => pattern.push(c),
            }
        }
        Subscriber::Pattern(pattern)
    }
}

/// FROM and JOINs shared by the queries here.
const FROM: &str = "FROM member m JOIN address a ON a.id = m.address_id \
    JOIN mailinglist ml ON ml.id = m.mailinglist_id";

/// Mailman's order of memberships (`_membership_sort_key`): List-Id, email, then role.
const LIST_ORDER: &str = "ml.list_name || '.' || ml.mail_host";
const ROLE_ORDER: &str =
    "CASE m.role WHEN 'member' THEN 1 WHEN 'owner' THEN 2 WHEN 'moderator' THEN 3 ELSE 4 END";

/// The ORDER BY clause of a query: terms fixed by the query's filter are left out, so that a
/// roster (one list, one role) is read in order from `member_roster_idx`.
fn order_by(query: &MemberQuery) -> String {
    let mut terms = Vec::new();
    if query.list.is_none() {
        terms.push(LIST_ORDER);
    }
    terms.push("m.email");
    if query.role.is_none() {
        terms.push(ROLE_ORDER);
    }
    format!("ORDER BY {}", terms.join(", "))
}

/// Adds a bound value and returns its placeholder.
fn next(values: &mut Vec<String>, value: String) -> String {
    values.push(value);
    format!("${}", values.len())
}

fn found_from_row(row: &AnyRow) -> Result<(ListAddress, Member)> {
    let name: String = row.col("list_name")?;
    let mail_host: String = row.col("mail_host")?;
    Ok((list_address(&name, &mail_host)?, member_from_row(row)?))
}

impl Store {
    /// One membership by its member id, with its list's address.
    pub async fn member_by_id(&self, id: Uuid) -> Result<Option<(ListAddress, Member)>> {
        let sql =
            format!("SELECT {MEMBER_COLUMNS}, ml.list_name, ml.mail_host {FROM} WHERE m.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id_text(id))
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(found_from_row).transpose()
    }

    /// One page of the memberships matching `query` (in Mailman's order, see the module
    /// documentation) after skipping `offset`, and how many match in all, read from one
    /// snapshot. An unknown list or subscriber matches nothing.
    pub async fn find_members(
        &self,
        query: &MemberQuery,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<(ListAddress, Member)>, u64)> {
        if query.list.is_none() && query.subscriber.is_none() && query.role.is_none() {
            return Ok((Vec::new(), 0));
        }
        let subscriber = query.subscriber.as_deref().map(Subscriber::parse);
        let subscribed = subscriber.is_some();
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if let Some(list) = &query.list {
            let name = next(&mut values, list.name().as_str().to_string());
            let host = next(&mut values, list.domain().as_str().to_string());
            conditions.push(format!(
                "m.mailinglist_id = (SELECT id FROM mailinglist \
                 WHERE list_name = {name} AND mail_host = {host})"
            ));
        }
        match subscriber {
            Some(Subscriber::User(id)) => {
                conditions.push(format!("a.user_id = {}", next(&mut values, id_text(id))));
            }
            Some(Subscriber::Email(email)) => {
                conditions.push(format!("a.email = {}", next(&mut values, email)));
            }
            Some(Subscriber::Pattern(pattern)) => {
                let p = next(&mut values, pattern);
                conditions.push(format!("a.email LIKE {p} ESCAPE '\\'"));
            }
            None => {}
        }
        if let Some(role) = query.role {
            let p = next(&mut values, role.as_str().to_string());
            conditions.push(format!("m.role = {p}"));
        }
        // The count and the page's ids read only the tables the filter needs (a roster: the
        // covering `member_roster_idx`); the page's rows are then joined by id.
        let mut narrow = String::from("FROM member m");
        if subscribed {
            narrow.push_str(" JOIN address a ON a.id = m.address_id");
        }
        if query.list.is_none() {
            narrow.push_str(" JOIN mailinglist ml ON ml.id = m.mailinglist_id");
        }
        let filter = format!("{narrow} WHERE {}", conditions.join(" AND "));
        let order = order_by(query);
        let page_sql = format!(
            "SELECT {MEMBER_COLUMNS}, ml.list_name, ml.mail_host {FROM} WHERE m.id IN \
             (SELECT m.id {filter} {order} LIMIT ${} OFFSET ${}) {order}",
            values.len() + 1,
            values.len() + 2
        );

        let mut tx = self.begin_snapshot().await?;
        let total: i64 = match &query.list {
            // A roster: the count kept in `member_tally`.
            Some(list) if !subscribed => match list_key(&mut tx, list).await {
                Ok(key) => tally(&mut tx, &key, query.role).await?,
                Err(Error::NotFound(_)) => 0,
                Err(e) => return Err(e),
            },
            _ => {
                let count_sql = format!("SELECT COUNT(*) {filter}");
                let mut count = sqlx::query_scalar(AssertSqlSafe(count_sql));
                for value in &values {
                    count = count.bind(value);
                }
                count.fetch_one(&mut *tx).await?
            }
        };
        let mut page = sqlx::query(AssertSqlSafe(page_sql));
        for value in &values {
            page = page.bind(value);
        }
        let rows = page
            .bind(page_bound(limit))
            .bind(page_bound(offset))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let found = rows.iter().map(found_from_row).collect::<Result<_>>()?;
        Ok((found, total.max(0) as u64))
    }
}
