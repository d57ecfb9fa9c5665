//! `mailcast held list|approve|reject|discard`: the moderation queue from the command line.
//!
//! The commands open the store and the spool themselves and need no running daemon; the
//! operations are `runner::held`'s, shared with the REST API. An approved post is picked up
//! by a running daemon's next scan (within a few seconds); a rejection notice likewise.

use std::sync::Arc;

use mailcast_model::ListAddress;

use super::HeldCommand;
use crate::config::Settings;
use crate::runner::{RunnerContext, held};

/// Runs one `mailcast held` command.
pub async fn run(settings: &Settings, cmd: HeldCommand) -> anyhow::Result<()> {
    let ctx = RunnerContext::open(Arc::new(settings.clone())).await?;
    match cmd {
        HeldCommand::List { list } => {
            let list = ListAddress::parse(&list)?;
            for h in held::list(&ctx, &list).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    h.request_id,
                    h.held_at,
                    one_line(&h.message.sender),
                    one_line(&h.message.subject),
                    one_line(&h.message.reasons.join("; "))
                );
            }
        }
        HeldCommand::Approve { list, id } => {
            let list = ListAddress::parse(&list)?;
            let entry = held::approve(&ctx, &list, id).await?;
            println!(
                "held message {id} approved; it will be delivered shortly (spool entry {entry})"
            );
        }
        HeldCommand::Reject { list, id, reason } => {
            let list = ListAddress::parse(&list)?;
            let told = held::reject(&ctx, &list, id, reason.as_deref()).await?;
            let notice = if told {
                "the sender will be told"
            } else {
                "the sender is not told (automatic mail)"
            };
            println!("held message {id} rejected; {notice}");
        }
        HeldCommand::Discard { list, id } => {
            let list = ListAddress::parse(&list)?;
            held::discard(&ctx, &list, id).await?;
            println!("held message {id} discarded");
        }
    }
    ctx.store.close().await;
    Ok(())
}

/// A value on one line of tab-separated output.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
