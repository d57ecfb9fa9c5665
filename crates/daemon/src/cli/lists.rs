//! `mailcast lists create|remove|list|show|set`: parse, call the admin layer, print.

use mailcast_model::settings::ListSettings;
use mailcast_model::{DomainName, ListAddress, MemberRole};

use super::ListsCommand;
use crate::config::Settings;

pub async fn run(settings: Settings, cmd: ListsCommand) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    match cmd {
        ListsCommand::Create { address } => {
            let created = admin.create_list(&ListAddress::parse(&address)?).await?;
            println!(
                "created list {} (List-Id {})",
                created.address, created.list_id
            );
        }
        ListsCommand::Remove { address } => {
            let list = ListAddress::parse(&address)?;
            admin.remove_list(&list).await?;
            println!("removed list {list}");
        }
        ListsCommand::List { domain } => {
            let domain = domain.as_deref().map(DomainName::parse).transpose()?;
            for l in admin.lists(domain.as_ref()).await? {
                println!("{}\t{}", l.address, l.settings.display_name.0);
            }
        }
        ListsCommand::Show { address } => {
            let list = admin.list(&ListAddress::parse(&address)?).await?;
            let members = admin
                .store
                .member_count(&list.address, Some(MemberRole::Member))
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
                let mark = if ListSettings::is_not_acted_on(name) {
                    "    # stored, not acted on yet"
                } else {
                    ""
                };
                println!("{name} = {value}{mark}");
            }
        }
        ListsCommand::Set {
            address,
            settings: pairs,
        } => {
            let list = ListAddress::parse(&address)?;
            let change = admin
                .set_list_settings(&list, &super::key_values(&pairs)?)
                .await?;
            println!("updated {} setting(s) of {list}", change.changed);
            for name in change.not_acted_on {
                eprintln!("warning: {name} is stored, but mailcast does not act on it yet");
            }
        }
    }
    admin.store.close().await;
    Ok(())
}
