//! `mailcast requests list|approve|reject|discard|defer`: subscription and unsubscription
//! requests that wait for a confirmation or for the moderators.

use mailcast_model::ListAddress;

use super::RequestsCommand;
use super::held::one_line;
use crate::admin::Origin;
use crate::admin::subscriptions::RequestDecision;
use crate::config::Settings;

/// Runs one `mailcast requests` command.
pub async fn run(settings: Settings, cmd: RequestsCommand) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    let (list, token, decision) = match cmd {
        RequestsCommand::List { list } => {
            let list = ListAddress::parse(&list)?;
            for r in admin.requests(&list).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\texpires {}",
                    r.token,
                    r.kind.as_str(),
                    r.email,
                    one_line(r.display_name.as_deref().unwrap_or("")),
                    r.token_owner.as_str(),
                    r.expires_at
                );
            }
            admin.store.close().await;
            return Ok(());
        }
        RequestsCommand::Approve { list, token } => (list, token, RequestDecision::Approve),
        RequestsCommand::Reject {
            list,
            token,
            reason,
        } => (list, token, RequestDecision::Reject(reason)),
        RequestsCommand::Discard { list, token } => (list, token, RequestDecision::Discard),
        RequestsCommand::Defer { list, token } => (list, token, RequestDecision::Defer),
    };
    let list = ListAddress::parse(&list)?;
    let verb = match &decision {
        RequestDecision::Approve => "approved",
        RequestDecision::Reject(_) => "rejected",
        RequestDecision::Discard => "discarded",
        RequestDecision::Defer => "deferred",
    };
    admin
        .decide_request(&list, &token, decision, &Origin::operator())
        .await?;
    println!("request {token} {verb}");
    admin.store.close().await;
    Ok(())
}
