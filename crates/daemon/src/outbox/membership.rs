//! The membership mails and the answers to mail: confirmations, welcome and goodbye, the
//! owners' notices and approval requests, refusals, command results, autoresponses, the
//! "no more today" notice, post acknowledgements, and the notice that a held post expired.
//!
//! Each text is Mailman's named template (an override from the store, else the English
//! default) expanded with the list's placeholders and the mail's own; the message is built
//! by `mailcast_pipeline::generated`, which keeps every header free of injected lines.
//! Subjects and senders are Mailman 3's: confirmations come from `-confirm+TOKEN` (a plain
//! reply confirms), welcome and goodbye from `-request`, owner notices from `-owner`,
//! results and autoresponses from `-bounces`; every envelope sender is `-bounces` (or the
//! site owner for the owners' mail), so nothing we send can start a loop.

use mailcast_model::{EmailAddress, Mailbox};
use mailcast_pipeline::ListContext;
use mailcast_pipeline::generated::{self, AutoSubmitted, GeneratedMail};
use mailcast_pipeline::message::Message;
use mailcast_pipeline::templates::{self, Overrides};
use mailcast_spool::EntryId;
use mailcast_store::{PendingRequest, RequestKind, ResponseKind};
use tracing::info;

use super::answer::Allowance;
use super::notices::About;
use super::{Mail, Outbox};

