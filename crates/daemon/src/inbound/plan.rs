//! What to do with one recipient of a received message: store it in a stage, refuse it, or
//! accept and drop it. Shared by the LMTP server and `mailcast inject`, so both ways in apply
//! the same mapping (Mailman 3's recipient rules) and the same early refusals.
//!
//! Early refusal (DESIGN.md §3): for a post to the posting address, the posting chain's
//! deciding links run on the message now ([`chain::early`]): a *reject* becomes a 5xx for this
//! recipient (the MTA bounces it, no backscatter from us) and a *discard* is accepted and
//! dropped, as Mailman does (unless `forward_auto_discards` wants the moderators to see it:
//! then it is stored and the incoming runner discards and forwards it). Accept and hold are stored without telling them apart; the
//! incoming runner runs the whole chain again and acts. Everything else maps to a stage by
//! sub-address.
//!
//! A message over the spill threshold is planned on its header section alone
//! ([`Planner::headers_only`]); where its body could overturn the verdict (an `Approved:` line,
//! on a list with a moderator password) it is stored and judged whole by the incoming runner.
//!
//! A [`Planner`] parses the message once, on its first posting-address recipient, and keeps
//! the parse and the senders for the others. It does not touch the spool or write anything.
//!
//! DMARC: when a list's `dmarc-mitigation` rule needs the From domain's policy
//! ([`domain_to_query`]) and the planner has a resolver ([`Planner::with_dns`]), it looks the
//! policy up once per domain, runs the early chain on it (so `dmarc_mitigate_action=reject`
//! is a 550 now) and carries the result in the envelope's `attrs.dmarc`
//! ([`crate::dns::dmarc::carry`]) so that the runner judges on the same facts.

use mailcast_model::Subaddress;
use mailcast_model::recipient::{self, Destination};
use mailcast_pipeline::Refusal;
use mailcast_pipeline::chain::{self, Early};
use mailcast_pipeline::context::{FromDmarc, MessageFacts};
use mailcast_pipeline::message::Message;
use mailcast_pipeline::rules::RuleContext;
use mailcast_pipeline::rules::dmarc_mitigation::domain_to_query;
use mailcast_spool::{Envelope, Stage};

use crate::directory::{ListInfo, Snapshot};
use crate::dns::{Dns, dmarc};
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
    dns: Option<&Dns>,
    rcpt: &str,
    mail_from: &str,
    message: &[u8],
    original_size: u64,
) -> anyhow::Result<Plan> {
    Planner::new(snapshot, posting, mail_from, message, original_size)
        .with_dns(dns)
        .plan(rcpt)
        .await
}

/// Plans the recipients of one message (see [`plan`]), parsing the message at most once.
pub struct Planner<'a> {
    snapshot: &'a Snapshot,
    posting: &'a Posting,
    mail_from: &'a str,
    message: &'a [u8],
    original_size: u64,
    /// `message` is the header section only (the body was spilled to disk).
    headers_only: bool,
    parsed: Option<Parsed<'a>>,
    /// The resolver for DMARC policies; without one, the runner looks them up.
    dns: Option<&'a Dns>,
    /// The policies found so far, by From domain.
    dmarc_found: Vec<(String, FromDmarc)>,
}

/// What every posting-address recipient of a message shares.
struct Parsed<'a> {
    message: Message<'a>,
    /// Mailman's `msg.senders`, as the rules compute them.
    senders: Vec<String>,
}

