//! The notices about a post: held (to the moderators and to the poster), rejected (to the
//! poster) and expired (a held post nobody decided on within `max_days_to_hold`). The texts
//! come from `mailcast_pipeline::notice`; this module picks the recipients and the ids.
//!
//! As in Mailman, the moderators' notice comes from the site owner's envelope and goes to the
//! owners and moderators ([`Outbox::staff`]); answers to the poster go out from the null
//! sender, and only where [`Outbox::may_answer`] and `respond_to_post_requests` allow. Each
//! job id derives from the entry it is about: `<entry>.nmod`, `<entry>.nposter`,
//! `<entry>.nreject`, `<entry>.nexpired`; a post content filtering forwards to the owners
//! (`filter_action = forward`) is `<entry>.nfilter`.

use mailcast_pipeline::ListContext;
use mailcast_pipeline::message::Message;
use mailcast_pipeline::notice;
use mailcast_spool::EntryId;
use tracing::debug;

use super::{Mail, Outbox};

/// What a notice is about: the post, its envelope sender, and the address to answer.
pub struct About<'a> {
    /// The post (as held, or as received).
    pub post: &'a [u8],
    /// The post's envelope sender (empty for the null sender).
    pub envelope_sender: &'a str,
    /// The poster (the first of the post's senders), if any.
    pub poster: Option<&'a str>,
    /// Why it is held or rejected.
    pub reasons: &'a [String],
}

impl Outbox {
    /// Queues the notices about a held post: to the moderators when the list wants them
    /// (`admin_immed_notify`), to the poster when the list answers held posts and RFC 3834
    /// allows it. Returns the jobs created.
    pub async fn held_notices(
        &self,
        parent: &EntryId,
        list: &ListContext,
        about: &About<'_>,
        token: &str,
    ) -> anyhow::Result<Vec<EntryId>> {
        let mut queued = Vec::new();
        let address = list.address();
        let poster_text = about.poster.unwrap_or("(unknown sender)");
        if list.settings().admin_immed_notify {
            let generated = self.generated();
            let body = notice::held_for_moderators(
                list,
                about.post,
                poster_text,
                about.reasons,
                token,
                &generated.ids(),
            );
            let mail = Mail {
                id: parent.derive("nmod")?,
                list: address.clone(),
                mail_from: self.site_owner.clone(),
                rcpts: self.staff(address).await?,
                body,
            };
            queued.extend(self.queue(mail).await?);
        }
        if let Some(poster) = about.poster
            && self.may_answer_about(about, poster)
            && Message::parse(about.post)
                .is_ok_and(|m| notice::poster_may_be_told(&m, list, &Default::default()))
        {
            let generated = self.generated();
            let body =
                notice::held_for_poster(list, about.post, poster, about.reasons, &generated.ids());
            let mail = Mail {
                id: parent.derive("nposter")?,
                list: address.clone(),
                mail_from: String::new(),
                rcpts: vec![poster.to_string()],
                body,
            };
            queued.extend(self.queue(mail).await?);
        } else {
            debug!("the poster is not told about the hold");
        }
        Ok(queued)
    }

    /// Queues the rejection notice to the poster (job `<about>.nreject`), unless RFC 3834
    /// forbids answering. Mailman sends it whatever `respond_to_post_requests` says.
    pub async fn rejected_notice(
        &self,
        about_id: &EntryId,
        list: &ListContext,
        about: &About<'_>,
    ) -> anyhow::Result<Option<EntryId>> {
        let Some(poster) = about.poster.filter(|p| self.may_answer_about(about, p)) else {
            debug!("the poster is not told about the rejection");
            return Ok(None);
        };
        let generated = self.generated();
        let body = notice::rejected(list, about.post, poster, about.reasons, &generated.ids());
        let mail = Mail {
            id: about_id.derive("nreject")?,
            list: list.address().clone(),
            mail_from: String::new(),
            rcpts: vec![poster.to_string()],
            body,
        };
        self.queue(mail).await
    }

    /// Forwards a post the list's rules discarded to the moderators
    /// (`forward_auto_discards`, job `<entry>.ndiscard`), as Mailman's "Auto-discard
    /// notification".
    pub async fn forward_discarded(
        &self,
        entry: &EntryId,
        list: &ListContext,
        post: &[u8],
        reasons: &[String],
    ) -> anyhow::Result<Option<EntryId>> {
        let address = list.address();
        let owner = address.sub_address("owner");
        let text = format!(
            "The attached message was discarded automatically by the rules of the {} \
             mailing list.\n\nWhy:\n{}\nNothing needs to be done; the sender was not told.\n",
            address.posting_address(),
            reasons
                .iter()
                .map(|r| format!("  - {r}\n"))
                .collect::<String>()
        );
        let subject = format!(
            "Auto-discard notification for {}",
            address.posting_address()
        );
        let generated = self.generated();
        let mail = mailcast_pipeline::generated::GeneratedMail {
            from: mailcast_pipeline::generated::Mailbox {
                name: None,
                address: &owner,
            },
            to: vec![mailcast_pipeline::generated::Mailbox {
                name: None,
                address: &owner,
            }],
            subject: &subject,
            text: &text,
            auto_submitted: mailcast_pipeline::generated::AutoSubmitted::Generated,
            in_reply_to: None,
            extra_headers: Vec::new(),
            attachments: vec![post],
        };
        let body = mailcast_pipeline::generated::build(&mail, &generated.ids());
        let mail = Mail {
            id: entry.derive("ndiscard")?,
            list: address.clone(),
            mail_from: self.site_owner.clone(),
            rcpts: self.staff(address).await?,
            body,
        };
        self.queue(mail).await
    }

    /// Forwards a post content filtering took away to the owners and moderators
    /// (`filter_action = forward`, job `<entry>.nfilter`), as Mailman's "Content filter
    /// message notification" with the post attached.
    pub async fn forward_filtered(
        &self,
        entry: &EntryId,
        list: &ListContext,
        post: &[u8],
    ) -> anyhow::Result<Option<EntryId>> {
        use mailcast_pipeline::generated::{self, AutoSubmitted, GeneratedMail, Mailbox};
        use mailcast_pipeline::handlers::mime_delete;
        let address = list.address();
        let owner = address.sub_address("owner");
        let text = mime_delete::forward_text(list);
        let mail = GeneratedMail {
            from: Mailbox {
                name: None,
                address: &owner,
            },
            to: vec![Mailbox {
                name: None,
                address: &owner,
            }],
            subject: mime_delete::FORWARD_SUBJECT,
            text: &text,
            auto_submitted: AutoSubmitted::Generated,
            in_reply_to: None,
            extra_headers: Vec::new(),
            attachments: vec![post],
        };
        let body = generated::build(&mail, &self.generated().ids());
        let mail = Mail {
            id: entry.derive("nfilter")?,
            list: address.clone(),
            mail_from: self.site_owner.clone(),
            rcpts: self.staff(address).await?,
            body,
        };
        self.queue(mail).await
    }

    /// Whether an automatic answer about `about` may go to `poster`.
    fn may_answer_about(&self, about: &About<'_>, poster: &str) -> bool {
        Message::parse(about.post)
            .is_ok_and(|message| self.may_answer(&message, about.envelope_sender, poster))
    }
}
