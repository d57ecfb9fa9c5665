//! The membership mails and the answers to mail: confirmations, welcome and goodbye, the
//! owners' notices and approval requests, refusals, command results, autoresponses, the
//! "no more today" notice, post acknowledgements, and the notice that a held post expired.
//!
//! The texts, subjects and senders are the pipeline's pure builders
//! (`mailcast_pipeline::membership_notice`: Mailman's named templates, with the overrides
//! from the store, and Mailman's subjects); the message is built by
//! `mailcast_pipeline::generated`, which keeps every header free of injected lines. This
//! module adds what needs I/O: the overrides, the recipients, the daily cap and the grace
//! period, ids, and the job. Every envelope sender is `-bounces`, the null sender, or the
//! site owner for the owners' mail, so nothing we send can start a loop.

use mailcast_model::{EmailAddress, Mailbox};
use mailcast_pipeline::ListContext;
use mailcast_pipeline::generated::{self, AutoSubmitted};
use mailcast_pipeline::membership_notice::{self as texts, Autoresponse, Confirmation, Notice};
use mailcast_pipeline::message::Message;
use mailcast_pipeline::templates;
use mailcast_spool::EntryId;
use mailcast_store::{PendingRequest, RequestKind, ResponseKind};
use tracing::info;

use super::answer::Allowance;
use super::notices::About;
use super::{Mail, Outbox};

/// How a notice travels: its recipient, envelope sender and threading.
pub(super) struct Envelope<'a> {
    pub(super) to: &'a Mailbox,
    pub(super) mail_from: String,
    pub(super) in_reply_to: Option<String>,
    pub(super) attach: Option<&'a [u8]>,
}

impl<'a> Envelope<'a> {
    pub(super) fn to(list: &ListContext, to: &'a Mailbox) -> Envelope<'a> {
        Envelope {
            to,
            mail_from: list.address().sub_address("bounces"),
            in_reply_to: None,
            attach: None,
        }
    }
}

impl Outbox {
    /// Builds `notice` for `envelope.to` and queues it.
    pub(super) async fn send(
        &self,
        list: &ListContext,
        notice: Notice,
        envelope: Envelope<'_>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let generated = self.generated();
        let to_address = envelope.to.address.original().to_string();
        let to_name = envelope.to.display_name.clone();
        let mut mail = notice.mail(vec![generated::Mailbox {
            name: to_name.as_deref(),
            address: &to_address,
        }]);
        mail.in_reply_to = envelope.in_reply_to.as_deref();
        mail.attachments = envelope.attach.into_iter().collect();
        let body = generated::build(&mail, &generated.ids());
        self.queue(Mail {
            id,
            list: list.address().clone(),
            mail_from: envelope.mail_from,
            rcpts: vec![to_address],
            body,
        })
        .await
    }

    /// A notice to the owners and moderators, envelope the site owner.
    async fn send_to_staff(
        &self,
        list: &ListContext,
        notice: Notice,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let rcpts = self.staff(list.address()).await?;
        self.send_to_owners(list, notice, rcpts, None, id).await
    }

    /// A notice for `-owner`, sent to `rcpts` (envelope the site owner), with `attach` as a
    /// `message/rfc822` part.
    pub(super) async fn send_to_owners(
        &self,
        list: &ListContext,
        notice: Notice,
        rcpts: Vec<String>,
        attach: Option<&[u8]>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let owner = list.address().sub_address("owner");
        let generated = self.generated();
        let mut mail = notice.mail(vec![generated::Mailbox::bare(&owner)]);
        mail.attachments = attach.into_iter().collect();
        let body = generated::build(&mail, &generated.ids());
        self.queue(Mail {
            id,
            list: list.address().clone(),
            mail_from: self.site_owner.clone(),
            rcpts,
            body,
        })
        .await
    }

