//! Lists: create, remove, and change settings, keeping the MTA's files in step (Mailman 3
//! regenerates them on every create and delete).
//!
//! Settings keep Mailman 3's names and vocabularies. A setting that mailcast stores but does
//! not act on yet is named in the result of [`Admin::set_list_settings`], so that the CLI and
//! the REST API can say so: nothing is accepted silently and then ignored
//! ([`ListSettings::NOT_ACTED_ON`] is the one list of them).

use mailcast_model::settings::ListSettings;
use mailcast_model::{DomainName, ListAddress};
use mailcast_store::MailingList;

use super::{Admin, AdminError, Result};

/// A list style: Mailman 3's named presets for a new list (`lists/styles` in the REST API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// The name.
    pub name: &'static str,
    /// What it is for (Mailman's text).
    pub description: &'static str,
    /// The settings it changes from the defaults, which are `legacy-default`'s.
    pub settings: &'static [(&'static str, &'static str)],
}

/// The styles, the default first (Mailman 3.3's built-in ones).
pub const STYLES: &[Style] = &[
    Style {
        name: "legacy-default",
        description: "Ordinary discussion mailing list style.",
        settings: &[],
    },
    Style {
        name: "legacy-announce",
        description: "Announce only mailing list style.",
        settings: &[("allow_list_posts", "false")],
    },
    Style {
        name: "private-default",
        description: "Discussion mailing list style with private archives.",
        settings: &[
            ("advertised", "false"),
            ("archive_policy", "private"),
            ("subscription_policy", "confirm_then_moderate"),
        ],
    },
];

/// What a settings change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    /// How many settings were given.
    pub changed: usize,
    /// Those of them that mailcast stores but does not act on yet.
    pub not_acted_on: Vec<String>,
}

impl Admin {
    /// Creates a list and rewrites the MTA's files.
    pub async fn create_list(&self, list: &ListAddress) -> Result<MailingList> {
        let created = self.store.create_list(list).await?;
        self.directory.refresh(&self.store).await?;
        self.regenerate_mta().await?;
        Ok(created)
    }

    /// Creates a list in a style (the default if `None`) and rewrites the MTA's files.
    pub async fn create_list_in_style(
        &self,
        list: &ListAddress,
        style: Option<&str>,
    ) -> Result<MailingList> {
        let style = match style {
            None => &STYLES[0],
            Some(name) => STYLES
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| AdminError::Invalid(format!("unknown list style {name:?}")))?,
        };
        let created = self.create_list(list).await?;
        if style.settings.is_empty() {
            return Ok(created);
        }
        let pairs: Vec<(String, String)> = style
            .settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.set_list_settings(list, &pairs).await?;
        self.list(list).await
    }

    /// Changes settings from JSON values under Mailman's names (the REST API's); every value
    /// is checked before anything is written.
    pub async fn set_list_settings_json(
        &self,
        list: &ListAddress,
        values: &[(String, serde_json::Value)],
    ) -> Result<()> {
        let current = self.list(list).await?;
        let mut new = current.settings.clone();
        for (key, value) in values {
            new.set_json(key, value)
                .map_err(|e| AdminError::Invalid(e.to_string()))?;
        }
        self.store.set_settings(&current.address, &new).await?;
        // This process's next operation sees the change at once, without waiting for the
        // change-counter watcher.
        self.directory.refresh(&self.store).await?;
        Ok(())
    }

    /// Removes a list with its members, requests and held posts' records, and rewrites the
    /// MTA's files.
    pub async fn remove_list(&self, list: &ListAddress) -> Result<()> {
        self.store.remove_list(list).await?;
        self.directory.refresh(&self.store).await?;
        self.regenerate_mta().await
    }

    /// The list with its settings and state.
    pub async fn list(&self, list: &ListAddress) -> Result<MailingList> {
        match self.store.list(list).await {
            Ok(found) => Ok(found),
            Err(mailcast_store::Error::NotFound(_)) => Err(AdminError::NoSuchList(list.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// The lists, of one domain or all.
    pub async fn lists(&self, domain: Option<&DomainName>) -> Result<Vec<MailingList>> {
        Ok(self.store.lists(domain).await?)
    }

    /// Changes settings from `(name, text)` pairs (Mailman 3 names; the text as `lists set`
    /// takes it). Every value is checked before anything is written.
    pub async fn set_list_settings(
        &self,
        list: &ListAddress,
        pairs: &[(String, String)],
    ) -> Result<SettingsChange> {
        let current = self.list(list).await?;
        let mut new = current.settings.clone();
        for (key, value) in pairs {
            new.set_from_str(key.trim(), value)
                .map_err(|e| AdminError::Invalid(e.to_string()))?;
        }
        self.store.set_settings(&current.address, &new).await?;
        // This process's next operation sees the change at once, without waiting for the
        // change-counter watcher.
        self.directory.refresh(&self.store).await?;
        Ok(SettingsChange {
            changed: pairs.len(),
            not_acted_on: pairs
                .iter()
                .map(|(key, _)| key.trim())
                .filter(|key| ListSettings::is_not_acted_on(key))
                .map(str::to_string)
                .collect(),
        })
    }

    /// Rewrites the MTA files an operator has generated before, and `var/lists/`.
    pub async fn regenerate_mta(&self) -> Result<()> {
        if !self.settings().mta.regenerate_on_change {
            return Ok(());
        }
        let lists = crate::mta::lists_from_store(&self.store).await?;
        crate::mta::regenerate_existing(self.settings(), &lists).map_err(|e| {
            AdminError::Internal(anyhow::anyhow!(
                "the change is saved, but regenerating the MTA files failed: {e:#}"
            ))
        })
    }
}