impl<'a> Planner<'a> {
    /// A planner for `message` (after the intake fix-ups) from `mail_from`, received with
    /// `original_size` octets.
    pub fn new(
        snapshot: &'a Snapshot,
        posting: &'a Posting,
        mail_from: &'a str,
        message: &'a [u8],
        original_size: u64,
    ) -> Planner<'a> {
        Planner {
            snapshot,
            posting,
            mail_from,
            message,
            original_size,
            headers_only: false,
            parsed: None,
            dns: None,
            dmarc_found: Vec::new(),
        }
    }

    /// Looks up DMARC policies with `dns` when a list's rule needs them.
    pub fn with_dns(mut self, dns: Option<&'a Dns>) -> Planner<'a> {
        self.dns = dns;
        self
    }

    /// Marks `message` as the header section alone: a verdict the body could overturn is
    /// then left to the incoming runner's full chain, so that a refusal now never
    /// contradicts it.
    pub fn headers_only(mut self) -> Planner<'a> {
        self.headers_only = true;
        self
    }

    /// Decides the plan for one recipient.
    pub async fn plan(&mut self, rcpt: &str) -> anyhow::Result<Plan> {
        let dest = match resolve(self.snapshot, rcpt) {
            Ok(d) => d,
            Err(refusal) => return Ok(Plan::Refuse(refusal)),
        };
        let mut found = FromDmarc::NotLookedUp;
        if dest.subaddress == Subaddress::Post
            && let Some(list) = self.snapshot.list(&dest.list)
        {
            let (decided, dmarc) = self.early_refusal(&list).await?;
            if let Some(decided) = decided {
                return Ok(decided);
            }
            found = dmarc;
        }
        let mut envelope = Envelope::new(
            stage_for(dest.subaddress),
            &dest.list.to_string(),
            self.mail_from,
            rcpt,
        );
        envelope.subaddress = dest.subaddress.canonical_name().map(String::from);
        envelope.extension = dest.extension;
        if let Some(value) = dmarc::carry::to_attr(found) {
            envelope.attrs.insert(dmarc::carry::ATTR.into(), value);
        }
        Ok(Plan::Store(envelope))
    }

    /// The early chain for a post to `list`: `Some` when the post is refused or discarded;
    /// with the DMARC policy it was judged on.
    async fn early_refusal(
        &mut self,
        list: &ListInfo,
    ) -> anyhow::Result<(Option<Plan>, FromDmarc)> {
        let counter = self.snapshot.change_counter;
        let list_ctx = self.posting.context(list, counter).await?;
        let sender = (!self.mail_from.is_empty()).then_some(self.mail_from);
        let parsed = match &mut self.parsed {
            Some(parsed) => parsed,
            None => {
                let message = Message::parse(self.message)?;
                let senders = message.senders(sender);
                self.parsed.insert(Parsed { message, senders })
            }
        };
        let facts = self
            .posting
            .sender_facts(&list.address, &parsed.senders, counter)
            .await?;
        let dmarc = match domain_to_query(&parsed.message, &list_ctx) {
            Some(domain) if self.dns.is_some() => {
                match self.dmarc_found.iter().find(|(d, _)| *d == domain) {
                    Some((_, found)) => *found,
                    None => {
                        let found = dmarc::facts_for(self.dns, &domain).await;
                        self.dmarc_found.push((domain, found));
                        found
                    }
                }
            }
            _ => FromDmarc::NotLookedUp,
        };
        let msg_facts = MessageFacts {
            original_size: self.original_size,
            dmarc,
            ..MessageFacts::default()
        };
        let ctx = RuleContext::for_senders(
            &parsed.message,
            &list_ctx,
            &parsed.senders,
            &facts,
            sender,
            msg_facts,
        );
        // The `approved` rule comes first and reads the body (an `Approved:` line): without
        // the body, only a list without a moderator password can be judged here.
        let body_may_approve = self.headers_only
            && list
                .settings
                .moderator_password
                .as_ref()
                .is_some_and(|p| !p.0.is_empty());
        if body_may_approve {
            return Ok((None, dmarc));
        }
        let decided = match chain::early(&ctx) {
            Early::Refuse(refusal) => Some(Plan::Refuse(refusal)),
            // With `forward_auto_discards` the runner discards it and tells the moderators.
            Early::Discard(_) if list.settings.forward_auto_discards => None,
            Early::Discard(reasons) => Some(Plan::Discard(reasons.join("; "))),
            Early::Store => None,
        };
        Ok((decided, dmarc))
    }
}
