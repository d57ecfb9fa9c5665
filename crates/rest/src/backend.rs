//! What the REST API asks of the server: the admin layer's operations, as a trait, so that
//! this crate knows HTTP and JSON and nothing of the runners, the spool or the MTA files.
//! The daemon implements it over its `Admin`.
//!
//! Results use the store's and the model's types; failures are [`Failure`]s, which become
//! 400, 404 and 409 with the text the admin layer wrote.

use std::future::Future;

use mailcast_model::{DeliveryMode, DomainName, EmailAddress, ListAddress, MemberRole};
use mailcast_store::{
    Address, Domain, HeldRecord, MailingList, Member, PendingRequest, Preferences, TemplateRecord,
    TemplateScope, User,
};
use serde_json::Value;

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// What was asked for does not exist (404).
    NotFound(String),
    /// The request is malformed or not allowed (400).
    Invalid(String),
    /// The request conflicts with what exists (409).
    Conflict(String),
    /// The server failed (500; the text is logged, not sent).
    Internal(String),
}

/// A backend result.
pub type Outcome<T> = Result<T, Failure>;

/// What a subscription request vouches for (Mailman's `pre_verified`, `pre_confirmed`,
/// `pre_approved`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vouch {
    /// The address is known to be the subscriber's.
    pub pre_verified: bool,
    /// The subscriber need not confirm.
    pub pre_confirmed: bool,
    /// No moderator need approve.
    pub pre_approved: bool,
    /// Whether to send the welcome message; `None`: as the list says.
    pub send_welcome_message: Option<bool>,
}

/// Where a subscription or unsubscription stands after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Done: the member (for a subscription) exists.
    Done,
    /// Waiting for the subscriber's confirmation: the token.
    AwaitingSubscriber(String),
    /// Waiting for a moderator: the token.
    AwaitingModerator(String),
}

/// A moderator's decision on a held post or a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accept (post) or approve (request).
    Accept,
    /// Refuse and tell the sender, with a reason.
    Reject(Option<String>),
    /// Drop silently.
    Discard,
    /// Decide later.
    Defer,
}

/// A list with what its resource shows beside the settings.
#[derive(Debug, Clone)]
pub struct ListView {
    /// The list.
    pub list: MailingList,
    /// How many regular and digest members it has.
    pub member_count: u64,
}

/// A list style: a named set of settings for a new list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// The name (`legacy-default`, ...).
    pub name: String,
    /// What it is for.
    pub description: String,
}

/// One queue (a spool stage under Mailman's queue name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Mailman's name (`in`, `out`, `bounces`, ...).
    pub name: String,
    /// Where its files are, for an operator.
    pub directory: String,
    /// The entries in it (ids), oldest first.
    pub files: Vec<String>,
}

/// One filter of a roster or of `members/find`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// One list, or all.
    pub list: Option<ListAddress>,
    /// An address (or part of one), or all.
    pub subscriber: Option<String>,
    /// One role, or all.
    pub role: Option<MemberRole>,
}

/// A change to a user (`PATCH`, `PUT /users/<id>`); `None` fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// The new name (`Some(None)` clears it).
    pub display_name: Option<Option<String>>,
    /// The new password hash (see [`crate::password`]); never a password in clear.
    pub password: Option<String>,
    /// The new server-owner flag.
    pub is_server_owner: Option<bool>,
}

/// The server, as the REST API sees it.
/// What `POST /lists/<list>/digest` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestAction {
    /// Send the waiting posts now.
    pub send: bool,
    /// Bump the numbers first.
    pub bump: bool,
    /// Send the waiting posts if the list has `digest_send_periodic`.
    pub periodic: bool,
}

