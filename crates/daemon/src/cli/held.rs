//! `mailcast held list|approve|reject|discard|defer`: the moderation queue from the command
//! line. The operations are the admin layer's, shared with email replies and the REST API.
//! An approved post is picked up by a running daemon's next scan (within a few seconds); on
//! a cluster, a post held on another node is decided there, by that node's periodic work.

use mailcast_model::ListAddress;

use super::HeldCommand;
use crate::admin::held::{Decided, Decision};
use crate::config::Settings;

/// Runs one `mailcast held` command.
pub async fn run(settings: Settings, cmd: HeldCommand) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    let (list, id, decision) = match cmd {
        HeldCommand::List { list } => {
            let list = ListAddress::parse(&list)?;
            for h in admin.held(&list).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    h.request_id,
                    h.held_at,
                    one_line(&h.message.sender),
                    one_line(&h.message.subject),
                    one_line(&h.message.reasons.join("; "))
                );
            }
            admin.store.close().await;
            return Ok(());
        }
        HeldCommand::Approve { list, id } => (list, id, Decision::Approve),
        HeldCommand::Reject { list, id, reason } => (list, id, Decision::Reject(reason)),
        HeldCommand::Discard { list, id } => (list, id, Decision::Discard),
        HeldCommand::Defer { list, id } => (list, id, Decision::Defer),
    };
    let list = ListAddress::parse(&list)?;
    let outcome = admin.decide_held(&list, id, decision.clone()).await?;
    let text = match (&decision, outcome) {
        (_, Decided::Recorded { node }) => {
            format!("held message {id}: decision recorded; node {node} carries it out")
        }
        (_, Decided::Deferred) => format!("held message {id} deferred"),
        (Decision::Approve, _) => {
            format!("held message {id} approved; it will be delivered shortly")
        }
        (Decision::Reject(_), Decided::Done { told: true }) => {
            format!("held message {id} rejected; the sender will be told")
        }
        (Decision::Reject(_), _) => {
            format!("held message {id} rejected; the sender is not told (automatic mail)")
        }
        (_, _) => format!("held message {id} discarded"),
    };
    println!("{text}");
    admin.store.close().await;
    Ok(())
}

/// A value on one line of tab-separated output.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
