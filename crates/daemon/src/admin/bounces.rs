//! The operator's side of bounce processing: the members' bounce records of a list, one
//! member's recent events, and turning a member's delivery back on.

use mailcast_model::{EmailAddress, ListAddress};
use mailcast_store::{BounceEvent, BounceState, BounceSummary};
use tracing::info;

use super::{Admin, AdminError, Result};

impl Admin {
    /// The members of `list` with a bounce score, a disabled delivery or a past bounce.
    pub async fn bounce_summaries(&self, list: &ListAddress) -> Result<Vec<BounceSummary>> {
        self.list_info(list).await?;
        Ok(self.store.bounce_summaries(list).await?)
    }

    /// The most recent `limit` bounce events of `address` on `list`, newest first.
    pub async fn bounce_events(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        limit: u32,
    ) -> Result<Vec<BounceEvent>> {
        self.list_info(list).await?;
        Ok(self.store.bounce_events(list, address, limit).await?)
    }

    /// Re-enables the delivery of `address` on `list` and clears its bounce score and
    /// warnings; returns the state before.
    pub async fn reenable_member(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
    ) -> Result<BounceState> {
        self.list_info(list).await?;
        match self.store.reenable_member(list, address).await {
            Ok(before) => {
                info!(%list, member = %address, "delivery re-enabled");
                Ok(before)
            }
            Err(mailcast_store::Error::NotFound(_)) => Err(AdminError::NotFound(format!(
                "{address} is not a member of {list}"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
