//! The REST API's view of the server: [`mailcast_rest::Backend`] over the admin layer.
//!
//! Every operation goes to [`Admin`]; only reads with no rule behind them (a page of members,
//! one member by id) go to the store directly. Admin errors become the REST crate's
//! [`Failure`]s by their kind, with Mailman's texts where a client may match on them
//! ("Member already subscribed", "Membership is banned").

use mailcast_model::{DeliveryMode, DomainName, EmailAddress, ListAddress, Mailbox, MemberRole};
use mailcast_pipeline::intake;
use mailcast_rest::backend::{
    Decision, DigestAction, Failure, ListView, MemberFilter, Outcome, Progress, Queue, Style,
    UserChange, Vouch,
};
use mailcast_spool::{EntryId, Stage, Submission};
use mailcast_store::{
    Address, Domain, HeldRecord, Member, MemberQuery, PendingRequest, Preferences, RequestKind,
    TemplateRecord, TemplateScope, User, UserUpdate,
};
use serde_json::Value;
use uuid::Uuid;

use crate::admin::held::Decision as HeldDecision;
use crate::admin::lists::STYLES;
use crate::admin::subscriptions::{self, RequestDecision};
use crate::admin::templates::Source;
use crate::admin::{Admin, AdminError, ErrorKind, Origin};
use crate::inbound::plan::{self, Plan};