/// One mail to build: who it is from and to, the template, its subject and placeholders.
struct Letter<'a> {
    from: String,
    to: &'a Mailbox,
    envelope: String,
    template: &'static str,
    subject: String,
    extra: Vec<(&'static str, String)>,
    auto_submitted: AutoSubmitted,
    in_reply_to: Option<String>,
    headers: Vec<(&'static str, String)>,
    attach: Option<&'a [u8]>,
    /// Text used instead of the template (autoresponses, command results).
    text: Option<String>,
}

impl<'a> Letter<'a> {
    fn new(list: &ListContext, to: &'a Mailbox, template: &'static str, subject: String) -> Self {
        Letter {
            from: list.address().sub_address("request"),
            to,
            envelope: list.address().sub_address("bounces"),
            template,
            subject,
            extra: Vec::new(),
            auto_submitted: AutoSubmitted::Generated,
            in_reply_to: None,
            headers: Vec::new(),
            attach: None,
            text: None,
        }
    }
}

impl Outbox {
    /// Builds and queues one letter.
    async fn send(
        &self,
        list: &ListContext,
        letter: Letter<'_>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let text = match letter.text {
            Some(text) => text,
            None => expand(list, &overrides, letter.template, &letter.extra, letter.to),
        };
        let generated = self.generated();
        let to_address = letter.to.address.original().to_string();
        let to_name = letter.to.display_name.clone();
        let mail = GeneratedMail {
            from: generated::Mailbox {
                name: None,
                address: &letter.from,
            },
            to: vec![generated::Mailbox {
                name: to_name.as_deref(),
                address: &to_address,
            }],
            subject: &letter.subject,
            text: &text,
            auto_submitted: letter.auto_submitted,
            in_reply_to: letter.in_reply_to.as_deref(),
            extra_headers: letter.headers,
            attachments: letter.attach.into_iter().collect(),
        };
        let body = generated::build(&mail, &generated.ids());
        self.queue(Mail {
            id,
            list: list.address().clone(),
            mail_from: letter.envelope,
            rcpts: vec![to_address],
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
        let (template, subject) = match request.kind {
            RequestKind::Subscription => (
                "list:user:action:subscribe",
                format!(
                    "Your confirmation is needed to join the {} mailing list.",
                    list.address().posting_address()
                ),
            ),
            RequestKind::Unsubscription => (
                "list:user:action:unsubscribe",
                format!(
                    "Your confirmation is needed to leave the {} mailing list.",
                    list.address().posting_address()
                ),
            ),
        };
        let to = mailbox(request);
        let mut letter = Letter::new(list, &to, template, subject);
        letter.from = format!(
            "{}-confirm+{}@{}",
            list.address().name(),
            request.token,
            list.address().domain()
        );
        letter.extra = vec![
            ("token", request.token.clone()),
            ("user_email", request.email.original().to_string()),
        ];
        self.send(list, letter, id).await
    }

    /// The welcome message to a new member.
    pub async fn welcome(
        &self,
        list: &ListContext,
        to: &Mailbox,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let subject = format!("Welcome to the \"{}\" mailing list", list.display_name());
        let letter = Letter::new(list, to, "list:user:notice:welcome", subject);
        self.send(list, letter, id).await
    }

    /// The goodbye message to someone who left (Mailman's default text is empty; the
    /// subject says it all).
    pub async fn goodbye(
        &self,
        list: &ListContext,
        to: &Mailbox,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let subject = format!(
            "You have been unsubscribed from the {} mailing list",
            list.display_name()
        );
        let letter = Letter::new(list, to, "list:user:notice:goodbye", subject);
        self.send(list, letter, id).await
    }

    /// The owners' notice that someone joined or left (`admin_notify_mchanges`).
    pub async fn membership_change(
        &self,
        list: &ListContext,
        kind: RequestKind,
        who: &Mailbox,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let (template, subject) = match kind {
            RequestKind::Subscription => (
                "list:admin:notice:subscribe",
                format!("{} subscription notification", list.display_name()),
            ),
            RequestKind::Unsubscription => (
                "list:admin:notice:unsubscribe",
                format!("{} unsubscription notification", list.display_name()),
            ),
        };
        self.to_staff(
            list,
            template,
            subject,
            vec![("member", member_text(who))],
            id,
        )
        .await
    }

    /// The moderators' request to approve a subscription or unsubscription.
    pub async fn approval_needed(
        &self,
        list: &ListContext,
        request: &PendingRequest,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let (template, subject) = match request.kind {
            RequestKind::Subscription => (
                "list:admin:action:subscribe",
                format!(
                    "New subscription request to {} from {}",
                    list.display_name(),
                    request.email
                ),
            ),
            RequestKind::Unsubscription => (
                "list:admin:action:unsubscribe",
                format!(
                    "New unsubscription request from {} by {}",
                    list.display_name(),
                    request.email
                ),
            ),
        };
        let extra = vec![
            ("member", member_text(&mailbox(request))),
            ("token", request.token.clone()),
        ];
        self.to_staff(list, template, subject, extra, id).await
    }

    /// Tells the subscriber that the moderators refused the request.
    pub async fn request_refused(
        &self,
        list: &ListContext,
        request: &PendingRequest,
        reason: Option<&str>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let subject = format!(
            "Request to mailing list \"{}\" rejected",
            list.display_name()
        );
        let to = mailbox(request);
        let what = match request.kind {
            RequestKind::Subscription => format!("Subscription request for {}", request.email),
            RequestKind::Unsubscription => {
                format!("Unsubscription request for {}", request.email)
            }
        };
        let mut letter = Letter::new(list, &to, "list:user:notice:refuse", subject);
        letter.from = list.address().sub_address("owner");
        letter.extra = vec![
            ("request", what),
            ("reason", reason.unwrap_or("No reason given").to_string()),
        ];
        self.send(list, letter, id).await
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
        let to = Mailbox {
            display_name: None,
            address: sender.clone(),
        };
        let Some(letter) = self
            .capped(list, &to, ResponseKind::Command, message)
            .await?
        else {
            return Ok(None);
        };
        let mut letter = letter.unwrap_or_else(|| {
            let mut letter = Letter::new(
                list,
                &to,
                "help",
                mailcast_pipeline::commands::results::RESULTS_SUBJECT.to_string(),
            );
            letter.text = Some(text.to_string());
            letter
        });
        letter.in_reply_to = message.message_id();
        letter.auto_submitted = AutoSubmitted::Replied;
        self.send(list, letter, id).await
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
        let text = match kind {
            ResponseKind::Owner => &settings.autoresponse_owner_text,
            ResponseKind::Postings => &settings.autoresponse_postings_text,
            _ => &settings.autoresponse_request_text,
        };
        let grace_days = settings.autoresponse_grace_period.seconds / 86_400;
        let acked = message
            .text("X-Ack")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"));
        if settings.autoresponse_grace_period.seconds > 0
            && !acked
            && let Some(last) = self
                .store
                .last_autoresponse(list.address(), sender, kind)
                .await?
        {
            let today = super::answer::today_utc();
            let next = last
                .checked_add(jiff::Span::new().days(grace_days as i64))
                .unwrap_or(last);
            if next > today {
                info!(%sender, "autoresponse skipped: within the grace period");
                return Ok(None);
            }
        }
        let today = super::answer::today_utc();
        self.store
            .note_autoresponse(list.address(), sender, kind, today)
            .await?;
        let to = Mailbox {
            display_name: None,
            address: sender.clone(),
        };
        let subject = format!(
            "Auto-response for your message to the \"{}\" mailing list",
            list.display_name()
        );
        let extra = vec![
            ("list_name", list.address().name().to_string()),
            ("requestemail", list.address().sub_address("request")),
            ("owneremail", list.address().sub_address("owner")),
        ];
        let expanded = templates::wrap(&templates::expand(&text.0, list, &extra), 70);
        let mut letter = Letter::new(list, &to, "help", subject);
        letter.from = list.address().sub_address("bounces");
        letter.text = Some(expanded);
        letter.auto_submitted = AutoSubmitted::Replied;
        letter.in_reply_to = message.message_id();
        letter.headers = vec![
            ("X-Mailer", "The mailcast Replybot".to_string()),
            ("X-Ack", "No".to_string()),
        ];
        self.send(list, letter, id).await
    }

    /// The acknowledgement of an accepted post (`acknowledge_posts`).
    pub async fn post_acknowledgement(
        &self,
        list: &ListContext,
        poster: &Mailbox,
        subject: &str,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let mut letter = Letter::new(
            list,
            poster,
            "list:user:notice:post",
            format!("{} post acknowledgment", list.display_name()),
        );
        letter.envelope = list.address().sub_address("bounces");
        letter.extra = vec![("subject", subject.to_string())];
        self.send(list, letter, id).await
    }

    /// Tells the poster that their held post expired unread (job `<entry>.nexpired`).
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
        let to = Mailbox {
            display_name: None,
            address,
        };
        let subject = message.subject().unwrap_or_else(|| "(no subject)".into());
        let mut letter = Letter::new(
            list,
            &to,
            "list:user:notice:held-expired",
            format!(
                "Your message to {} expired without a decision",
                list.address().posting_address()
            ),
        );
        letter.from = list.address().sub_address("owner");
        letter.envelope = String::new();
        letter.extra = vec![("days", days.to_string()), ("subject", subject)];
        letter.attach = Some(about.post);
        self.send(list, letter, entry.derive("nexpired")?).await
    }

    /// Applies the daily cap to an answer to `to`: `None` for silence, `Some(None)` to send
    /// the answer, `Some(Some(letter))` to send the "no more today" notice instead.
    async fn capped<'a>(
        &self,
        list: &ListContext,
        to: &'a Mailbox,
        kind: ResponseKind,
        message: &Message<'_>,
    ) -> anyhow::Result<Option<Option<Letter<'a>>>> {
        Ok(
            match self.allowance(list.address(), &to.address, kind).await? {
                Allowance::Send => Some(None),
                Allowance::Silent => {
                    info!(address = %to.address, "automatic response limit reached; not answered");
                    None
                }
                Allowance::LastToday { count } => {
                    info!(address = %to.address, count, "automatic response limit hit");
                    let mut letter = Letter::new(
                        list,
                        to,
                        "list:user:notice:no-more-today",
                        "Last autoresponse notification for today".to_string(),
                    );
                    letter.from = list.address().sub_address("owner");
                    letter.extra = vec![
                        ("sender_email", to.address.original().to_string()),
                        ("count", count.to_string()),
                    ];
                    letter.in_reply_to = message.message_id();
                    Some(Some(letter))
                }
            },
        )
    }

    /// A notice to the owners and moderators, from `-owner`, envelope the site owner.
    async fn to_staff(
        &self,
        list: &ListContext,
        template: &'static str,
        subject: String,
        extra: Vec<(&'static str, String)>,
        id: EntryId,
    ) -> anyhow::Result<Option<EntryId>> {
        let overrides = self.overrides(list.address()).await?;
        let owner = list.address().sub_address("owner");
        let text = templates::expand(overrides.text(template), list, &extra);
        let generated = self.generated();
        let mail = GeneratedMail {
            from: generated::Mailbox {
                name: None,
                address: &owner,
            },
            to: vec![generated::Mailbox {
                name: None,
                address: &owner,
            }],
            subject: &subject,
            text: &text,
            auto_submitted: AutoSubmitted::Generated,
            in_reply_to: None,
            extra_headers: Vec::new(),
            attachments: Vec::new(),
        };
        let body = generated::build(&mail, &generated.ids());
        let rcpts = self.staff(list.address()).await?;
        self.queue(Mail {
            id,
            list: list.address().clone(),
            mail_from: self.site_owner.clone(),
            rcpts,
            body,
        })
        .await
    }
}

/// The template's text (override or default) expanded for `to`.
fn expand(
    list: &ListContext,
    overrides: &Overrides,
    template: &str,
    extra: &[(&'static str, String)],
    to: &Mailbox,
) -> String {
    let mut all: Vec<(&str, String)> = extra.iter().map(|(k, v)| (*k, v.clone())).collect();
    let email = to.address.original().to_string();
    let name = to.display_name.clone().unwrap_or_default();
    for (key, value) in [
        ("user_email", email.clone()),
        ("user_address", email.clone()),
        ("user_name", name.clone()),
        (
            "user_name_or_address",
            if name.is_empty() { email.clone() } else { name },
        ),
    ] {
        if !all.iter().any(|(k, _)| *k == key) {
            all.push((key, value));
        }
    }
    templates::expand(overrides.text(template), list, &all)
}

fn mailbox(request: &PendingRequest) -> Mailbox {
    Mailbox {
        display_name: request.display_name.clone(),
        address: request.email.clone(),
    }
}

/// `Name <address>` or the address, for `$member`.
fn member_text(who: &Mailbox) -> String {
    match who.display_name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(name) => format!("{name} <{}>", who.address),
        None => who.address.to_string(),
    }
}
