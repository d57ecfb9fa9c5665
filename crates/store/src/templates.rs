//! Template overrides: texts that replace mailcast's built-in templates for the whole site,
//! one domain or one list (Mailman's `template` table; names like `list:user:notice:welcome`).
//!
//! A record keeps the URI the text came from (a `file:` or `http(s):` URL, as Mailman's REST
//! `/uris` takes it), any credentials for it, and the text itself, which the caller fetched
//! when it set the record: nothing is fetched at run time. A name has at most one record per
//! scope; a list's effective overrides are its own, then its domain's, then the site's.
//! Changes bump the change counter; removing a list or domain removes its records. This module
//! neither fetches URIs nor renders templates.

use jiff::Timestamp;
use mailcast_model::{DomainName, ListAddress};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::changes;
use crate::column::{RowExt, corrupt, list_address, micros, now};
use crate::error::{Error, Result};
use crate::lists::list_key;
use crate::store::Store;

/// Where a template override applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TemplateScope {
    /// Every list of the site.
    Site,
    /// Every list of one domain (mail host).
    Domain(DomainName),
    /// One list.
    List(ListAddress),
}

/// A stored template override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    /// Where it applies.
    pub scope: TemplateScope,
    /// The template name, e.g. `list:user:notice:welcome`.
    pub name: String,
    /// Where the text came from.
    pub uri: String,
    /// The text, as fetched when the record was set.
    pub text: String,
    /// The user name for fetching `uri`, if it needs one.
    pub username: Option<String>,
    /// The password for fetching `uri`, if it needs one.
    pub password: Option<String>,
    /// When the record was last set.
    pub updated_at: Timestamp,
}

/// Every column a record needs, its list's address included (NULL unless list-scoped).
const TEMPLATE_SELECT: &str = "SELECT t.name, t.uri, t.text, t.username, t.password, \
    t.updated_at, t.mail_host AS domain, ml.list_name, ml.mail_host AS list_host \
    FROM template t LEFT JOIN mailinglist ml ON ml.id = t.mailinglist_id";

/// Sorts rows by scope (site, domains, lists), then by domain and list, then by name.
const SCOPE_ORDER: &str = "CASE WHEN t.mailinglist_id IS NOT NULL THEN 2 \
    WHEN t.mail_host IS NOT NULL THEN 1 ELSE 0 END, \
    COALESCE(ml.mail_host, t.mail_host, ''), COALESCE(ml.list_name, ''), t.name";

fn template_from_row(row: &AnyRow) -> Result<TemplateRecord> {
    let list_name: Option<String> = row.col("list_name")?;
    let list_host: Option<String> = row.col("list_host")?;
    let domain: Option<String> = row.col("domain")?;
    let scope = match (list_name, list_host, domain) {
        (Some(name), Some(host), None) => TemplateScope::List(list_address(&name, &host)?),
        (None, None, Some(domain)) => TemplateScope::Domain(
            DomainName::parse(&domain).map_err(|_| corrupt("template.mail_host", &domain))?,
        ),
        (None, None, None) => TemplateScope::Site,
        other => return Err(corrupt("template scope", &other)),
    };
    Ok(TemplateRecord {
        scope,
        name: row.col("name")?,
        uri: row.col("uri")?,
        text: row.col("text")?,
        username: row.col("username")?,
        password: row.col("password")?,
        updated_at: row.timestamp("updated_at")?,
    })
}

/// The stored scope columns (`mailinglist_id`, `mail_host`) of a scope. NotFound for an
/// unknown list, DomainNotFound for an unknown domain.
async fn scope_columns(
    conn: &mut AnyConnection,
    scope: &TemplateScope,
) -> Result<(Option<String>, Option<String>)> {
    match scope {
        TemplateScope::Site => Ok((None, None)),
        TemplateScope::List(list) => Ok((Some(list_key(conn, list).await?), None)),
        TemplateScope::Domain(domain) => {
            let found: Option<String> =
                sqlx::query_scalar("SELECT mail_host FROM domain WHERE mail_host = $1")
                    .bind(domain.as_str())
                    .fetch_optional(conn)
                    .await?;
            match found {
                Some(mail_host) => Ok((None, Some(mail_host))),
                None => Err(Error::DomainNotFound(domain.clone())),
            }
        }
    }
}

/// The condition selecting one scope's rows, on the scope's unique index; binds `$1`, `$2`.
const IN_SCOPE: &str = "COALESCE(t.mailinglist_id, '') = $1 AND COALESCE(t.mail_host, '') = $2";

