//! A list's archivers (Mailman's `IListArchiverSet`): which of the site's archivers the list
//! uses. Every built-in archiver is shown, enabled when the site enables it and the list has
//! not switched it off; a list may switch any of them on or off, but one the site has off
//! stays off (Mailman: `system_archiver.is_enabled and self._is_enabled`).

use mailcast_model::ListAddress;
use mailcast_store::ArchiverSwitches;

use super::{Admin, AdminError, Result};
use crate::archive::Archiver;

impl Admin {
    /// Each archiver by name, and whether it is enabled for the list (site AND list).
    pub async fn list_archivers(&self, list: &ListAddress) -> Result<Vec<(String, bool)>> {
        let switches = match self.store.list_archivers(list).await {
            Err(mailcast_store::Error::NotFound(_)) => {
                return Err(AdminError::NoSuchList(list.clone()));
            }
            other => other?,
        };
        let site = &self.settings().archivers;
        Ok(Archiver::ALL
            .into_iter()
            .map(|a| (a.name().to_string(), a.enabled(site, &switches)))
            .collect())
    }

    /// Switches archivers on or off for the list; a name that is no archiver is refused.
    pub async fn set_list_archivers(
        &self,
        list: &ListAddress,
        changes: &[(String, bool)],
    ) -> Result<()> {
        if let Some((name, _)) = changes.iter().find(|(n, _)| Archiver::named(n).is_none()) {
            return Err(AdminError::Invalid(format!("no such archiver: {name}")));
        }
        let update: ArchiverSwitches = changes.iter().cloned().collect();
        match self.store.set_list_archivers(list, &update).await {
            Err(mailcast_store::Error::NotFound(_)) => Err(AdminError::NoSuchList(list.clone())),
            other => other.map(|_| ()).map_err(AdminError::from),
        }
    }
}
