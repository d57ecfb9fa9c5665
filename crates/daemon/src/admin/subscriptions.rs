//! Mailman 3's subscription and unsubscription workflows, and the pending requests they
//! leave in the store (`mailcast requests`, the `confirm` email command).
//!
//! **Subscribing** (Mailman's `SubscriptionWorkflow`): a banned address or a member is
//! refused; an address never verified gets a confirmation first (unless `pre_verified`);
//! then `subscription_policy` decides: `open` subscribes, `confirm` asks the address to
//! confirm (unless `pre_confirmed`), `moderate` asks the moderators (unless `pre_approved`),
//! `confirm_then_moderate` does both in turn. A subscription ends with the welcome message
//! (`send_welcome_message`) and the owners' notice (`admin_notify_mchanges`).
//! **Unsubscribing** mirrors it with `unsubscription_policy` (no verification step) and the
//! goodbye message (`send_goodbye_message`).
//!
//! **Tokens**: 160 bits from the CSPRNG ([`crate::ids::token`]), each bound to one list, one
//! kind of request and one party (the subscriber or the moderators), used once
//! (`Store::take_request` is atomic), and valid for `[site] pending_request_life`. An expired
//! token is refused as expired until the periodic work removes it a week later.
//!
//! Nothing here lets a third party subscribe an address without that address confirming:
//! only an operator (CLI, REST API) can pass the `pre_*` flags. Asking again while a
//! confirmation is pending sends the same confirmation again (the first may have been lost).

use jiff::{SignedDuration, Timestamp};
use mailcast_model::settings::SubscriptionPolicy;
use mailcast_model::{DeliveryMode, EmailAddress, ListAddress, Mailbox, MemberRole};
use mailcast_store::{PendingRequest, RequestKind, TokenOwner};
use tracing::info;

use super::{Admin, AdminError, Origin, Result};

/// How long an expired request is kept to be refused as "expired" before it is removed.
pub const EXPIRED_KEPT: SignedDuration = SignedDuration::from_hours(7 * 24);

/// What an operator vouches for when subscribing someone (Mailman's `pre_*` flags). Mail
/// from the address itself vouches for nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vouch {
    /// The address is known to be the subscriber's.
    pub pre_verified: bool,
    /// The subscriber wants it.
    pub pre_confirmed: bool,
    /// A moderator approves it.
    pub pre_approved: bool,
    /// Send (or not) the welcome message when the subscription is carried out at once;
    /// `None` follows the list's `send_welcome_message`.
    pub send_welcome_message: Option<bool>,
}

/// Where a request stands after an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Done: subscribed or unsubscribed.
    Done,
    /// A confirmation was mailed to the address.
    ConfirmationSent {
        /// The token it carries.
        token: String,
    },
    /// The moderators were asked to decide.
    AwaitingModerator {
        /// The token they decide on.
        token: String,
    },
}

/// A moderator's decision on a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestDecision {
    /// Carry the request out.
    Approve,
    /// Refuse it and tell the subscriber why.
    Reject(Option<String>),
    /// Drop it silently.
    Discard,
    /// Decide later.
    Defer,
}

/// What a token confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// The request's kind.
    pub kind: RequestKind,
    /// Whose request.
    pub email: EmailAddress,
    /// Where it stands now.
    pub progress: Progress,
}

impl Admin {
    /// Starts (or advances) subscribing `who` to `list`, as far as `vouch` allows.
    pub async fn subscribe(
        &self,
        list: &ListAddress,
        who: &Mailbox,
        mode: DeliveryMode,
        vouch: Vouch,
        origin: &Origin,
    ) -> Result<Progress> {
        let info = self.list_info(list).await?;
        let email = &who.address;
        if self.store.is_banned(list, email).await? {
            return Err(AdminError::Banned {
                address: email.to_string(),
                list: list.clone(),
            });
        }
        if self.is_member(list, email).await? {
            return Err(AdminError::Conflict(format!(
                "{email} is already a member of {list}"
            )));
        }
        if mode != DeliveryMode::Regular && !info.settings.digests_enabled {
            return Err(AdminError::Invalid(format!(
                "{list} does not offer digests"
            )));
        }
        if let Some(pending) = self
            .live_request(list, RequestKind::Subscription, email)
            .await?
        {
            return self.resend(list, &pending, origin).await;
        }
        let policy = info.settings.subscription_policy;
        let verified = self.store.address_verified_on(email).await?.is_some();
        if !verified && vouch.pre_verified {
            self.store.verify_address(email, Timestamp::now()).await?;
        }
        let verified = verified || vouch.pre_verified;
        let needs_confirmation = !verified
            || (matches!(
                policy,
                SubscriptionPolicy::Confirm | SubscriptionPolicy::ConfirmThenModerate
            ) && !vouch.pre_confirmed);
        let request = self.new_request(list, RequestKind::Subscription, who, mode);
        if needs_confirmation {
            return self.ask_subscriber(request, origin).await;
        }
        let needs_moderator = matches!(
            policy,
            SubscriptionPolicy::Moderate | SubscriptionPolicy::ConfirmThenModerate
        ) && !vouch.pre_approved;
        if needs_moderator {
            return self.ask_moderators(request, origin).await;
        }
        self.carry_out_subscription(&request, origin, vouch.send_welcome_message)
            .await?;
        Ok(Progress::Done)
    }