impl Store {
    /// Sets the override `name` of a scope to `text`, fetched from `uri` (with `credentials`,
    /// user name and password, if it needed them), replacing any earlier one. NotFound for an
    /// unknown list, DomainNotFound for an unknown domain, Invalid for an empty name. Bumps
    /// the change counter.
    pub async fn set_template(
        &self,
        scope: &TemplateScope,
        name: &str,
        uri: &str,
        text: &str,
        credentials: Option<(&str, &str)>,
    ) -> Result<()> {
        if name.trim().is_empty() {
            return Err(Error::Invalid("a template needs a name".into()));
        }
        let mut tx = self.begin_write().await?;
        let (list_key, mail_host) = scope_columns(&mut tx, scope).await?;
        sqlx::query(
            "INSERT INTO template \
             (name, mailinglist_id, mail_host, uri, text, username, password, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (COALESCE(mailinglist_id, ''), COALESCE(mail_host, ''), name) \
             DO UPDATE SET uri = excluded.uri, text = excluded.text, \
             username = excluded.username, password = excluded.password, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(list_key)
        .bind(mail_host)
        .bind(uri)
        .bind(text)
        .bind(credentials.map(|(user, _)| user))
        .bind(credentials.map(|(_, password)| password))
        .bind(micros(now()))
        .execute(&mut *tx)
        .await?;
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The override `name` of exactly this scope, if set (no fallback to wider scopes: see
    /// [`Store::templates_for_list`]). NotFound / DomainNotFound for an unknown list / domain.
    pub async fn template(
        &self,
        scope: &TemplateScope,
        name: &str,
    ) -> Result<Option<TemplateRecord>> {
        let mut conn = self.reader().acquire().await?;
        let (list_key, mail_host) = scope_columns(&mut conn, scope).await?;
        let sql = format!("{TEMPLATE_SELECT} WHERE {IN_SCOPE} AND t.name = $3");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(list_key.unwrap_or_default())
            .bind(mail_host.unwrap_or_default())
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
        row.as_ref().map(template_from_row).transpose()
    }

    /// Every override of one scope, or of every scope with `None`, sorted by scope (site,
    /// then domains, then lists, each by address) then name. NotFound / DomainNotFound for an
    /// unknown list / domain.
    pub async fn templates(&self, scope: Option<&TemplateScope>) -> Result<Vec<TemplateRecord>> {
        let mut conn = self.reader().acquire().await?;
        let rows = match scope {
            Some(scope) => {
                let (list_key, mail_host) = scope_columns(&mut conn, scope).await?;
                let sql = format!("{TEMPLATE_SELECT} WHERE {IN_SCOPE} ORDER BY {SCOPE_ORDER}");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(list_key.unwrap_or_default())
                    .bind(mail_host.unwrap_or_default())
                    .fetch_all(&mut *conn)
                    .await?
            }
            None => {
                let sql = format!("{TEMPLATE_SELECT} ORDER BY {SCOPE_ORDER}");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *conn)
                    .await?
            }
        };
        rows.iter().map(template_from_row).collect()
    }

    /// Removes the override `name` of a scope; returns whether there was one. NotFound /
    /// DomainNotFound for an unknown list / domain. Bumps the change counter when one went.
    pub async fn remove_template(&self, scope: &TemplateScope, name: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let (list_key, mail_host) = scope_columns(&mut tx, scope).await?;
        let removed = sqlx::query(
            "DELETE FROM template WHERE COALESCE(mailinglist_id, '') = $1 \
             AND COALESCE(mail_host, '') = $2 AND name = $3",
        )
        .bind(list_key.unwrap_or_default())
        .bind(mail_host.unwrap_or_default())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every override that applies to a list, one per name, sorted by name: the list's own if
    /// it has one, else its domain's, else the site's. NotFound if the list does not exist.
    /// Two queries, whatever the number of names.
    pub async fn templates_for_list(&self, list: &ListAddress) -> Result<Vec<TemplateRecord>> {
        let mut conn = self.reader().acquire().await?;
        let key = list_key(&mut conn, list).await?;
        let sql = format!(
            "{TEMPLATE_SELECT} WHERE t.mailinglist_id = $1 OR t.mail_host = $2 \
             OR (t.mailinglist_id IS NULL AND t.mail_host IS NULL) \
             ORDER BY t.name, CASE WHEN t.mailinglist_id IS NOT NULL THEN 0 \
             WHEN t.mail_host IS NOT NULL THEN 1 ELSE 2 END"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(list.domain().as_str())
            .fetch_all(&mut *conn)
            .await?;
        let mut effective: Vec<TemplateRecord> = Vec::new();
        for row in &rows {
            let record = template_from_row(row)?;
            // Rows come by name, most specific first: keep the first of each name.
            if effective.last().is_none_or(|last| last.name != record.name) {
                effective.push(record);
            }
        }
        Ok(effective)
    }
}
