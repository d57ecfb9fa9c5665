//! Domains: add, change and remove the mail hosts lists live under, keeping the directory and
//! the MTA's files in step, and a domain's owners (users).

use mailcast_model::DomainName;
use mailcast_store::{Domain, User};
use uuid::Uuid;

use super::{Admin, AdminError, Result};

impl Admin {
    /// The domains, by mail host.
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        Ok(self.store.domains().await?)
    }

    /// One domain.
    pub async fn domain(&self, mail_host: &DomainName) -> Result<Domain> {
        match self.store.domain(mail_host).await {
            Ok(domain) => Ok(domain),
            Err(mailcast_store::Error::DomainNotFound(_) | mailcast_store::Error::NotFound(_)) => {
                Err(AdminError::NotFound(format!("no such domain: {mail_host}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Adds a domain and rewrites the MTA's files.
    pub async fn add_domain(
        &self,
        mail_host: &DomainName,
        alias: Option<&DomainName>,
        description: &str,
    ) -> Result<Domain> {
        let domain = self.store.add_domain(mail_host, alias, description).await?;
        self.directory.refresh(&self.store).await?;
        self.regenerate_mta().await?;
        Ok(domain)
    }

    /// Changes a domain's description or alias domain (`Some(None)` removes the alias).
    pub async fn update_domain(
        &self,
        mail_host: &DomainName,
        description: Option<&str>,
        alias: Option<Option<&DomainName>>,
    ) -> Result<()> {
        if !self
            .store
            .update_domain(mail_host, description, alias)
            .await?
        {
            return Err(AdminError::NotFound(format!("no such domain: {mail_host}")));
        }
        self.directory.refresh(&self.store).await?;
        self.regenerate_mta().await
    }

    /// Removes a domain; with `force`, its lists too. Returns how many lists went.
    pub async fn remove_domain(&self, mail_host: &DomainName, force: bool) -> Result<u64> {
        let removed = self.store.remove_domain(mail_host, force).await?;
        self.directory.refresh(&self.store).await?;
        self.regenerate_mta().await?;
        Ok(removed)
    }

    /// A domain's owners.
    pub async fn domain_owners(&self, mail_host: &DomainName) -> Result<Vec<User>> {
        self.domain(mail_host).await?;
        Ok(self.store.domain_owners(mail_host).await?)
    }

    /// Makes a user an owner of a domain; false if it was one.
    pub async fn add_domain_owner(&self, mail_host: &DomainName, user: Uuid) -> Result<bool> {
        self.domain(mail_host).await?;
        Ok(self.store.add_domain_owner(mail_host, user).await?)
    }

    /// Removes one owner (`Some`) or all (`None`) of a domain; how many went.
    pub async fn remove_domain_owners(
        &self,
        mail_host: &DomainName,
        user: Option<Uuid>,
    ) -> Result<u64> {
        self.domain(mail_host).await?;
        match user {
            Some(user) => Ok(u64::from(
                self.store.remove_domain_owner(mail_host, user).await?,
            )),
            None => Ok(self.store.remove_domain_owners(mail_host).await?),
        }
    }
}
