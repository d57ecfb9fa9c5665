//! `mailcast lists create|remove|list|show|set`.

use mailcast_model::{DomainName, ListAddress, ListSettings};

use super::ListsCommand;
use crate::config::Settings;

pub async fn run(settings: &Settings, cmd: ListsCommand) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    match cmd {
        ListsCommand::Create { address } => {
            let list = ListAddress::parse(&address)?;
            let created = store.create_list(&list).await?;
            println!(
                "created list {} (List-Id {})",
                created.address, created.list_id
            );
        }
        ListsCommand::Remove { address } => {
            let list = ListAddress::parse(&address)?;
            store.remove_list(&list).await?;
            println!("removed list {list}");
        }
        ListsCommand::List { domain } => {
            let domain = domain.as_deref().map(DomainName::parse).transpose()?;
            for l in store.lists(domain.as_ref()).await? {
                println!("{}\t{}", l.address, l.settings.display_name.0);
            }
            return Ok(());
        }
        ListsCommand::Show { address } => {
            let list = store.list(&ListAddress::parse(&address)?).await?;
            let members = store
                .member_count(&list.address, Some(mailcast_model::MemberRole::Member))
                .await?;
            println!("posting_address = {}", list.address);
            println!("list_id = {}", list.list_id);
            println!("members = {members}");
            println!("post_id = {}", list.state.post_id);
            println!("created_at = {}", list.state.created_at);
            if let Some(at) = list.state.last_post_at {
                println!("last_post_at = {at}");
            }
            for name in ListSettings::NAMES {
                let value = list.settings.get(name)?;
                println!("{name} = {value}");
            }
            return Ok(());
        }
        ListsCommand::Set {
            address,
            settings: pairs,
        } => {
            let list = store.list(&ListAddress::parse(&address)?).await?;
            let mut new = list.settings.clone();
            for pair in &pairs {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("{pair:?} is not KEY=VALUE"))?;
                new.set_from_str(key.trim(), value)?;
            }
            store.set_settings(&list.address, &new).await?;
            println!("updated {} setting(s) of {}", pairs.len(), list.address);
            return Ok(());
        }
    }
    super::regenerate_mta(settings, &store).await
}
