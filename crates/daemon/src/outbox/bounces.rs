//! The mails of bounce processing: the owners' notices (score increment, delivery disabled,
//! removal), the member's "delivery is disabled" warning, the probe, and the owners' copy of
//! an unrecognized bounce. Texts are the pipeline's (`mailcast_pipeline::bounce_notice`).
//!
//! The bounce that caused a notice is attached when there is one (a DSN; failures at
//! delivery time have none). The probe's envelope sender is `<list>-bounces+<token>@`, so
//! that its bounce names the probe; it is sent without VERP, as Mailman sends it.

use mailcast_model::Mailbox;
use mailcast_pipeline::ListContext;
use mailcast_pipeline::bounce_notice::{self as texts, OwnerNotice};
use mailcast_spool::EntryId;

use super::Outbox;
use super::membership::Envelope;

/// Where an unrecognized bounce goes (`forward_unrecognized_bounces_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardTo {
    /// The list's owners and moderators.
    Administrators,
    /// The site owner.
    SiteOwner,
}

impl Outbox {
    /// The owners' notice `which` about `member`, with the bounce attached if given.
    pub async fn bounce_owner_notice(
        &self,
        list: &ListContext,
        which: OwnerNotice,
        member: &Mailbox,
        bounce: Option<&[u8]>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let notice = texts::owner_notice(
            list,
            &overrides,
            which,
            member.display_name.as_deref(),
            member.address.original(),
        );
        let rcpts = self.staff(list.address()).await?;
        self.send_to_owners(list, notice, rcpts, bounce, id).await
    }

    /// The member's warning that delivery is disabled by bounces.
    pub async fn disabled_warning(
        &self,
        list: &ListContext,
        to: &Mailbox,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let notice = texts::disabled_warning(list, &overrides, to.address.original());
        self.send(list, notice, Envelope::to(list, to), id).await
    }

    /// The probe to `to`, from `probe_sender` (`-bounces+TOKEN`), with the bounce attached.
    pub async fn probe(
        &self,
        list: &ListContext,
        to: &Mailbox,
        probe_sender: &str,
        bounce: Option<&[u8]>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let notice = texts::probe(list, &overrides, to.address.original(), probe_sender);
        let envelope = Envelope {
            to,
            mail_from: probe_sender.to_string(),
            in_reply_to: None,
            attach: bounce,
        };
        self.send(list, notice, envelope, id).await
    }

    /// The owners' (or the site owner's) copy of a message to `-bounces` nobody could read.
    pub async fn unrecognized_bounce(
        &self,
        list: &ListContext,
        to: ForwardTo,
        bounce: &[u8],
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let notice = texts::unrecognized(list, &overrides);
        let rcpts = match to {
            ForwardTo::Administrators => self.staff(list.address()).await?,
            ForwardTo::SiteOwner => vec![self.site_owner.clone()],
        };
        self.send_to_owners(list, notice, rcpts, Some(bounce), id)
            .await
    }
}
