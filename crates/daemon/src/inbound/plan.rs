//! What to do with one recipient of a received message: store it in a stage, refuse it, or
//! accept and drop it. Shared by the LMTP server and `mailcast inject`, so both ways in apply
//! the same mapping (Mailman 3's recipient rules) and the same early refusals.
//!
//! Early refusal (DESIGN.md §3): for a post to the posting address, the posting chain runs on
//! the message now; a *reject* becomes a 5xx for this recipient (the MTA bounces it, no
//! backscatter from us) and a *discard* is accepted and dropped, as Mailman does. Accept and hold
//! are stored; the incoming runner evaluates the chain again and acts. Everything else maps to a
//! stage by sub-address.

use mailcast_model::Subaddress;
use mailcast_model::recipient::{self, Destination};
use mailcast_pipeline::Refusal;
use mailcast_pipeline::chain::{self, Disposition};
use mailcast_pipeline::context::MessageFacts;
use mailcast_pipeline::message::Message;
use mailcast_pipeline::rules::RuleContext;
use mailcast_spool::{Envelope, Stage};

use crate::directory::Snapshot;
use crate::posting::Posting;

/// The decision for one recipient.
#[derive(Debug)]
pub enum Plan {
    /// Commit an entry with this envelope.
    Store(Envelope),
    /// Refuse this recipient with a permanent error.
    Refuse(Refusal),
    /// Accept (250) and store nothing: the list's policy discards the post.
    Discard(String),
}

/// The stage a sub-address's mail waits in (Mailman 3's queue for it).
pub fn stage_for(sub: Subaddress) -> Stage {
    match sub {
        Subaddress::Post | Subaddress::Owner => Stage::Incoming,
        Subaddress::Bounces => Stage::Bounces,
        Subaddress::Confirm | Subaddress::Join | Subaddress::Leave | Subaddress::Request => {
            Stage::Command
        }
    }
}

/// The refusal for an address that is not one of our list addresses.
pub fn no_such_list(rcpt: &str) -> Refusal {
    Refusal {
        code: 550,
        enhanced: "5.1.1",
        text: format!("<{rcpt}>: no such list address"),
    }
}

/// Strips an RFC 5321 source route (`@a,@b:user@host`) from a forward-path.
pub fn strip_source_route(path: &str) -> &str {
    if path.starts_with('@')
        && let Some((_, rest)) = path.split_once(':')
    {
        return rest;
    }
    path
}

/// Resolves a recipient with Mailman 3's rules against the snapshot.
pub fn resolve(snapshot: &Snapshot, rcpt: &str) -> Result<Destination, Refusal> {
    recipient::resolve(strip_source_route(rcpt), snapshot).map_err(|_| no_such_list(rcpt))
}

/// Decides the plan for one recipient. `message` is the received message after the intake
/// fix-ups (for a spilled message, its header section only: the rules that need the body then
/// see none, which can only make them more lenient at this stage).
pub async fn plan(
    snapshot: &Snapshot,
    posting: &Posting,
    rcpt: &str,
    mail_from: &str,
    message: &[u8],
    original_size: u64,
) -> anyhow::Result<Plan> {
    let dest = match resolve(snapshot, rcpt) {
        Ok(d) => d,
        Err(refusal) => return Ok(Plan::Refuse(refusal)),
    };
    if dest.subaddress == Subaddress::Post
        && let Some(list) = snapshot.list(&dest.list)
    {
        let ctx = posting.context(&list, snapshot.change_counter);
        let parsed = Message::parse(message)?;
        let sender = (!mail_from.is_empty()).then_some(mail_from);
        let senders = parsed.senders(sender);
        let facts = posting
            .sender_facts(&dest.list, &senders, snapshot.change_counter)
            .await?;
        let msg_facts = MessageFacts {
            original_size,
            ..MessageFacts::default()
        };
        let result = chain::run(&RuleContext::new(&parsed, &ctx, &facts, sender, msg_facts));
        match result.disposition {
            Disposition::Reject(_) => {
                if let Some(refusal) = result.refusal() {
                    return Ok(Plan::Refuse(refusal));
                }
            }
            Disposition::Discard => return Ok(Plan::Discard(result.reasons.join("; "))),
            Disposition::Accept | Disposition::Hold => {}
        }
    }
    let mut envelope = Envelope::new(
        stage_for(dest.subaddress),
        &dest.list.to_string(),
        mail_from,
        rcpt,
    );
    envelope.subaddress = dest.subaddress.canonical_name().map(String::from);
    envelope.extension = dest.extension;
    Ok(Plan::Store(envelope))
}
