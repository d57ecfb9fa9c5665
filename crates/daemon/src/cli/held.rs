//! `mailcast held list|approve|reject|discard` (placeholder until the moderation work lands).

use mailcast_model::ListAddress;

use super::HeldCommand;
use crate::config::Settings;

pub async fn run(settings: &Settings, cmd: HeldCommand) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    match cmd {
        HeldCommand::List { list } => {
            let list = ListAddress::parse(&list)?;
            for h in store.held(&list).await? {
                println!("{}\t{}\t{}\t{}", h.request_id, h.message.sender, h.message.subject, h.message.reasons.join("; "));
            }
            Ok(())
        }
        _ => anyhow::bail!("not implemented yet"),
    }
}
