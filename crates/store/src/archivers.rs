//! Which archivers a list has switched on or off: Mailman's `listarchiver` rows, kept as one
//! JSON object (`mailinglist.archivers`, archiver name to boolean). A name that is not there
//! follows the site's switch; the effective state is the site's AND the list's, which the
//! daemon computes (this crate does not know which archivers exist).

use std::collections::BTreeMap;

use mailcast_model::ListAddress;

use crate::changes;
use crate::column::corrupt;
use crate::error::Result;
use crate::lists::not_found;
use crate::store::Store;

/// A list's own archiver switches, by archiver name.
pub type ArchiverSwitches = BTreeMap<String, bool>;

/// Parses the `archivers` column.
pub(crate) fn parse_switches(text: &str) -> Result<ArchiverSwitches> {
    serde_json::from_str(text).map_err(|_| corrupt("archivers", &text))
}

impl Store {
    /// The list's own archiver switches.
    pub async fn list_archivers(&self, list: &ListAddress) -> Result<ArchiverSwitches> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT archivers FROM mailinglist WHERE list_name = $1 AND mail_host = $2",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .fetch_optional(self.reader())
        .await?;
        parse_switches(&text.ok_or_else(|| not_found(list))?)
    }

    /// Sets some of the list's archiver switches (others keep theirs) and bumps the change
    /// counter, so that the daemon's headers and archiving follow at once.
    pub async fn set_list_archivers(
        &self,
        list: &ListAddress,
        update: &ArchiverSwitches,
    ) -> Result<ArchiverSwitches> {
        let mut tx = self.begin_write().await?;
        let text: Option<String> = sqlx::query_scalar(
            "SELECT archivers FROM mailinglist WHERE list_name = $1 AND mail_host = $2",
        )
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let mut switches = parse_switches(&text.ok_or_else(|| not_found(list))?)?;
        switches.extend(update.iter().map(|(k, v)| (k.clone(), *v)));
        let stored = serde_json::to_string(&switches).unwrap_or_else(|_| "{}".into());
        sqlx::query(
            "UPDATE mailinglist SET archivers = $1 WHERE list_name = $2 AND mail_host = $3",
        )
        .bind(stored)
        .bind(list.name().as_str())
        .bind(list.domain().as_str())
        .execute(&mut *tx)
        .await?;
        changes::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(switches)
    }
}
