//! Users and addresses, as Mailman's user manager keeps them: creating users (linked to an
//! address), linking and unlinking addresses, the preferred address, verification, display
//! names and preferences, and the user behind a domain owner's address.
//!
//! Passwords arrive hashed (the REST crate's `password` module); nothing here sees one in
//! clear. Refusals carry Mailman's texts where a client may show them ("User already exists:
//! ...", "Address belongs to other user", "... must be verified before setting as primary").

use mailcast_model::EmailAddress;
use mailcast_store::{Address, NewUser, Preferences, User, UserUpdate};
use uuid::Uuid;

use super::{Admin, AdminError, Result};

/// How Mailman names an address in its errors (`formataddr`): `Name <email>` or the email.
fn named(address: &Address) -> String {
    match address.display_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} <{}>", address.email.original()),
        None => address.email.original().to_string(),
    }
}

fn no_user(id: Uuid) -> AdminError {
    AdminError::NotFound(format!("no such user: {}", id.simple()))
}

fn no_address(email: &EmailAddress) -> AdminError {
    AdminError::NotFound(format!("no such address: {email}"))
}

impl Admin {
    /// A page of the users, by creation time, with the total; with `search`, only the users
    /// whose name or one of whose addresses contains it.
    pub async fn users_page(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<User>, u64)> {
        Ok(match search {
            None => self.store.users_page(offset, limit).await?,
            Some(text) => self.store.find_users(text, offset, limit).await?,
        })
    }

    /// One user by id.
    pub async fn user(&self, id: Uuid) -> Result<Option<User>> {
        Ok(self.store.user(id).await?)
    }

