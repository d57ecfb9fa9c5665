//! Domains (mail hosts) and their alias domains.
//!
//! A domain must exist before a list can be created in it. An alias domain (Mailman 3's
//! `alias_domain`) is another host name under which the MTA delivers the same lists; no name
//! can be both a mail host and an alias, or the alias of two domains. Removing a domain that
//! still has lists is refused unless forced, and then removes those lists with their members
//! and holds; removing a domain also removes its template overrides. Domain owners (a table in the schema) get their API with the REST issue.

use jiff::Timestamp;
use mailcast_model::DomainName;
use sqlx::any::AnyRow;

use crate::changes;
use crate::column::{RowExt, micros, now};
use crate::error::{Error, Result};
use crate::store::Store;

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
}
