//! mailcast's database: domains, lists and their settings, the people model (addresses,
//! members, users), bans, held posts, pending requests, template overrides and bounce and
//! autoresponse bookkeeping, on SQLite or PostgreSQL.
//!
//! One [`Store`] type and one code path serve both back ends (sqlx's `Any` driver with SQL
//! written in the subset both understand, checked at run time); the database URL chooses:
//! `sqlite:var/mailcast.db` (default; created on first use) or `postgres://...`. Migrations
//! for both dialects are embedded and applied by [`Store::open`].
//!
//! Map of the crate, by responsibility:
//! - `store`: opening, pools, transactions; `migrate`, `schema`: the schema and its checks;
//! - `domains`, `lists`: identity and settings (and domain owners); `archivers`: the lists'
//!   own archiver switches; `members`, `import`: rosters and bulk import; `member_search`:
//!   memberships by id and across lists;
//! - `users`, `addresses`, `preferences`: users, their addresses (verification, display
//!   names, linking, preferred address) and the preferences of both;
//! - `posting`: the per-post queries (sender facts, recipients, owners and moderators);
//! - `bans`, `held`: moderation (with moderators' decisions);
//! - `bounces`, `bounce_work`: bounce events and scores under a row lock, claims of the
//!   scheduled bounce work, probes;
//! - `requests`: subscription and unsubscription requests awaiting confirmation or approval;
//! - `autoresponses`: which automatic responses went to whom, per day;
//! - `templates`: per-site, per-domain and per-list template overrides;
//! - `changes`, `directory`: how the daemon notices changes made by other processes;
//! - `testing` (feature): fresh databases for tests on both back ends.
//!
//! This crate is the only one that contains SQL. It does not decide policy (moderation,
//! bounce actions): it stores and reports facts, and callers decide.
#![warn(missing_docs)]

mod addresses;
mod archivers;
mod autoresponses;
mod bans;
mod bounce_work;
mod bounces;
mod changes;
mod column;
mod digests;
mod directory;
mod domains;
mod error;
mod held;
mod import;
mod lists;
mod member_search;
mod members;
mod migrate;
mod posting;
mod preferences;
mod requests;
mod schema;
mod sql;
mod store;
mod templates;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use addresses::Address;
pub use archivers::ArchiverSwitches;
pub use autoresponses::ResponseKind;
pub use bounce_work::{BounceSummary, DisabledClaim, DisabledMember, Probe};
pub use bounces::{
    BounceContext, BounceEvent, BounceLock, BounceState, BounceUpdate, NewBounceEvent,
};
pub use digests::{DigestBacklog, DigestIssue, DigestNumbers, DigestRecipient, DigestTrigger};
pub use directory::{Directory, DirectoryDomain, DirectoryList};
pub use domains::Domain;
pub use error::{Error, Result};
pub use held::{HeldDecision, HeldMessage, HeldRecord};
pub use import::ImportReport;
pub use lists::{ListState, MailingList};
pub use member_search::MemberQuery;
pub use members::{BounceInfo, Member, MemberPreferences, RemoveReport};
pub use migrate::SCHEMA_VERSION;
pub use posting::{Recipient, RoleFacts, SenderFacts};
pub use preferences::Preferences;
pub use requests::{PendingRequest, RequestKind, TokenOwner};
pub use schema::{ColumnKind, ColumnSchema, LogicalSchema};
pub use store::{Backend, Footprint, Store, redact_url};
pub use templates::{TemplateRecord, TemplateScope};
pub use users::{NewUser, User, UserUpdate};