/// What `/system/versions` calls the server.
pub const SERVER_VERSION: &str = concat!(
    "GNU Mailman 3.3.10 compatible (mailcast ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// The queues the API shows, under Mailman's names where it has one.
const QUEUES: &[(&str, Stage)] = &[
    ("archive", Stage::Archive),
    ("bad", Stage::Corrupt),
    ("bounces", Stage::Bounces),
    ("command", Stage::Command),
    ("held", Stage::Held),
    ("in", Stage::Incoming),
    ("out", Stage::Outgoing),
    ("retry", Stage::Deferred),
    ("shunt", Stage::Shunt),
];

/// The admin layer as the REST API's backend.
#[derive(Clone)]
pub struct Api {
    admin: Admin,
}

impl Api {
    /// The backend over `admin`.
    pub fn new(admin: Admin) -> Api {
        Api { admin }
    }

    async fn view(&self, list: mailcast_store::MailingList) -> Outcome<ListView> {
        let member_count = self
            .admin
            .store
            .member_count(&list.address, Some(MemberRole::Member))
            .await
            .map_err(store_failure)?;
        Ok(ListView { list, member_count })
    }

    async fn membership(&self, id: Uuid) -> Outcome<(ListAddress, Member)> {
        self.admin
            .store
            .member_by_id(id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| Failure::NotFound("No such member".into()))
    }
}

fn failure(e: AdminError) -> Failure {
    if let AdminError::Banned { .. } = e {
        return Failure::Invalid("Membership is banned".into());
    }
    match e.kind() {
        ErrorKind::NotFound => Failure::NotFound(e.to_string()),
        ErrorKind::Conflict => Failure::Conflict(e.to_string()),
        ErrorKind::Invalid => Failure::Invalid(e.to_string()),
        ErrorKind::Internal => Failure::Internal(format!("{e:#}")),
    }
}

fn store_failure(e: mailcast_store::Error) -> Failure {
    failure(AdminError::Store(e))
}

fn progress(p: subscriptions::Progress) -> Progress {
    match p {
        subscriptions::Progress::Done => Progress::Done,
        subscriptions::Progress::ConfirmationSent { token } => Progress::AwaitingSubscriber(token),
        subscriptions::Progress::AwaitingModerator { token } => Progress::AwaitingModerator(token),
    }
}

impl mailcast_rest::Backend for Api {
    fn server_version(&self) -> String {
        SERVER_VERSION.into()
    }

    async fn domains(&self) -> Outcome<Vec<Domain>> {
        self.admin.domains().await.map_err(failure)
    }

    async fn domain(&self, mail_host: &DomainName) -> Outcome<Domain> {
        self.admin.domain(mail_host).await.map_err(failure)
    }

    async fn create_domain(
        &self,
        mail_host: &DomainName,
        alias: Option<&DomainName>,
        description: &str,
    ) -> Outcome<Domain> {
        self.admin
            .add_domain(mail_host, alias, description)
            .await
            .map_err(failure)
    }

    async fn remove_domain(&self, mail_host: &DomainName) -> Outcome<()> {
        self.admin
            .remove_domain(mail_host, true)
            .await
            .map(|_| ())
            .map_err(failure)
    }

    async fn update_domain(
        &self,
        mail_host: &DomainName,
        description: Option<&str>,
        alias: Option<Option<&DomainName>>,
    ) -> Outcome<()> {
        self.admin
            .update_domain(mail_host, description, alias)
            .await
            .map_err(|e| match e {
                // The store's own words, without its "invalid:" or "conflict:" prefix.
                AdminError::Store(mailcast_store::Error::Invalid(text)) => Failure::Invalid(text),
                AdminError::Store(mailcast_store::Error::Conflict(text)) => Failure::Invalid(text),
                other => failure(other),
            })
    }

    async fn domain_owners(&self, mail_host: &DomainName) -> Outcome<Vec<User>> {
        self.admin.domain_owners(mail_host).await.map_err(failure)
    }

    async fn add_domain_owner(&self, mail_host: &DomainName, owner: &EmailAddress) -> Outcome<()> {
        self.admin.domain(mail_host).await.map_err(failure)?;
        let user = self.admin.user_for(owner).await.map_err(failure)?;
        self.admin
            .add_domain_owner(mail_host, user.id)
            .await
            .map(|_| ())
            .map_err(failure)
    }

    async fn remove_domain_owners(
        &self,
        mail_host: &DomainName,
        user: Option<Uuid>,
    ) -> Outcome<u64> {
        self.admin
            .remove_domain_owners(mail_host, user)
            .await
            .map_err(failure)
    }

    async fn users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Outcome<(Vec<User>, u64)> {
        self.admin
            .users_page(search, offset, limit)
            .await
            .map_err(failure)
    }

    async fn user(&self, id: Uuid) -> Outcome<Option<User>> {
        self.admin.user(id).await.map_err(failure)
    }

    async fn user_by_email(&self, email: &EmailAddress) -> Outcome<Option<User>> {
        self.admin.user_by_email(email).await.map_err(failure)
    }

    async fn create_user(
        &self,
        email: &EmailAddress,
        display_name: Option<&str>,
        password_hash: Option<&str>,
        is_server_owner: bool,
    ) -> Outcome<User> {
        self.admin
            .create_user(email, display_name, password_hash, is_server_owner)
            .await
            .map_err(failure)
    }

    async fn update_user(&self, id: Uuid, change: &UserChange) -> Outcome<()> {
        let update = UserUpdate {
            display_name: change.display_name.clone(),
            password: change.password.clone(),
            is_server_owner: change.is_server_owner,
        };
        self.admin.update_user(id, &update).await.map_err(failure)
    }

    async fn delete_user(&self, id: Uuid) -> Outcome<()> {
        self.admin.delete_user(id).await.map_err(failure)
    }

    async fn user_addresses(&self, id: Uuid) -> Outcome<Vec<Address>> {
        self.admin.user_addresses(id).await.map_err(failure)
    }

    async fn add_user_address(
        &self,
        id: Uuid,
        email: &EmailAddress,
        display_name: Option<&str>,
    ) -> Outcome<()> {
        self.admin
            .add_user_address(id, email, display_name)
            .await
            .map_err(failure)
    }

    async fn set_preferred_address(&self, id: Uuid, email: Option<&EmailAddress>) -> Outcome<()> {
        self.admin
            .set_preferred_address(id, email)
            .await
            .map_err(failure)
    }

    async fn set_user_preferences(&self, id: Uuid, preferences: &Preferences) -> Outcome<()> {
        self.admin
            .set_user_preferences(id, preferences)
            .await
            .map_err(failure)
    }

    async fn addresses(&self, offset: u64, limit: u64) -> Outcome<(Vec<Address>, u64)> {
        self.admin
            .addresses_page(offset, limit)
            .await
            .map_err(failure)
    }

    async fn address(&self, email: &EmailAddress) -> Outcome<Option<Address>> {
        self.admin.address(email).await.map_err(failure)
    }

    async fn set_address_display_name(
        &self,
        email: &EmailAddress,
        name: Option<&str>,
    ) -> Outcome<()> {
        self.admin
            .set_address_display_name(email, name)
            .await
            .map_err(failure)
    }

    async fn delete_address(&self, email: &EmailAddress) -> Outcome<()> {
        self.admin.delete_address(email).await.map_err(failure)
    }

    async fn set_address_verified(&self, email: &EmailAddress, verified: bool) -> Outcome<()> {
        self.admin
            .set_address_verified(email, verified)
            .await
            .map_err(failure)
    }

    async fn link_address(&self, email: &EmailAddress, user: Uuid) -> Outcome<()> {
        self.admin.link_address(email, user).await.map_err(failure)
    }

    async fn unlink_address(&self, email: &EmailAddress) -> Outcome<()> {
        self.admin.unlink_address(email).await.map_err(failure)
    }

    async fn set_address_preferences(
        &self,
        email: &EmailAddress,
        preferences: &Preferences,
    ) -> Outcome<()> {
        self.admin
            .set_address_preferences(email, preferences)
            .await
            .map_err(failure)
    }

    async fn lists(&self, domain: Option<&DomainName>) -> Outcome<Vec<ListView>> {
        let mut lists = self.admin.lists(domain).await.map_err(failure)?;
        lists.sort_by(|a, b| a.list_id.cmp(&b.list_id));
        let mut views = Vec::with_capacity(lists.len());
        for list in lists {
            views.push(self.view(list).await?);
        }
        Ok(views)
    }

    async fn list(&self, list: &ListAddress) -> Outcome<ListView> {
        let found = self.admin.list(list).await.map_err(failure)?;
        self.view(found).await
    }

    async fn list_by_id(&self, list_id: &str) -> Outcome<ListView> {
        let find = |admin: &Admin| {
            admin
                .directory
                .snapshot()
                .lists()
                .into_iter()
                .find(|l| l.list_id == list_id)
                .map(|l| l.address.clone())
        };
        let address = match find(&self.admin) {
            Some(address) => address,
            None => {
                self.admin
                    .directory
                    .refresh(&self.admin.store)
                    .await
                    .map_err(|e| Failure::Internal(format!("{e:#}")))?;
                find(&self.admin)
                    .ok_or_else(|| Failure::NotFound(format!("no such list: {list_id}")))?
            }
        };
        self.list(&address).await
    }

    fn styles(&self) -> Vec<Style> {
        STYLES
            .iter()
            .map(|s| Style {
                name: s.name.into(),
                description: s.description.into(),
            })
            .collect()
    }

    async fn create_list(&self, list: &ListAddress, style: Option<&str>) -> Outcome<ListView> {
        let created = self
            .admin
            .create_list_in_style(list, style)
            .await
            .map_err(failure)?;
        self.view(created).await
    }

    async fn remove_list(&self, list: &ListAddress) -> Outcome<()> {
        self.admin.remove_list(list).await.map_err(failure)
    }

    async fn set_settings(&self, list: &ListAddress, values: &[(String, Value)]) -> Outcome<()> {
        self.admin
            .set_list_settings_json(list, values)
            .await
            .map_err(failure)
    }

    async fn archivers(&self, list: &ListAddress) -> Outcome<Vec<(String, bool)>> {
        self.admin.list_archivers(list).await.map_err(failure)
    }

    async fn set_archivers(&self, list: &ListAddress, changes: &[(String, bool)]) -> Outcome<()> {
        self.admin
            .set_list_archivers(list, changes)
            .await
            .map_err(failure)
    }

    async fn digest_numbers(&self, list: &ListAddress) -> Outcome<(u64, u64)> {
        let numbers = self
            .admin
            .store
            .digest_numbers(list)
            .await
            .map_err(|e| failure(e.into()))?;
        Ok((numbers.volume, numbers.next_number))
    }

    async fn digest_action(&self, list: &ListAddress, action: DigestAction) -> Outcome<()> {
        let request = crate::digest::manual::Request {
            send: action.send,
            bump: action.bump,
            periodic: action.periodic,
            dry_run: false,
        };
        crate::digest::manual::run(&self.admin, std::slice::from_ref(list), request)
            .await
            .map(|_| ())
            .map_err(failure)
    }

    async fn members(
        &self,
        filter: &MemberFilter,
        offset: u64,
        limit: u64,
    ) -> Outcome<(Vec<(ListAddress, Member)>, u64)> {
        if *filter == MemberFilter::default() {
            // Every membership: the query wants at least one condition, so list by list.
            return all_members(&self.admin, offset, limit).await;
        }
        let query = MemberQuery {
            list: filter.list.clone(),
            subscriber: filter.subscriber.clone(),
            role: filter.role,
        };
        self.admin
            .store
            .find_members(&query, offset, limit)
            .await
            .map_err(store_failure)
    }

    async fn member(&self, id: Uuid) -> Outcome<(ListAddress, Member)> {
        self.membership(id).await
    }

    async fn subscribe(
        &self,
        list: &ListAddress,
        who: &EmailAddress,
        display_name: Option<&str>,
        role: MemberRole,
        mode: DeliveryMode,
        vouch: Vouch,
    ) -> Outcome<Progress> {
        let admin = &self.admin;
        admin.list_info(list).await.map_err(failure)?;
        let existing = admin.store.member(list, who).await.map_err(store_failure)?;
        if existing.iter().any(|m| m.role == role) {
            return Err(Failure::Conflict("Member already subscribed".into()));
        }
        let mailbox = Mailbox {
            display_name: display_name.map(str::to_string),
            address: who.clone(),
        };
        if display_name.is_some() {
            admin
                .store
                .set_address_display_name(who, display_name)
                .await
                .map_err(store_failure)?;
        }
        if role != MemberRole::Member {
            if admin
                .store
                .is_banned(list, who)
                .await
                .map_err(store_failure)?
            {
                return Err(Failure::Invalid("Membership is banned".into()));
            }
            admin
                .import_members(list, role, std::slice::from_ref(&mailbox), &mut |_| {})
                .await
                .map_err(failure)?;
            return Ok(Progress::Done);
        }
        if admin
            .store
            .pending_request_for(list, RequestKind::Subscription, who)
            .await
            .map_err(store_failure)?
            .is_some()
        {
            return Err(Failure::Conflict(
                "Subscription request already pending".into(),
            ));
        }
        let vouch = subscriptions::Vouch {
            pre_verified: vouch.pre_verified,
            pre_confirmed: vouch.pre_confirmed,
            pre_approved: vouch.pre_approved,
            send_welcome_message: vouch.send_welcome_message,
        };
        admin
            .subscribe(list, &mailbox, mode, vouch, &Origin::operator())
            .await
            .map(progress)
            .map_err(failure)
    }

    async fn unsubscribe(
        &self,
        id: Uuid,
        pre_approved: bool,
        pre_confirmed: bool,
    ) -> Outcome<Progress> {
        let (list, member) = self.membership(id).await?;
        if member.role != MemberRole::Member {
            self.admin
                .remove_members(
                    &list,
                    Some(member.role),
                    std::slice::from_ref(&member.address),
                )
                .await
                .map_err(failure)?;
            return Ok(Progress::Done);
        }
        let vouch = subscriptions::Vouch {
            pre_verified: true,
            pre_confirmed,
            pre_approved,
            send_welcome_message: None,
        };
        self.admin
            .unsubscribe(&list, &member.address, vouch, &Origin::operator())
            .await
            .map(progress)
            .map_err(failure)
    }

    async fn set_member(&self, id: Uuid, pairs: &[(String, String)]) -> Outcome<()> {
        let (list, member) = self.membership(id).await?;
        self.admin
            .set_member(&list, &member.address, member.role, pairs)
            .await
            .map(|_| ())
            .map_err(failure)
    }

    async fn held(&self, list: &ListAddress) -> Outcome<Vec<HeldRecord>> {
        self.admin.held(list).await.map_err(failure)
    }

    async fn held_text(&self, record: &HeldRecord) -> Outcome<Option<String>> {
        let Ok(id) = EntryId::parse(&record.message.spool_id) else {
            return Ok(None);
        };
        let read = self
            .admin
            .on_spool(move |spool| match spool.read_entry(Stage::Held, &id) {
                Ok((_, body)) => Ok(Some(body)),
                Err(_) => Ok(None),
            })
            .await
            .map_err(|e| Failure::Internal(format!("{e:#}")))?;
        Ok(read.map(|body| String::from_utf8_lossy(&body).replace("\r\n", "\n")))
    }

    async fn decide_held(
        &self,
        list: &ListAddress,
        request_id: u64,
        decision: Decision,
    ) -> Outcome<()> {
        let decision = match decision {
            Decision::Accept => HeldDecision::Approve,
            Decision::Reject(reason) => HeldDecision::Reject(reason),
            Decision::Discard => HeldDecision::Discard,
            Decision::Defer => HeldDecision::Defer,
        };
        self.admin
            .decide_held(list, request_id, decision)
            .await
            .map(|_| ())
            .map_err(failure)
    }

    async fn requests(&self, list: &ListAddress) -> Outcome<Vec<PendingRequest>> {
        self.admin.requests(list).await.map_err(failure)
    }

    async fn decide_request(
        &self,
        list: &ListAddress,
        token: &str,
        decision: Decision,
    ) -> Outcome<()> {
        let decision = match decision {
            Decision::Accept => RequestDecision::Approve,
            Decision::Reject(reason) => RequestDecision::Reject(reason),
            Decision::Discard => RequestDecision::Discard,
            Decision::Defer => RequestDecision::Defer,
        };
        self.admin
            .decide_request(list, token, decision, &Origin::operator())
            .await
            .map_err(|e| match e {
                AdminError::Conflict(_) => Failure::Conflict("Already subscribed".into()),
                other => failure(other),
            })
    }

    async fn bans(&self, list: Option<&ListAddress>) -> Outcome<Vec<String>> {
        self.admin.bans(list).await.map_err(failure)
    }

    async fn ban(&self, list: Option<&ListAddress>, pattern: &str) -> Outcome<bool> {
        self.admin.ban(list, pattern).await.map_err(failure)
    }

    async fn unban(&self, list: Option<&ListAddress>, pattern: &str) -> Outcome<bool> {
        self.admin.unban(list, pattern).await.map_err(failure)
    }

    fn template_names(&self) -> &'static [&'static str] {
        mailcast_pipeline::templates::NAMES
    }

    async fn templates(&self, scope: &TemplateScope) -> Outcome<Vec<TemplateRecord>> {
        self.admin.templates(Some(scope)).await.map_err(failure)
    }

    async fn set_template(
        &self,
        scope: &TemplateScope,
        name: &str,
        uri: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Outcome<()> {
        let credentials = match (username, password) {
            (Some(user), Some(password)) => Some((user.to_string(), password.to_string())),
            _ => None,
        };
        let source = match Source::from_location(uri.to_string(), credentials) {
            Source::File(_) if username.is_some() && password.is_some() => {
                return Err(Failure::Invalid(format!(
                    "credentials are for http: and https: template URIs, not {uri:?}"
                )));
            }
            Source::File(_) if !(uri.starts_with("file:") || uri.starts_with('/')) => {
                return Err(Failure::Invalid(format!(
                    "mailcast reads template URIs from file:, http: and https: URLs (not {uri:?})"
                )));
            }
            source => source,
        };
        self.admin
            .set_template(scope, name, source)
            .await
            .map_err(failure)
    }

    async fn remove_template(&self, scope: &TemplateScope, name: &str) -> Outcome<bool> {
        self.admin
            .remove_template(scope, name)
            .await
            .map_err(failure)
    }

    async fn queues(&self) -> Outcome<Vec<Queue>> {
        self.admin
            .on_spool(|spool| {
                QUEUES
                    .iter()
                    .map(|(name, stage)| {
                        Ok(Queue {
                            name: name.to_string(),
                            directory: spool.root().join(stage.as_str()).display().to_string(),
                            files: spool
                                .list(*stage)?
                                .into_iter()
                                .map(|id| id.as_str().to_string())
                                .collect(),
                        })
                    })
                    .collect()
            })
            .await
            .map_err(|e| Failure::Internal(format!("{e:#}")))
    }

    async fn inject(&self, queue: &str, list: &ListAddress, text: &str) -> Outcome<String> {
        inject(&self.admin, queue, list, text).await
    }
}

/// A page of every membership of every list, in List-Id order.
async fn all_members(
    admin: &Admin,
    offset: u64,
    limit: u64,
) -> Outcome<(Vec<(ListAddress, Member)>, u64)> {
    let mut lists = admin.lists(None).await.map_err(failure)?;
    lists.sort_by(|a, b| a.list_id.cmp(&b.list_id));
    let (mut skip, mut want, mut total) = (offset, limit, 0u64);
    let mut rows = Vec::new();
    for list in lists {
        let query = MemberQuery {
            list: Some(list.address.clone()),
            subscriber: None,
            role: None,
        };
        let (page, n) = admin
            .store
            .find_members(&query, skip, want)
            .await
            .map_err(store_failure)?;
        total += n;
        skip = skip.saturating_sub(n);
        want -= (page.len() as u64).min(want);
        rows.extend(page);
    }
    Ok((rows, total))
}

/// Injects `text` for `list` into a queue as the MTA would deliver it there: `in` to the
/// posting address, `command` to `-request`, `bounces` to `-bounces`. The message goes
/// through the intake fix-ups and the LMTP-time decisions, and is committed durably.
async fn inject(admin: &Admin, queue: &str, list: &ListAddress, text: &str) -> Outcome<String> {
    let rcpt = match queue {
        "in" => list.posting_address(),
        "command" => list.sub_address("request"),
        "bounces" => list.sub_address("bounces"),
        other => {
            return Err(Failure::Invalid(format!(
                "mailcast injects into the in, command and bounces queues, not {other}"
            )));
        }
    };
    let raw = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fixed = intake::fix_message(
        raw.as_bytes(),
        "",
        &crate::ids::message_id(&admin.settings().hostname),
    )
    .map_err(|e| Failure::Invalid(e.refusal().text))?;
    let snapshot = admin.directory.snapshot();
    // No DMARC lookup here (the caller is not an MTA to refuse to): the incoming runner
    // looks the policy up and a `reject` becomes a rejection notice.
    let planned = plan::plan(
        &snapshot,
        admin.posting(),
        None,
        &rcpt,
        "",
        &fixed,
        raw.len() as u64,
    )
    .await
    .map_err(|e| Failure::Internal(format!("{e:#}")))?;
    let envelope = match planned {
        Plan::Store(envelope) => envelope,
        Plan::Refuse(refusal) => return Err(Failure::Invalid(refusal.text)),
        Plan::Discard(why) => return Err(Failure::Invalid(format!("discarded: {why}"))),
    };
    let ids = admin
        .on_spool(move |spool| spool.commit_direct(Submission::new(fixed, vec![envelope])))
        .await
        .map_err(|e| Failure::Internal(format!("{e:#}")))?;
    ids.first()
        .map(|id| id.as_str().to_string())
        .ok_or_else(|| Failure::Internal("the spool returned no entry id".into()))
}