    /// The confirmation a subscriber (or someone leaving) must answer; from
    /// `LIST-confirm+TOKEN@domain`, so that a plain reply confirms.
    pub async fn confirmation(
        &self,
        list: &ListContext,
        request: &PendingRequest,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let kind = match request.kind {
            RequestKind::Subscription => Confirmation::Subscribe,
            RequestKind::Unsubscription => Confirmation::Unsubscribe,
        };
        let notice = texts::confirmation_request(
            list,
            &overrides,
            kind,
            request.email.original(),
            &request.token,
            true,
        );
        let to = mailbox(request);
        self.send(list, notice, Envelope::to(list, &to), id).await
    }

    /// The welcome message to a new member.
    pub async fn welcome(
        &self,
        list: &ListContext,
        to: &Mailbox,
        digest: bool,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let notice = texts::welcome(
            list,
            &overrides,
            to.display_name.as_deref(),
            to.address.original(),
            digest,
        );
        self.send(list, notice, Envelope::to(list, to), id).await
    }

    /// The goodbye message to someone who left.
    pub async fn goodbye(
        &self,
        list: &ListContext,
        to: &Mailbox,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let notice = texts::goodbye(list, &overrides, to.address.original());
        self.send(list, notice, Envelope::to(list, to), id).await
    }

    /// The owners' notice that someone joined or left (`admin_notify_mchanges`).
    pub async fn membership_change(
        &self,
        list: &ListContext,
        kind: RequestKind,
        who: &Mailbox,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let (name, email) = (who.display_name.as_deref(), who.address.original());
        let notice = match kind {
            RequestKind::Subscription => texts::owner_subscribed(list, &overrides, name, email),
            RequestKind::Unsubscription => texts::owner_unsubscribed(list, &overrides, name, email),
        };
        self.send_to_staff(list, notice, id).await
    }

    /// The moderators' request to approve a subscription or unsubscription.
    pub async fn approval_needed(
        &self,
        list: &ListContext,
        request: &PendingRequest,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let kind = match request.kind {
            RequestKind::Subscription => texts::Request::Subscription,
            RequestKind::Unsubscription => texts::Request::Unsubscription,
        };
        let notice = texts::moderator_approval(
            list,
            &overrides,
            kind,
            request.display_name.as_deref(),
            request.email.original(),
            &request.token,
        );
        self.send_to_staff(list, notice, id).await
    }

    /// Tells the subscriber that the moderators refused the request
    /// (`list:user:notice:refuse`).
    pub async fn request_refused(
        &self,
        list: &ListContext,
        request: &PendingRequest,
        reason: Option<&str>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let what = match request.kind {
            RequestKind::Subscription => format!("Subscription request for {}", request.email),
            RequestKind::Unsubscription => {
                format!("Unsubscription request for {}", request.email)
            }
        };
        let text = templates::expand(
            overrides.text("list:user:notice:refuse"),
            list,
            &[
                ("request", what),
                ("reason", reason.unwrap_or("No reason given").to_string()),
            ],
        );
        let notice = Notice {
            from: list.address().sub_address("owner"),
            subject: format!(
                "Request to mailing list \"{}\" rejected",
                list.display_name()
            ),
            text,
            auto_submitted: AutoSubmitted::Generated,
            extra_headers: Vec::new(),
        };
        let to = mailbox(request);
        self.send(list, notice, Envelope::to(list, &to), id).await
    }

    /// The results of the email commands in `message`, to `sender`, within the daily cap.
    pub async fn command_results(
        &self,
        list: &ListContext,
        message: &Message<'_>,
        sender: &EmailAddress,
        text: &str,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let Some(notice) = self.capped(list, sender, ResponseKind::Command).await? else {
            return Ok(None);
        };
        let notice = notice.unwrap_or_else(|| Notice {
            from: list.address().sub_address("bounces"),
            subject: mailcast_pipeline::commands::RESULTS_SUBJECT.to_string(),
            text: text.to_string(),
            auto_submitted: AutoSubmitted::Replied,
            extra_headers: Vec::new(),
        });
        let to = Mailbox {
            display_name: None,
            address: sender.clone(),
        };
        let mut envelope = Envelope::to(list, &to);
        envelope.in_reply_to = message.message_id();
        self.send(list, notice, envelope, id).await
    }

