//! The directory snapshot: every domain and list with its settings, read consistently.
//!
//! The daemon keeps this in memory to resolve recipients and run the pipeline without a query
//! per RCPT, and reloads it when [`Store::change_counter`] moves. The snapshot carries the
//! counter value it was read at, from the same database snapshot, so a change committed while
//! it is read is never missed. It does not index anything: the daemon builds its own lookups.

use mailcast_model::{DomainName, ListAddress, ListSettings};

use crate::column::{RowExt, corrupt, list_address};
use crate::error::Result;
use crate::lists::parse_settings;
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
            "SELECT list_name, mail_host, list_id, settings FROM mailinglist \
             ORDER BY mail_host, list_name",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

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
}