    /// Starts unsubscribing `email` from `list`, as far as `vouch` allows.
    pub async fn unsubscribe(
        &self,
        list: &ListAddress,
        email: &EmailAddress,
        vouch: Vouch,
        origin: &Origin,
    ) -> Result<Progress> {
        let info = self.list_info(list).await?;
        if !self.is_member(list, email).await? {
            return Err(AdminError::Conflict(format!(
                "{email} is not a member of {list}"
            )));
        }
        if let Some(pending) = self
            .live_request(list, RequestKind::Unsubscription, email)
            .await?
        {
            return self.resend(list, &pending, origin).await;
        }
        let policy = info.settings.unsubscription_policy;
        let who = Mailbox {
            display_name: None,
            address: email.clone(),
        };
        let request = self.new_request(
            list,
            RequestKind::Unsubscription,
            &who,
            DeliveryMode::Regular,
        );
        let needs_confirmation = matches!(
            policy,
            SubscriptionPolicy::Confirm | SubscriptionPolicy::ConfirmThenModerate
        ) && !vouch.pre_confirmed;
        if needs_confirmation {
            return self.ask_subscriber(request, origin).await;
        }
        if matches!(
            policy,
            SubscriptionPolicy::Moderate | SubscriptionPolicy::ConfirmThenModerate
        ) && !vouch.pre_approved
        {
            return self.ask_moderators(request, origin).await;
        }
        self.carry_out_unsubscription(&request, origin).await?;
        Ok(Progress::Done)
    }

    /// Confirms a request with `token` by mail to `list` (the subscriber's confirmation, or a
    /// moderator's approval by reply, as Mailman allows).
    pub async fn confirm(
        &self,
        list: &ListAddress,
        token: &str,
        origin: &Origin,
    ) -> Result<Confirmed> {
        let request = self.usable_request(list, token).await?;
        let progress = match request.token_owner {
            TokenOwner::Subscriber => self.after_confirmation(request.clone(), origin).await?,
            TokenOwner::Moderator => {
                self.take(token).await?;
                self.carry_out(&request, origin).await?;
                Progress::Done
            }
            TokenOwner::NoOne => return Err(token_did_not_match()),
        };
        Ok(Confirmed {
            kind: request.kind,
            email: request.email,
            progress,
        })
    }

    /// The pending requests of a list, oldest first.
    pub async fn requests(&self, list: &ListAddress) -> Result<Vec<PendingRequest>> {
        self.list_info(list).await?;
        Ok(self.store.requests(list, None).await?)
    }

    /// A moderator's decision on the request `token` of `list`. Only requests that wait for
    /// the moderators can be decided; one that waits for the subscriber is refused.
    pub async fn decide_request(
        &self,
        list: &ListAddress,
        token: &str,
        decision: RequestDecision,
        origin: &Origin,
    ) -> Result<()> {
        let request = self.usable_request(list, token).await?;
        if request.token_owner != TokenOwner::Moderator {
            return Err(AdminError::Invalid(format!(
                "the {} request {token} waits for {}'s confirmation, not for a moderator",
                request.kind.as_str(),
                request.email
            )));
        }
        if decision == RequestDecision::Defer {
            return Ok(());
        }
        let request = self.take(token).await?;
        match decision {
            RequestDecision::Approve => self.carry_out(&request, origin).await,
            RequestDecision::Reject(reason) => {
                let list_ctx = self.list_context(list).await?;
                let id = origin.next_id()?;
                self.outbox
                    .request_refused(&list_ctx, &request, reason.as_deref(), id)
                    .await?;
                info!(%list, email = %request.email, "request rejected");
                Ok(())
            }
            RequestDecision::Discard | RequestDecision::Defer => {
                info!(%list, email = %request.email, "request discarded");
                Ok(())
            }
        }
    }

    /// Removes requests that expired more than [`EXPIRED_KEPT`] ago; returns how many.
    pub async fn expire_requests(&self) -> Result<usize> {
        let before = Timestamp::now() - EXPIRED_KEPT;
        Ok(self.store.expire_requests(before).await?.len())
    }

