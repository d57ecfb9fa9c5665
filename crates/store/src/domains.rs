//! Domains (mail hosts) and their alias domains.
//!
//! A domain must exist before a list can be created in it. An alias domain (Mailman 3's
//! `alias_domain`) is another host name under which the MTA delivers the same lists; no name
//! can be both a mail host and an alias, or the alias of two domains. Removing a domain that
//! still has lists is refused unless forced, and then removes those lists with their members
//! and holds; removing a domain also removes its template overrides and its owners. A
//! domain's owners (Mailman's `domain_owner`) are users; they are not cached by the daemon, so
//! changing them does not bump the change counter, while changing a domain does.

use jiff::Timestamp;
use mailcast_model::DomainName;
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::changes;
use crate::column::{RowExt, id_text, micros, now};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::users::{User, user_from_row, user_select};

/// A configured mail host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The mail host, e.g. `lists.example.org`.
    pub mail_host: DomainName,
    /// Another host name whose mail goes to the same lists.
    pub alias_domain: Option<DomainName>,
    /// Free text.
    pub description: String,
    /// When the domain was added.
    pub created_at: Timestamp,
}

const DOMAIN_COLUMNS: &str = "mail_host, alias_domain, description, created_at";

fn domain_from_row(row: &AnyRow) -> Result<Domain> {
    Ok(Domain {
        mail_host: row.word("mail_host", DomainName::parse)?,
        alias_domain: row
            .col::<Option<String>>("alias_domain")?
            .map(|d| DomainName::parse(&d).map_err(|_| crate::column::corrupt("alias_domain", &d)))
            .transpose()?,
        description: row.col("description")?,
        created_at: row.timestamp("created_at")?,
    })
}

/// DomainNotFound unless the domain exists (inside the caller's transaction).
async fn require_domain(conn: &mut AnyConnection, mail_host: &DomainName) -> Result<()> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT mail_host FROM domain WHERE mail_host = $1")
            .bind(mail_host.as_str())
            .fetch_optional(conn)
            .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::DomainNotFound(mail_host.clone())),
    }
}