    /// Mailman's replybot: the list's autoresponse text to `sender` (not within the grace
    /// period of the last one), marked `X-Ack: No` so that no autoresponder answers back.
    pub async fn autoresponse(
        &self,
        list: &ListContext,
        kind: ResponseKind,
        message: &Message<'_>,
        sender: &EmailAddress,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let settings = list.settings();
        let grace_days = settings.autoresponse_grace_period.seconds / 86_400;
        let acked = message
            .text("X-Ack")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"));
        let today = super::answer::today_utc();
        if settings.autoresponse_grace_period.seconds > 0
            && !acked
            && let Some(last) = self
                .store
                .last_autoresponse(list.address(), sender, kind)
                .await?
        {
            let next = last
                .checked_add(jiff::Span::new().days(grace_days as i64))
                .unwrap_or(last);
            if next > today {
                info!(%sender, "autoresponse skipped: within the grace period");
                return Ok(None);
            }
        }
        self.store
            .note_autoresponse(list.address(), sender, kind, today)
            .await?;
        let which = match kind {
            ResponseKind::Owner => Autoresponse::Owner,
            ResponseKind::Postings => Autoresponse::Postings,
            _ => Autoresponse::Request,
        };
        let to = Mailbox {
            display_name: None,
            address: sender.clone(),
        };
        let mut envelope = Envelope::to(list, &to);
        envelope.in_reply_to = message.message_id();
        self.send(list, texts::autoresponse(list, which), envelope, id)
            .await
    }

    /// The acknowledgement of an accepted post (`acknowledge_posts`).
    pub async fn post_acknowledgement(
        &self,
        list: &ListContext,
        poster: &Mailbox,
        subject: &str,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let notice = texts::post_acknowledgement(list, &overrides, Some(subject));
        self.send(list, notice, Envelope::to(list, poster), id)
            .await
    }

    /// Tells the poster that their held post expired unread (job `<entry>.nexpired`), with
    /// the post attached.
    pub async fn expired_notice(
        &self,
        entry: &EntryId,
        list: &ListContext,
        about: &About<'_>,
        days: u64,
    ) -> anyhow::Result<Option<EntryId>> {
        let Some(poster) = about.poster else {
            return Ok(None);
        };
        let Ok(message) = Message::parse(about.post) else {
            return Ok(None);
        };
        if !self.may_answer(&message, about.envelope_sender, poster) {
            return Ok(None);
        }
        let Ok(address) = EmailAddress::parse(poster) else {
            return Ok(None);
        };
        let overrides = self.overrides(list.address()).await?;
        let subject = message.subject();
        let notice = texts::held_expired_for_poster(
            list,
            &overrides,
            subject.as_deref(),
            u32::try_from(days).unwrap_or(u32::MAX),
        );
        let to = Mailbox {
            display_name: None,
            address,
        };
        let envelope = Envelope {
            to: &to,
            mail_from: String::new(),
            in_reply_to: message.message_id(),
            attach: Some(about.post),
        };
        self.send(list, notice, envelope, entry.derive("nexpired")?)
            .await
    }

    /// Applies the daily cap to an answer to `to`: `None` for silence, `Some(None)` to send
    /// the answer, `Some(Some(notice))` to send the "no more today" notice instead.
    async fn capped(
        &self,
        list: &ListContext,
        to: &EmailAddress,
        kind: ResponseKind,
    ) -> anyhow::Result<Option<Option<Notice>>> {
        Ok(match self.allowance(list.address(), to, kind).await? {
            Allowance::Send => Some(None),
            Allowance::Silent => {
                info!(address = %to, "automatic response limit reached; not answered");
                None
            }
            Allowance::LastToday { count } => {
                info!(address = %to, count, "automatic response limit hit");
                let overrides = self.overrides(list.address()).await?;
                Some(Some(texts::no_more_today(
                    list,
                    &overrides,
                    to.original(),
                    u32::try_from(count).unwrap_or(u32::MAX),
                )))
            }
        })
    }
}

fn mailbox(request: &PendingRequest) -> Mailbox {
    Mailbox {
        display_name: request.display_name.clone(),
        address: request.email.clone(),
    }
}