    async fn is_member(&self, list: &ListAddress, email: &EmailAddress) -> Result<bool> {
        Ok(self
            .store
            .member(list, email)
            .await?
            .iter()
            .any(|m| m.role == MemberRole::Member))
    }

    /// The unexpired pending request of this kind for the address; an expired one is
    /// removed so that a new request can start.
    async fn live_request(
        &self,
        list: &ListAddress,
        kind: RequestKind,
        email: &EmailAddress,
    ) -> Result<Option<PendingRequest>> {
        let Some(pending) = self.store.pending_request_for(list, kind, email).await? else {
            return Ok(None);
        };
        if pending.expires_at > Timestamp::now() {
            return Ok(Some(pending));
        }
        match self.store.take_request(&pending.token).await {
            Ok(_) | Err(mailcast_store::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The request `token`, checked against the list and its lifetime.
    async fn usable_request(&self, list: &ListAddress, token: &str) -> Result<PendingRequest> {
        let request = match self.store.request(token).await {
            Ok(request) => request,
            Err(mailcast_store::Error::NotFound(_)) => return Err(token_did_not_match()),
            Err(e) => return Err(e.into()),
        };
        if &request.list != list {
            return Err(AdminError::Invalid(format!(
                "the confirmation token belongs to another list, not to {list}"
            )));
        }
        if request.expires_at <= Timestamp::now() {
            return Err(AdminError::Invalid(format!(
                "the confirmation token expired at {}; send a new request",
                request.expires_at.strftime("%Y-%m-%d %H:%M UTC")
            )));
        }
        Ok(request)
    }

    fn new_request(
        &self,
        list: &ListAddress,
        kind: RequestKind,
        who: &Mailbox,
        mode: DeliveryMode,
    ) -> PendingRequest {
        let now = Timestamp::now();
        let life = SignedDuration::try_from(self.settings().site.pending_request_life)
            .unwrap_or(SignedDuration::from_hours(72));
        PendingRequest {
            token: crate::ids::token(),
            list: list.clone(),
            kind,
            email: who.address.clone(),
            display_name: who.display_name.clone(),
            delivery_mode: mode,
            token_owner: TokenOwner::Subscriber,
            created_at: now,
            expires_at: now.checked_add(life).unwrap_or(Timestamp::MAX),
        }
    }

    async fn ask_subscriber(
        &self,
        mut request: PendingRequest,
        origin: &Origin,
    ) -> Result<Progress> {
        request.token_owner = TokenOwner::Subscriber;
        self.store.add_request(&request).await?;
        self.send_confirmation(&request, origin).await?;
        info!(list = %request.list, email = %request.email, kind = request.kind.as_str(),
            "confirmation sent");
        Ok(Progress::ConfirmationSent {
            token: request.token,
        })
    }

    async fn ask_moderators(
        &self,
        mut request: PendingRequest,
        origin: &Origin,
    ) -> Result<Progress> {
        request.token_owner = TokenOwner::Moderator;
        self.store.add_request(&request).await?;
        self.tell_moderators(&request, origin).await?;
        Ok(Progress::AwaitingModerator {
            token: request.token,
        })
    }

    async fn resend(
        &self,
        list: &ListAddress,
        pending: &PendingRequest,
        origin: &Origin,
    ) -> Result<Progress> {
        match pending.token_owner {
            TokenOwner::Moderator => Err(AdminError::Conflict(format!(
                "a {} request for {} is already waiting for the moderators of {list}",
                pending.kind.as_str(),
                pending.email
            ))),
            _ => {
                self.send_confirmation(pending, origin).await?;
                Ok(Progress::ConfirmationSent {
                    token: pending.token.clone(),
                })
            }
        }
    }

    /// Uses up the token (of two concurrent confirmations, one wins).
    async fn take(&self, token: &str) -> Result<PendingRequest> {
        self.store.take_request(token).await.map_err(|e| match e {
            mailcast_store::Error::NotFound(_) => token_did_not_match(),
            e => e.into(),
        })
    }

    /// After the subscriber confirmed (the token not yet used up): verify the address, then
    /// hand the request to the moderators (the subscriber's token replaced by theirs in one
    /// step, so a crash loses neither) or carry it out.
    async fn after_confirmation(
        &self,
        request: PendingRequest,
        origin: &Origin,
    ) -> Result<Progress> {
        let info = self.list_info(&request.list).await?;
        let policy = match request.kind {
            RequestKind::Subscription => {
                self.store
                    .verify_address(&request.email, Timestamp::now())
                    .await?;
                info.settings.subscription_policy
            }
            RequestKind::Unsubscription => info.settings.unsubscription_policy,
        };
        if matches!(
            policy,
            SubscriptionPolicy::Moderate | SubscriptionPolicy::ConfirmThenModerate
        ) {
            let mut next = self.new_request(
                &request.list,
                request.kind,
                &Mailbox {
                    display_name: request.display_name.clone(),
                    address: request.email.clone(),
                },
                request.delivery_mode,
            );
            next.token_owner = TokenOwner::Moderator;
            self.store
                .reissue_request(&request.token, &next)
                .await
                .map_err(|e| match e {
                    mailcast_store::Error::NotFound(_) => token_did_not_match(),
                    e => e.into(),
                })?;
            self.tell_moderators(&next, origin).await?;
            return Ok(Progress::AwaitingModerator { token: next.token });
        }
        self.take(&request.token).await?;
        self.carry_out(&request, origin).await?;
        Ok(Progress::Done)
    }

    async fn carry_out(&self, request: &PendingRequest, origin: &Origin) -> Result<()> {
        match request.kind {
            RequestKind::Subscription => self.carry_out_subscription(request, origin, None).await,
            RequestKind::Unsubscription => self.carry_out_unsubscription(request, origin).await,
        }
    }

    async fn carry_out_subscription(
        &self,
        request: &PendingRequest,
        origin: &Origin,
        welcome: Option<bool>,
    ) -> Result<()> {
        let list = &request.list;
        if self.store.is_banned(list, &request.email).await? {
            return Err(AdminError::Banned {
                address: request.email.to_string(),
                list: list.clone(),
            });
        }
        let mailbox = Mailbox {
            display_name: request.display_name.clone(),
            address: request.email.clone(),
        };
        let report = self
            .store
            .add_members(
                list,
                MemberRole::Member,
                std::slice::from_ref(&mailbox),
                &mut |_| {},
            )
            .await?;
        if report.added == 0 {
            return Err(AdminError::Conflict(format!(
                "{} is already a member of {list}",
                request.email
            )));
        }
        if request.delivery_mode != DeliveryMode::Regular {
            self.store
                .set_delivery_mode(
                    list,
                    &request.email,
                    MemberRole::Member,
                    request.delivery_mode,
                )
                .await?;
        }
        info!(%list, email = %request.email, "subscribed");
        let list_ctx = self.list_context(list).await?;
        if welcome.unwrap_or(list_ctx.settings().send_welcome_message) {
            self.outbox
                .welcome(
                    &list_ctx,
                    &mailbox,
                    request.delivery_mode != DeliveryMode::Regular,
                    origin.next_id()?,
                )
                .await?;
        }
        if list_ctx.settings().admin_notify_mchanges {
            self.outbox
                .membership_change(
                    &list_ctx,
                    RequestKind::Subscription,
                    &mailbox,
                    origin.next_id()?,
                )
                .await?;
        }
        Ok(())
    }

    async fn carry_out_unsubscription(
        &self,
        request: &PendingRequest,
        origin: &Origin,
    ) -> Result<()> {
        let list = &request.list;
        let list_ctx = self.list_context(list).await?;
        let report = self
            .store
            .remove_members(
                list,
                Some(MemberRole::Member),
                std::slice::from_ref(&request.email),
            )
            .await?;
        if report.removed == 0 {
            return Err(AdminError::Conflict(format!(
                "{} is not a member of {list}",
                request.email
            )));
        }
        info!(%list, email = %request.email, "unsubscribed");
        let mailbox = Mailbox {
            display_name: request.display_name.clone(),
            address: request.email.clone(),
        };
        if list_ctx.settings().send_goodbye_message {
            self.outbox
                .goodbye(&list_ctx, &mailbox, origin.next_id()?)
                .await?;
        }
        if list_ctx.settings().admin_notify_mchanges {
            self.outbox
                .membership_change(
                    &list_ctx,
                    RequestKind::Unsubscription,
                    &mailbox,
                    origin.next_id()?,
                )
                .await?;
        }
        Ok(())
    }

    async fn send_confirmation(&self, request: &PendingRequest, origin: &Origin) -> Result<()> {
        let list_ctx = self.list_context(&request.list).await?;
        self.outbox
            .confirmation(&list_ctx, request, origin.next_id()?)
            .await?;
        Ok(())
    }

    async fn tell_moderators(&self, request: &PendingRequest, origin: &Origin) -> Result<()> {
        let list_ctx = self.list_context(&request.list).await?;
        self.outbox
            .approval_needed(&list_ctx, request, origin.next_id()?)
            .await?;
        info!(list = %request.list, email = %request.email, kind = request.kind.as_str(),
            "request waits for the moderators");
        Ok(())
    }
}

/// Mailman's words for a token that is unknown (never issued, or used already).
fn token_did_not_match() -> AdminError {
    AdminError::NotFound(
        "Confirmation token did not match (it was used already, or never issued)".into(),
    )
}
