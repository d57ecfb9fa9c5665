//! `mailcast bans add|remove|list [LIST|--global]`.

use mailcast_model::ListAddress;

use super::{BanScope, BansCommand};
use crate::config::Settings;

fn scope(scope: &BanScope) -> anyhow::Result<Option<ListAddress>> {
    match (&scope.list, scope.global) {
        (Some(list), false) => Ok(Some(ListAddress::parse(list)?)),
        (None, true) => Ok(None),
        _ => anyhow::bail!("name a list, or --global for the site-wide bans"),
    }
}

/// Runs one `mailcast bans` command.
pub async fn run(settings: Settings, cmd: BansCommand) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    match cmd {
        BansCommand::Add { pattern, scope: s } => {
            let list = scope(&s)?;
            let added = admin.ban(list.as_ref(), &pattern).await?;
            let place = list.map_or_else(|| "everywhere".to_string(), |l| format!("on {l}"));
            if added {
                println!("banned {pattern} {place}");
            } else {
                println!("{pattern} was already banned {place}");
            }
        }
        BansCommand::Remove { pattern, scope: s } => {
            let list = scope(&s)?;
            if !admin.unban(list.as_ref(), &pattern).await? {
                anyhow::bail!("{pattern} is not banned there");
            }
            println!("lifted the ban on {pattern}");
        }
        BansCommand::List { scope: s } => {
            for pattern in admin.bans(scope(&s)?.as_ref()).await? {
                println!("{pattern}");
            }
        }
    }
    admin.store.close().await;
    Ok(())
}