    /// The user an address belongs to.
    pub async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        Ok(self.store.user_by_email(email).await?)
    }

    /// Creates a user linked to `email` (created if new; an existing address that belongs to
    /// nobody is linked). Invalid if the address already belongs to a user.
    pub async fn create_user(
        &self,
        email: &EmailAddress,
        display_name: Option<&str>,
        password_hash: Option<&str>,
        is_server_owner: bool,
    ) -> Result<User> {
        let new = NewUser {
            email: Some(email.clone()),
            display_name: display_name.map(str::to_string),
            password: password_hash.map(str::to_string),
            is_server_owner,
        };
        match self.store.create_user(&new).await {
            Err(mailcast_store::Error::Conflict(_)) => {
                // Mailman names the address as it was first spelled.
                let known = self.store.address(email).await?;
                let spelled = known.as_ref().map_or(email, |a| &a.email);
                Err(AdminError::Invalid(format!(
                    "User already exists: {}",
                    spelled.original()
                )))
            }
            other => Ok(other?),
        }
    }

    /// The user of `email`, created (without a password) if the address has none, as
    /// Mailman's domain owners are.
    pub async fn user_for(&self, email: &EmailAddress) -> Result<User> {
        if let Some(user) = self.store.user_by_email(email).await? {
            return Ok(user);
        }
        match self.create_user(email, None, None, false).await {
            // Another request gave the address a user a moment ago.
            Err(AdminError::Invalid(_)) => self
                .store
                .user_by_email(email)
                .await?
                .ok_or_else(|| no_address(email)),
            other => other,
        }
    }

    /// Changes a user.
    pub async fn update_user(&self, id: Uuid, update: &UserUpdate) -> Result<()> {
        if !self.store.update_user(id, update).await? {
            return Err(no_user(id));
        }
        Ok(())
    }

    /// Deletes a user with its addresses and their memberships (Mailman's REST `DELETE`).
    pub async fn delete_user(&self, id: Uuid) -> Result<()> {
        if !self.store.delete_user_and_addresses(id).await? {
            return Err(no_user(id));
        }
        Ok(())
    }

    /// The addresses of a user.
    pub async fn user_addresses(&self, id: Uuid) -> Result<Vec<Address>> {
        Ok(self.store.user_addresses(id).await?)
    }

    /// Gives a user an address: a new one is created (with `display_name`), one that belongs
    /// to nobody is linked. Invalid if it belongs to a user already (Mailman refuses even
    /// the same user).
    pub async fn add_user_address(
        &self,
        id: Uuid,
        email: &EmailAddress,
        display_name: Option<&str>,
    ) -> Result<()> {
        if self.store.user(id).await?.is_none() {
            return Err(no_user(id));
        }
        match self.store.address(email).await? {
            Some(address) if address.user_id.is_some() => {
                return Err(AdminError::Invalid("Address belongs to other user".into()));
            }
            Some(_) => {}
            None => match self.store.create_address(email, display_name).await {
                Ok(_) | Err(mailcast_store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            },
        }
        match self.store.link_address(id, email).await {
            Err(mailcast_store::Error::Conflict(_)) => {
                Err(AdminError::Invalid("Address belongs to other user".into()))
            }
            other => Ok(other?),
        }
    }

    /// Makes `email` the user's preferred address (linking it if it belongs to nobody), or
    /// with `None` clears it.
    pub async fn set_preferred_address(
        &self,
        id: Uuid,
        email: Option<&EmailAddress>,
    ) -> Result<()> {
        let Some(email) = email else {
            if !self.store.clear_preferred_address(id).await? {
                return Err(no_user(id));
            }
            return Ok(());
        };
        if self.store.user(id).await?.is_none() {
            return Err(no_user(id));
        }
        let address = self.store.address(email).await?.ok_or_else(|| {
            AdminError::Invalid(format!("Address does not exist: {}", email.original()))
        })?;
        if address.verified_on.is_none() {
            return Err(AdminError::Invalid(format!(
                "{} must be verified before setting as primary",
                named(&address)
            )));
        }
        match address.user_id {
            None => self.store.link_address(id, email).await?,
            Some(owner) if owner != id => return Err(AdminError::Invalid(named(&address))),
            Some(_) => {}
        }
        Ok(self.store.set_preferred_address(id, email).await?)
    }

    /// Replaces a user's preferences.
    pub async fn set_user_preferences(&self, id: Uuid, preferences: &Preferences) -> Result<()> {
        if !self.store.set_user_preferences(id, preferences).await? {
            return Err(no_user(id));
        }
        Ok(())
    }

    /// A page of the addresses, by registration time, with the total.
    pub async fn addresses_page(&self, offset: u64, limit: u64) -> Result<(Vec<Address>, u64)> {
        Ok(self.store.addresses_page(offset, limit).await?)
    }

    /// One address.
    pub async fn address(&self, email: &EmailAddress) -> Result<Option<Address>> {
        Ok(self.store.address(email).await?)
    }

    async fn require_address(&self, email: &EmailAddress) -> Result<Address> {
        self.store
            .address(email)
            .await?
            .ok_or_else(|| no_address(email))
    }

    /// Sets or clears the display name of an existing address.
    pub async fn set_address_display_name(
        &self,
        email: &EmailAddress,
        name: Option<&str>,
    ) -> Result<()> {
        self.require_address(email).await?;
        Ok(self.store.set_address_display_name(email, name).await?)
    }

    /// Deletes an address with its memberships.
    pub async fn delete_address(&self, email: &EmailAddress) -> Result<()> {
        if !self.store.delete_address(email).await? {
            return Err(no_address(email));
        }
        Ok(())
    }

    /// Verifies an address now (an earlier verification is kept) or makes it unverified.
    pub async fn set_address_verified(&self, email: &EmailAddress, verified: bool) -> Result<()> {
        self.require_address(email).await?;
        if verified {
            self.store
                .verify_address(email, jiff::Timestamp::now())
                .await?;
        } else {
            self.store.set_verified(email, None).await?;
        }
        Ok(())
    }

    /// Links an existing address to an existing user.
    pub async fn link_address(&self, email: &EmailAddress, user: Uuid) -> Result<()> {
        self.require_address(email).await?;
        match self.store.link_address(user, email).await {
            Err(mailcast_store::Error::NotFound(_)) => Err(AdminError::Invalid(format!(
                "No user with ID {}",
                user.simple()
            ))),
            other => Ok(other?),
        }
    }

    /// Unlinks an address from its user.
    pub async fn unlink_address(&self, email: &EmailAddress) -> Result<()> {
        if !self.store.unlink_address(email).await? {
            return Err(AdminError::NotFound(format!("{email} belongs to no user")));
        }
        Ok(())
    }

    /// Replaces an address's preferences.
    pub async fn set_address_preferences(
        &self,
        email: &EmailAddress,
        preferences: &Preferences,
    ) -> Result<()> {
        if !self
            .store
            .set_address_preferences(email, preferences)
            .await?
        {
            return Err(no_address(email));
        }
        Ok(())
    }
}
