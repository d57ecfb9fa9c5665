//! `mailcast domains add|remove|list`.

use anyhow::Context;
use mailcast_model::DomainName;

use super::DomainsCommand;
use crate::config::Settings;

pub async fn run(settings: &Settings, cmd: DomainsCommand) -> anyhow::Result<()> {
    let admin = crate::admin::Admin::open(std::sync::Arc::new(settings.clone())).await?;
    match cmd {
        DomainsCommand::Add {
            domain,
            alias_domain,
            description,
        } => {
            let mail_host = DomainName::parse(&domain)?;
            let alias = alias_domain.as_deref().map(DomainName::parse).transpose()?;
            admin
                .add_domain(&mail_host, alias.as_ref(), &description)
                .await?;
            println!("added domain {mail_host}");
        }
        DomainsCommand::Remove { domain, force } => {
            let mail_host = DomainName::parse(&domain)?;
            let removed_lists = admin.remove_domain(&mail_host, force).await?;
            println!("removed domain {mail_host} ({removed_lists} lists)");
        }
        DomainsCommand::List => {
            for d in admin.domains().await.context("cannot read the domains")? {
                match d.alias_domain {
                    Some(alias) => println!("{}\talias_domain={alias}", d.mail_host),
                    None => println!("{}", d.mail_host),
                }
            }
        }
    }
    Ok(())
}