pub trait Backend: Clone + Send + Sync + 'static {
    /// `mailman_version` of `/system/versions`.
    fn server_version(&self) -> String;

    /// The domains.
    fn domains(&self) -> impl Future<Output = Outcome<Vec<Domain>>> + Send;
    /// One domain.
    fn domain(&self, mail_host: &DomainName) -> impl Future<Output = Outcome<Domain>> + Send;
    /// Adds a domain.
    fn create_domain(
        &self,
        mail_host: &DomainName,
        alias: Option<&DomainName>,
        description: &str,
    ) -> impl Future<Output = Outcome<Domain>> + Send;
    /// Removes a domain with its lists.
    fn remove_domain(&self, mail_host: &DomainName) -> impl Future<Output = Outcome<()>> + Send;
    /// Changes a domain's description or alias domain (`Some(None)` removes the alias).
    fn update_domain(
        &self,
        mail_host: &DomainName,
        description: Option<&str>,
        alias: Option<Option<&DomainName>>,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// A domain's owners.
    fn domain_owners(
        &self,
        mail_host: &DomainName,
    ) -> impl Future<Output = Outcome<Vec<User>>> + Send;
    /// Makes the user of `owner` an owner of the domain; a user (without a password) is
    /// created for the address if it has none, as Mailman does.
    fn add_domain_owner(
        &self,
        mail_host: &DomainName,
        owner: &EmailAddress,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Removes one owner (`Some`) or every owner (`None`) of a domain; how many went.
    fn remove_domain_owners(
        &self,
        mail_host: &DomainName,
        user: Option<uuid::Uuid>,
    ) -> impl Future<Output = Outcome<u64>> + Send;

    /// A page of the users (by creation time), with the total; with `search`, only those whose
    /// display name or one of whose addresses (email or name) contains it, case-insensitive.
    fn users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> impl Future<Output = Outcome<(Vec<User>, u64)>> + Send;
    /// One user by id.
    fn user(&self, id: uuid::Uuid) -> impl Future<Output = Outcome<Option<User>>> + Send;
    /// The user an address belongs to.
    fn user_by_email(
        &self,
        email: &EmailAddress,
    ) -> impl Future<Output = Outcome<Option<User>>> + Send;
    /// Creates a user linked to `email` (the address is created if new), with a password
    /// hash (see [`crate::password`]) or none. Invalid ("User already exists: ...") if the
    /// address already has a user.
    fn create_user(
        &self,
        email: &EmailAddress,
        display_name: Option<&str>,
        password_hash: Option<&str>,
        is_server_owner: bool,
    ) -> impl Future<Output = Outcome<User>> + Send;
    /// Changes a user.
    fn update_user(
        &self,
        id: uuid::Uuid,
        change: &UserChange,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Deletes a user with its addresses and their memberships.
    fn delete_user(&self, id: uuid::Uuid) -> impl Future<Output = Outcome<()>> + Send;
    /// The addresses of a user.
    fn user_addresses(&self, id: uuid::Uuid) -> impl Future<Output = Outcome<Vec<Address>>> + Send;
    /// Links an address to a user, creating it (with `display_name`) if it is new. Invalid
    /// ("Address belongs to other user") if it is linked already.
    fn add_user_address(
        &self,
        id: uuid::Uuid,
        email: &EmailAddress,
        display_name: Option<&str>,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Sets (linking it if it belongs to nobody) or, with `None`, clears the user's preferred
    /// address.
    fn set_preferred_address(
        &self,
        id: uuid::Uuid,
        email: Option<&EmailAddress>,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Replaces a user's preferences.
    fn set_user_preferences(
        &self,
        id: uuid::Uuid,
        preferences: &Preferences,
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// A page of the addresses (by registration time), with the total.
    fn addresses(
        &self,
        offset: u64,
        limit: u64,
    ) -> impl Future<Output = Outcome<(Vec<Address>, u64)>> + Send;
    /// One address.
    fn address(
        &self,
        email: &EmailAddress,
    ) -> impl Future<Output = Outcome<Option<Address>>> + Send;
    /// Sets or clears an address's display name.
    fn set_address_display_name(
        &self,
        email: &EmailAddress,
        name: Option<&str>,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Deletes an address with its memberships.
    fn delete_address(&self, email: &EmailAddress) -> impl Future<Output = Outcome<()>> + Send;
    /// Verifies an address (keeping an earlier verification) or makes it unverified.
    fn set_address_verified(
        &self,
        email: &EmailAddress,
        verified: bool,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Links an address to an existing user. Invalid ("No user with ID ...") if there is none.
    fn link_address(
        &self,
        email: &EmailAddress,
        user: uuid::Uuid,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Unlinks an address from its user.
    fn unlink_address(&self, email: &EmailAddress) -> impl Future<Output = Outcome<()>> + Send;
    /// Replaces an address's preferences.
    fn set_address_preferences(
        &self,
        email: &EmailAddress,
        preferences: &Preferences,
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// The lists, of one domain or all, sorted by list id.
    fn lists(
        &self,
        domain: Option<&DomainName>,
    ) -> impl Future<Output = Outcome<Vec<ListView>>> + Send;
    /// One list.
    fn list(&self, list: &ListAddress) -> impl Future<Output = Outcome<ListView>> + Send;
    /// One list by its List-Id (`name.domain`).
    fn list_by_id(&self, list_id: &str) -> impl Future<Output = Outcome<ListView>> + Send;
    /// The styles a list can be created with; the first is the default.
    fn styles(&self) -> Vec<Style>;
    /// Creates a list in a style (the default if `None`).
    fn create_list(
        &self,
        list: &ListAddress,
        style: Option<&str>,
    ) -> impl Future<Output = Outcome<ListView>> + Send;
    /// Removes a list.
    fn remove_list(&self, list: &ListAddress) -> impl Future<Output = Outcome<()>> + Send;
    /// Changes settings from JSON values under Mailman's names; all or nothing.
    fn set_settings(
        &self,
        list: &ListAddress,
        values: &[(String, Value)],
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Every archiver the site has, by name, and whether it is enabled for the list.
    fn archivers(
        &self,
        list: &ListAddress,
    ) -> impl Future<Output = Outcome<Vec<(String, bool)>>> + Send;
    /// Switches some of the list's archivers on or off.
    fn set_archivers(
        &self,
        list: &ListAddress,
        changes: &[(String, bool)],
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// The list's digest volume and next issue number.
    fn digest_numbers(
        &self,
        list: &ListAddress,
    ) -> impl Future<Output = Outcome<(u64, u64)>> + Send;
    /// Bumps and/or sends the list's digest now (`POST …/digest`).
    fn digest_action(
        &self,
        list: &ListAddress,
        action: DigestAction,
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// A page of the memberships matching `filter`, with the total.
    fn members(
        &self,
        filter: &MemberFilter,
        offset: u64,
        limit: u64,
    ) -> impl Future<Output = Outcome<(Vec<(ListAddress, Member)>, u64)>> + Send;
    /// One membership by its id.
    fn member(&self, id: uuid::Uuid)
    -> impl Future<Output = Outcome<(ListAddress, Member)>> + Send;
    /// Subscribes (or starts subscribing) an address in a role.
    fn subscribe(
        &self,
        list: &ListAddress,
        who: &EmailAddress,
        display_name: Option<&str>,
        role: MemberRole,
        mode: DeliveryMode,
        vouch: Vouch,
    ) -> impl Future<Output = Outcome<Progress>> + Send;
    /// Ends a membership; `pre_approved` and `pre_confirmed` skip the list's policy.
    fn unsubscribe(
        &self,
        id: uuid::Uuid,
        pre_approved: bool,
        pre_confirmed: bool,
    ) -> impl Future<Output = Outcome<Progress>> + Send;
    /// Changes member settings (`delivery_mode`, `moderation_action`, preferences ...) from
    /// `(name, text)` pairs.
    fn set_member(
        &self,
        id: uuid::Uuid,
        pairs: &[(String, String)],
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// The held posts of a list, oldest first.
    fn held(&self, list: &ListAddress) -> impl Future<Output = Outcome<Vec<HeldRecord>>> + Send;
    /// The held post's message text, if this node can read it.
    fn held_text(
        &self,
        record: &HeldRecord,
    ) -> impl Future<Output = Outcome<Option<String>>> + Send;
    /// Decides on a held post.
    fn decide_held(
        &self,
        list: &ListAddress,
        request_id: u64,
        decision: Decision,
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// The pending requests of a list.
    fn requests(
        &self,
        list: &ListAddress,
    ) -> impl Future<Output = Outcome<Vec<PendingRequest>>> + Send;
    /// Decides on a pending request.
    fn decide_request(
        &self,
        list: &ListAddress,
        token: &str,
        decision: Decision,
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// The ban patterns of a list, or the site's.
    fn bans(&self, list: Option<&ListAddress>)
    -> impl Future<Output = Outcome<Vec<String>>> + Send;
    /// Adds a ban; false if it was there.
    fn ban(
        &self,
        list: Option<&ListAddress>,
        pattern: &str,
    ) -> impl Future<Output = Outcome<bool>> + Send;
    /// Removes a ban; false if it was not there.
    fn unban(
        &self,
        list: Option<&ListAddress>,
        pattern: &str,
    ) -> impl Future<Output = Outcome<bool>> + Send;

    /// Every template name, sorted.
    fn template_names(&self) -> &'static [&'static str];
    /// The template overrides of a scope.
    fn templates(
        &self,
        scope: &TemplateScope,
    ) -> impl Future<Output = Outcome<Vec<TemplateRecord>>> + Send;
    /// Sets a template override from a URI.
    fn set_template(
        &self,
        scope: &TemplateScope,
        name: &str,
        uri: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> impl Future<Output = Outcome<()>> + Send;
    /// Removes a template override; false if none.
    fn remove_template(
        &self,
        scope: &TemplateScope,
        name: &str,
    ) -> impl Future<Output = Outcome<bool>> + Send;

    /// The queues.
    fn queues(&self) -> impl Future<Output = Outcome<Vec<Queue>>> + Send;
    /// Injects a message for a list into a queue; returns the entry's id.
    fn inject(
        &self,
        queue: &str,
        list: &ListAddress,
        text: &str,
    ) -> impl Future<Output = Outcome<String>> + Send;
}