impl Store {
    /// Adds a domain. Conflict if the mail host is already a domain or an alias domain, or if
    /// the alias domain is already in use.
    pub async fn add_domain(
        &self,
        mail_host: &DomainName,
        alias_domain: Option<&DomainName>,
        description: &str,
    ) -> Result<Domain> {
        if alias_domain == Some(mail_host) {
            return Err(Error::Invalid(format!(
                "{mail_host} cannot be its own alias domain"
            )));
        }
        let alias = alias_domain.map(DomainName::as_str);
        let mut tx = self.begin_write().await?;
        let clashes: Vec<AnyRow> = sqlx::query(
            "SELECT mail_host, alias_domain FROM domain \
             WHERE mail_host IN ($1, $2) OR alias_domain IN ($1, $2)",
        )
        .bind(mail_host.as_str())
        .bind(alias.unwrap_or(mail_host.as_str()))
        .fetch_all(&mut *tx)
        .await?;
        if let Some(row) = clashes.first() {
            let existing: String = row.col("mail_host")?;
            let existing_alias: Option<String> = row.col("alias_domain")?;
            let what = if existing == mail_host.as_str() {
                format!("domain {mail_host} already exists")
            } else if existing_alias.as_deref() == Some(mail_host.as_str()) {
                format!("{mail_host} is already the alias domain of {existing}")
            } else {
                // Only the alias can clash now: it is this row's mail host or alias.
                format!(
                    "{} is already used by domain {existing}",
                    alias.unwrap_or_default()
                )
            };
            return Err(Error::Conflict(what));
        }
        let created_at = now();
        sqlx::query(
            "INSERT INTO domain (mail_host, alias_domain, description, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(mail_host.as_str())
        .bind(alias)
        .bind(description)
        .bind(micros(created_at))
        .execute(&mut *tx)
        .await?;
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(Domain {
            mail_host: mail_host.clone(),
            alias_domain: alias_domain.cloned(),
            description: description.to_string(),
            created_at,
        })
    }

    /// Removes a domain. If it still has lists: Conflict naming their number, unless `force`,
    /// which removes them (with their members and holds) too. Returns how many lists went.
    pub async fn remove_domain(&self, mail_host: &DomainName, force: bool) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let lists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM domain d LEFT JOIN mailinglist ml ON ml.mail_host = d.mail_host \
             WHERE d.mail_host = $1 AND ml.id IS NOT NULL",
        )
        .bind(mail_host.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if lists > 0 && !force {
            return Err(Error::Conflict(format!(
                "domain {mail_host} still has {lists} mailing list{}; remove them first or force",
                if lists == 1 { "" } else { "s" }
            )));
        }
        sqlx::query("DELETE FROM mailinglist WHERE mail_host = $1")
            .bind(mail_host.as_str())
            .execute(&mut *tx)
            .await?;
        let removed = sqlx::query("DELETE FROM domain WHERE mail_host = $1")
            .bind(mail_host.as_str())
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(Error::DomainNotFound(mail_host.clone()));
        }
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(lists as u64)
    }

    /// One domain.
    pub async fn domain(&self, mail_host: &DomainName) -> Result<Domain> {
        let sql = format!("SELECT {DOMAIN_COLUMNS} FROM domain WHERE mail_host = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(mail_host.as_str())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| Error::DomainNotFound(mail_host.clone()))?;
        domain_from_row(&row)
    }

    /// Every domain, by mail host.
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        let sql = format!("SELECT {DOMAIN_COLUMNS} FROM domain ORDER BY mail_host");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(domain_from_row).collect()
    }
    /// Changes a domain's description and alias domain (`Some(None)` removes the alias);
    /// `None` leaves a field as it is. Returns false if there is no such domain. Conflict if
    /// the new alias is already a mail host or another domain's alias; Invalid if it is the
    /// domain itself.
    pub async fn update_domain(
        &self,
        mail_host: &DomainName,
        description: Option<&str>,
        alias_domain: Option<Option<&DomainName>>,
    ) -> Result<bool> {
        if alias_domain == Some(Some(mail_host)) {
            return Err(Error::Invalid(format!(
                "{mail_host} cannot be its own alias domain"
            )));
        }
        let mut tx = self.begin_write().await?;
        if require_domain(&mut tx, mail_host).await.is_err() {
            return Ok(false);
        }
        if let Some(Some(alias)) = alias_domain {
            let clash: Option<String> = sqlx::query_scalar(
                "SELECT mail_host FROM domain \
                 WHERE (mail_host = $1 OR alias_domain = $1) AND mail_host <> $2",
            )
            .bind(alias.as_str())
            .bind(mail_host.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(other) = clash {
                return Err(Error::Conflict(format!(
                    "{alias} is already used by domain {other}"
                )));
            }
        }
        if let Some(description) = description {
            sqlx::query("UPDATE domain SET description = $1 WHERE mail_host = $2")
                .bind(description)
                .bind(mail_host.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(alias) = alias_domain {
            sqlx::query("UPDATE domain SET alias_domain = $1 WHERE mail_host = $2")
                .bind(alias.map(DomainName::as_str))
                .bind(mail_host.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if description.is_some() || alias_domain.is_some() {
            changes::bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The owners of a domain, by creation time then id. DomainNotFound if it does not exist.
    pub async fn domain_owners(&self, mail_host: &DomainName) -> Result<Vec<User>> {
        let mut tx = self.begin_snapshot().await?;
        require_domain(&mut tx, mail_host).await?;
        let sql = format!(
            "{} JOIN domain_owner o ON o.user_id = u.id WHERE o.mail_host = $1 \
             ORDER BY u.created_on, u.id",
            user_select()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(mail_host.as_str())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Makes a user an owner of a domain. Returns false if it already was one.
    /// DomainNotFound or NotFound if the domain or the user does not exist.
    pub async fn add_domain_owner(&self, mail_host: &DomainName, user: Uuid) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        require_domain(&mut tx, mail_host).await?;
        let known: Option<String> = sqlx::query_scalar("SELECT id FROM \"user\" WHERE id = $1")
            .bind(id_text(user))
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(Error::NotFound(format!("user {}", id_text(user))));
        }
        let added = sqlx::query(
            "INSERT INTO domain_owner (mail_host, user_id) VALUES ($1, $2) \
             ON CONFLICT (mail_host, user_id) DO NOTHING",
        )
        .bind(mail_host.as_str())
        .bind(id_text(user))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added.rows_affected() > 0)
    }

    /// Removes one owner of a domain. Returns false if the user was not one of them.
    /// DomainNotFound if the domain does not exist.
    pub async fn remove_domain_owner(&self, mail_host: &DomainName, user: Uuid) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        require_domain(&mut tx, mail_host).await?;
        let removed = sqlx::query("DELETE FROM domain_owner WHERE mail_host = $1 AND user_id = $2")
            .bind(mail_host.as_str())
            .bind(id_text(user))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed.rows_affected() > 0)
    }

    /// Removes every owner of a domain; returns how many there were. DomainNotFound if the
    /// domain does not exist.
    pub async fn remove_domain_owners(&self, mail_host: &DomainName) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        require_domain(&mut tx, mail_host).await?;
        let removed = sqlx::query("DELETE FROM domain_owner WHERE mail_host = $1")
            .bind(mail_host.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed.rows_affected())
    }
}
