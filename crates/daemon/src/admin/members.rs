//! A member's own settings: moderation action, delivery mode and status, and Mailman's
//! member preferences (`mailcast members set`, and the REST API's member resources).
//!
//! Values use Mailman 3's names and vocabularies; `-` (or an empty value) clears an optional
//! one so the list's default (or the address's, the user's) applies again. Subscribing and
//! unsubscribing are workflows ([`super::subscriptions`]), not settings.

use mailcast_model::{Action, DeliveryMode, DeliveryStatus, EmailAddress, ListAddress, MemberRole};
use mailcast_store::{ImportReport, Member, RemoveReport};

use super::{Admin, AdminError, Result};

/// The member settings `set_member` knows, in the order `members list` shows them.
pub const MEMBER_SETTINGS: &[&str] = &[
    "moderation_action",
    "delivery_mode",
    "delivery_status",
    "receive_own_postings",
    "receive_list_copy",
    "acknowledge_posts",
    "hide_address",
    "preferred_language",
];

impl Admin {
    /// An owner's bulk import (`mailcast members add`): the addresses join in `role` at once,
    /// vouched for by the owner, without welcome messages; idempotent. `progress` is told how
    /// many rows are done.
    pub async fn import_members(
        &self,
        list: &ListAddress,
        role: MemberRole,
        mailboxes: &[mailcast_model::Mailbox],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<ImportReport> {
        self.list_info(list).await?;
        Ok(self
            .store
            .add_members(list, role, mailboxes, progress)
            .await?)
    }

    /// An owner's removal of memberships (`mailcast members remove`), without goodbye
    /// messages.
    pub async fn remove_members(
        &self,
        list: &ListAddress,
        role: Option<MemberRole>,
        addresses: &[EmailAddress],
    ) -> Result<RemoveReport> {
        self.list_info(list).await?;
        Ok(self.store.remove_members(list, role, addresses).await?)
    }

    /// The memberships of a list, in one role or all.
    pub async fn members(
        &self,
        list: &ListAddress,
        role: Option<MemberRole>,
    ) -> Result<Vec<Member>> {
        self.list_info(list).await?;
        Ok(self.store.members(list, role).await?)
    }

    /// The memberships of `address` on `list` (one per role).
    pub async fn membership(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
    ) -> Result<Vec<Member>> {
        self.list_info(list).await?;
        Ok(self.store.member(list, address).await?)
    }

    /// Changes settings of the `role` membership of `address` on `list`; `pairs` are
    /// `(name, value)` with the names of [`MEMBER_SETTINGS`]. All values are checked before
    /// anything is written.
    pub async fn set_member(
        &self,
        list: &ListAddress,
        address: &EmailAddress,
        role: MemberRole,
        pairs: &[(String, String)],
    ) -> Result<Member> {
        let current = self
            .membership(list, address)
            .await?
            .into_iter()
            .find(|m| m.role == role)
            .ok_or_else(|| AdminError::NotFound(format!("{address} is not a {role} of {list}")))?;
        let mut action = current.moderation_action;
        let mut mode = current.delivery_mode;
        let mut status = current.delivery_status;
        let mut prefs = current.preferences.clone();
        for (key, value) in pairs {
            let value = value.trim();
            let invalid = |reason: String| AdminError::Invalid(format!("{key}: {reason}"));
            let cleared = value.is_empty() || value == "-";
            match key.as_str() {
                "moderation_action" => {
                    action = if cleared {
                        None
                    } else {
                        Some(Action::parse(value).map_err(|e| invalid(e.to_string()))?)
                    }
                }
                "delivery_mode" => {
                    mode = DeliveryMode::parse(value).map_err(|e| invalid(e.to_string()))?
                }
                "delivery_status" => {
                    status = DeliveryStatus::parse(value).map_err(|e| invalid(e.to_string()))?
                }
                "receive_own_postings" => {
                    prefs.receive_own_postings = flag(value).map_err(invalid)?
                }
                "receive_list_copy" => prefs.receive_list_copy = flag(value).map_err(invalid)?,
                "acknowledge_posts" => prefs.acknowledge_posts = flag(value).map_err(invalid)?,
                "hide_address" => prefs.hide_address = flag(value).map_err(invalid)?,
                "preferred_language" => {
                    prefs.preferred_language = if cleared {
                        None
                    } else if value.len() <= 16
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    {
                        Some(value.to_string())
                    } else {
                        return Err(invalid(format!("{value:?} is not a language code")));
                    }
                }
                other => {
                    return Err(AdminError::Invalid(format!(
                        "unknown member setting {other:?} (known: {})",
                        MEMBER_SETTINGS.join(", ")
                    )));
                }
            }
        }
        if mode != DeliveryMode::Regular
            && mode != current.delivery_mode
            && !self.list_info(list).await?.settings.digests_enabled
        {
            return Err(AdminError::Invalid(format!(
                "{list} does not offer digests"
            )));
        }
        if action != current.moderation_action {
            self.store
                .set_moderation_action(list, address, role, action)
                .await?;
        }
        if mode != current.delivery_mode {
            self.store
                .set_delivery_mode(list, address, role, mode)
                .await?;
        }
        if status != current.delivery_status {
            self.store
                .set_delivery_status(list, address, role, status)
                .await?;
        }
        if prefs != current.preferences {
            self.store
                .set_preferences(list, address, role, &prefs)
                .await?;
        }
        self.store
            .member(list, address)
            .await?
            .into_iter()
            .find(|m| m.role == role)
            .ok_or_else(|| AdminError::NotFound(format!("{address} is not a {role} of {list}")))
    }
}

/// A preference flag: `true`/`yes`/`1`, `false`/`no`/`0`, or `-` (inherit).
fn flag(value: &str) -> Result<Option<bool>, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "-" => Ok(None),
        "true" | "yes" | "1" | "on" => Ok(Some(true)),
        "false" | "no" | "0" | "off" => Ok(Some(false)),
        other => Err(format!("{other:?} is not true, false or - (inherit)")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags() {
        for (text, value) in [
            ("yes", Ok(Some(true))),
            ("False", Ok(Some(false))),
            ("-", Ok(None)),
        ] {
            assert_eq!(super::flag(text), value, "{text}");
        }
        assert!(super::flag("maybe").is_err());
    }
}
