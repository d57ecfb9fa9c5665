//! Bans: addresses and `^regex` patterns that may not subscribe or post, per list or for the
//! whole site (`mailcast bans`, the REST API's `/bans`). A banned address is refused by the
//! subscription workflow and, at LMTP time, as a poster.

use mailcast_model::ListAddress;

use super::{Admin, AdminError, Result};

impl Admin {
    /// Bans `pattern` on `list`, or everywhere with `None`. Returns false if it was already.
    pub async fn ban(&self, list: Option<&ListAddress>, pattern: &str) -> Result<bool> {
        if let Some(list) = list {
            self.list_info(list).await?;
        }
        check_pattern(pattern)?;
        Ok(self.store.add_ban(list, pattern).await?)
    }

    /// Lifts a ban. Returns false if there was none.
    pub async fn unban(&self, list: Option<&ListAddress>, pattern: &str) -> Result<bool> {
        if let Some(list) = list {
            self.list_info(list).await?;
        }
        Ok(self.store.remove_ban(list, pattern).await?)
    }

    /// The bans of a list, or the global ones.
    pub async fn bans(&self, list: Option<&ListAddress>) -> Result<Vec<String>> {
        if let Some(list) = list {
            self.list_info(list).await?;
        }
        Ok(self.store.bans(list).await?)
    }
}

/// A ban is an address or a `^regex` that compiles.
fn check_pattern(pattern: &str) -> Result<()> {
    let pattern = pattern.trim();
    if pattern.is_empty() || pattern.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "{pattern:?} is not a ban pattern"
        )));
    }
    // The store compiles a `^regex` and refuses one that does not compile.
    if !pattern.starts_with('^') && mailcast_model::EmailAddress::parse(pattern).is_err() {
        return Err(AdminError::Invalid(format!(
            "{pattern:?} is neither an address nor a ^regex"
        )));
    }
    Ok(())
}
