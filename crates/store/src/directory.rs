//! The directory snapshot: every domain and list with its settings, read consistently.
//!
//! The daemon keeps this in memory to resolve recipients and run the pipeline without a query
//! per RCPT, and reloads it when [`Store::change_counter`] moves. The snapshot carries the
//! counter value it was read at, from the same database snapshot, so a change committed while
//! it is read is never missed. A process that resolves one address and exits (`mailcast
//! inject`) reads only the part it needs ([`Store::directory_for`]): its cost does not grow
//! with the number of lists. It does not index anything: the daemon builds its own lookups.

use mailcast_model::{DomainName, ListAddress, ListSettings};
use sqlx::any::AnyRow;

use crate::archivers::{ArchiverSwitches, parse_switches};
use crate::column::{RowExt, corrupt, list_address};
use crate::error::Result;
use crate::lists::parse_settings;
use crate::sql::placeholders;
use crate::store::Store;

/// Domains and lists as of one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    /// The change counter this snapshot corresponds to.
    pub change_counter: i64,
    /// Every domain, by mail host.
    pub domains: Vec<DirectoryDomain>,
    /// Every list, by mail host then name.
    pub lists: Vec<DirectoryList>,
}

/// A domain in the [`Directory`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryDomain {
    /// The mail host.
    pub mail_host: DomainName,
    /// Its alias domain, if any.
    pub alias_domain: Option<DomainName>,
}

/// A list in the [`Directory`].
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryList {
    /// The posting address.
    pub address: ListAddress,
    /// The List-Id label.
    pub list_id: String,
    /// Every setting.
    pub settings: ListSettings,
    /// The list's own archiver switches ([`Store::list_archivers`]).
    pub archivers: ArchiverSwitches,
}

impl Store {
    /// Reads every domain and list in one consistent snapshot.
    pub async fn directory(&self) -> Result<Directory> {
        let mut tx = self.begin_snapshot().await?;
        let change_counter: i64 =
            sqlx::query_scalar("SELECT value FROM change_counter WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let domains = sqlx::query("SELECT mail_host, alias_domain FROM domain ORDER BY mail_host")
            .fetch_all(&mut *tx)
            .await?;
        let lists = sqlx::query(
            "SELECT list_name, mail_host, list_id, settings, archivers FROM mailinglist \
             ORDER BY mail_host, list_name",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        from_rows(change_counter, &domains, &lists)
    }

    /// The part of the directory that resolving addresses at `domains` needs, read in one
    /// consistent snapshot with indexed lookups only: the domains whose mail host or alias
    /// domain is one of `domains`, and those of their lists whose name is one of `names`.
    ///
    /// Callers pass every name an address could denote (for `dev-bounces+x@a.example`: `dev`
    /// and `dev-bounces`); names that are not lists are simply absent from the result.
    /// Domains and names are compared as given: pass them lower-cased, as they are stored.
    pub async fn directory_for(&self, domains: &[&str], names: &[&str]) -> Result<Directory> {
        let mut tx = self.begin_snapshot().await?;
        let change_counter: i64 =
            sqlx::query_scalar("SELECT value FROM change_counter WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        if domains.is_empty() {
            tx.commit().await?;
            return Ok(Directory {
                change_counter,
                domains: Vec::new(),
                lists: Vec::new(),
            });
        }
        let wanted = placeholders(1, domains.len());
        let sql = format!(
            "SELECT mail_host, alias_domain FROM domain \
             WHERE mail_host IN ({wanted}) OR alias_domain IN ({wanted}) ORDER BY mail_host"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for domain in domains {
            query = query.bind(*domain);
        }
        let domain_rows = query.fetch_all(&mut *tx).await?;
        let hosts: Vec<String> = domain_rows
            .iter()
            .map(|row| row.col::<String>("mail_host"))
            .collect::<Result<_>>()?;
        let list_rows = if hosts.is_empty() || names.is_empty() {
            Vec::new()
        } else {
            let sql = format!(
                "SELECT list_name, mail_host, list_id, settings, archivers FROM mailinglist \
                 WHERE mail_host IN ({}) AND list_name IN ({}) ORDER BY mail_host, list_name",
                placeholders(1, hosts.len()),
                placeholders(hosts.len() + 1, names.len()),
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for host in &hosts {
                query = query.bind(host.as_str());
            }
            for name in names {
                query = query.bind(*name);
            }
            query.fetch_all(&mut *tx).await?
        };
        tx.commit().await?;
        from_rows(change_counter, &domain_rows, &list_rows)
    }
}

/// Builds a [`Directory`] from `domain` rows (`mail_host`, `alias_domain`) and `mailinglist`
/// rows (`list_name`, `mail_host`, `list_id`, `settings`, `archivers`).
fn from_rows(change_counter: i64, domains: &[AnyRow], lists: &[AnyRow]) -> Result<Directory> {
    let domains = domains
        .iter()
        .map(|row| {
            let alias: Option<String> = row.col("alias_domain")?;
            Ok(DirectoryDomain {
                mail_host: row.word("mail_host", DomainName::parse)?,
                alias_domain: alias
                    .map(|a| DomainName::parse(&a).map_err(|_| corrupt("alias_domain", &a)))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let lists = lists
        .iter()
        .map(|row| {
            let address = list_address(
                &row.col::<String>("list_name")?,
                &row.col::<String>("mail_host")?,
            )?;
            Ok(DirectoryList {
                settings: parse_settings(&address, &row.col::<String>("settings")?)?,
                list_id: row.col("list_id")?,
                archivers: parse_switches(&row.col::<String>("archivers")?)?,
                address,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Directory {
        change_counter,
        domains,
        lists,
    })
}
