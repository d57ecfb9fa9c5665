//! The admin layer: every operation an owner, a moderator or a member can ask for, in one
//! place, whoever asks (the CLI, the email commands, and the REST API).
//!
//! An [`Admin`] holds what the operations touch and nothing else: the store, the spool, the
//! directory snapshot, the pipeline inputs (for the notices' list context) and the
//! [`Outbox`] through which every mail an operation causes is created. It never sees the
//! runners or the relay. Operations return typed results and [`AdminError`], which the CLI
//! prints as one line and the REST API maps to a status code ([`AdminError::kind`]).
//!
//! Rooms, one per resource: [`domains`] (mail hosts and their owners), [`lists`] (create in a
//! style, remove, settings, including the MTA files), [`archivers`] (a list's archivers),
//! [`members`] (member settings), [`subscriptions`] (Mailman's subscription and
//! unsubscription workflows, pending requests and their tokens), [`bans`], [`bounces`]
//! (members' bounce records, re-enabling delivery), [`held`]
//! (moderators' decisions on held posts, also across nodes), [`templates`] and [`users`]
//! (users and addresses: linking, the preferred address, verification, preferences).
//!
//! Mail an operation causes gets a job id from its [`Origin`]: derived from the spool entry
//! that asked (an email command), so that a re-run after a crash creates it once, or fresh
//! for an operator's request.

pub mod archivers;
pub mod bans;
pub mod bounces;
pub mod domains;
pub mod held;
pub mod lists;
pub mod members;
pub mod subscriptions;
pub mod templates;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mailcast_model::ListAddress;
use mailcast_pipeline::ListContext;
use mailcast_spool::{EntryId, Spool};
use mailcast_store::Store;

use crate::config::Settings;
use crate::directory::{Directory, ListInfo};
use crate::outbox::Outbox;
use crate::posting::Posting;

/// What the admin operations work on. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    /// The database.
    pub store: Store,
    /// The local spool (held posts, approved posts, generated mail).
    pub spool: Spool,
    /// The daemon's (or this command's) view of domains and lists.
    pub directory: Directory,
    /// Where generated mail goes.
    pub outbox: Outbox,
    posting: Arc<Posting>,
    settings: Arc<Settings>,
}

/// Why an admin operation was refused. Each variant is one line for a person and one HTTP
/// status for the REST API.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The list does not exist.
    #[error("no such list: {0}")]
    NoSuchList(ListAddress),
    /// The address is not what the operation needs (not a member, already a member, ...).
    #[error("{0}")]
    Conflict(String),
    /// Something asked for does not exist (a request, a held post, a template, a member).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (a bad value, a bad address, a token for another action).
    #[error("{0}")]
    Invalid(String),
    /// The address is banned from the list.
    #[error("{address} is banned from {list}")]
    Banned {
        /// The address.
        address: String,
        /// The list.
        list: ListAddress,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] mailcast_store::Error),
    /// Anything else (spool, I/O): an internal failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The class of an [`AdminError`], for callers that map errors to codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 400.
    Invalid,
    /// 500.
    Internal,
}

impl AdminError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AdminError::NoSuchList(_) | AdminError::NotFound(_) => ErrorKind::NotFound,
            AdminError::Conflict(_) | AdminError::Banned { .. } => ErrorKind::Conflict,
            AdminError::Invalid(_) => ErrorKind::Invalid,
            AdminError::Store(mailcast_store::Error::NotFound(_))
            | AdminError::Store(mailcast_store::Error::DomainNotFound(_)) => ErrorKind::NotFound,
            AdminError::Store(mailcast_store::Error::Conflict(_)) => ErrorKind::Conflict,
            AdminError::Store(mailcast_store::Error::Invalid(_)) => ErrorKind::Invalid,
            AdminError::Store(_) | AdminError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// The result type of admin operations.
pub type Result<T, E = AdminError> = std::result::Result<T, E>;

/// Who or what caused an operation, for the ids of the mail it creates.
#[derive(Debug)]
pub struct Origin {
    entry: Option<EntryId>,
    step: u32,
    next: AtomicU32,
}

impl Origin {
    /// An operator's request (CLI, REST): every mail gets a fresh id.
    pub fn operator() -> Origin {
        Origin {
            entry: None,
            step: 0,
            next: AtomicU32::new(0),
        }
    }

    /// Step `step` (the command's line number) of processing spool entry `entry`: mail ids
    /// derive from it, so the same step of a re-run finds the same ids.
    pub fn entry(entry: &EntryId, step: u32) -> Origin {
        Origin {
            entry: Some(entry.clone()),
            step,
            next: AtomicU32::new(0),
        }
    }

    /// The id of the next mail this origin causes.
    pub fn next_id(&self) -> anyhow::Result<EntryId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        match &self.entry {
            Some(entry) => Ok(entry.derive(&format!("s{}m{n}", self.step))?),
            None => Ok(EntryId::generate()),
        }
    }
}

impl Admin {
    /// An admin layer over these parts; `posting` is the caller's cache of list contexts
    /// (the daemon's, so that the runners and the admin layer compile each list once).
    pub fn new(
        settings: Arc<Settings>,
        store: Store,
        spool: Spool,
        directory: Directory,
        posting: Arc<Posting>,
    ) -> Admin {
        let outbox = Outbox::new(spool.clone(), store.clone(), directory.clone(), &settings);
        Admin {
            store,
            spool,
            directory,
            outbox,
            posting,
            settings,
        }
    }

    /// Opens the store, the spool and the directory for a process without a daemon (the CLI).
    pub async fn open(settings: Arc<Settings>) -> anyhow::Result<Admin> {
        let store = mailcast_store::Store::open_for_command(&settings.database_url).await?;
        let spool = settings.open_spool()?;
        let directory = Directory::load(&store).await?;
        let posting = Arc::new(Posting::for_settings(store.clone(), &settings));
        Ok(Admin::new(settings, store, spool, directory, posting))
    }

    /// The pipeline inputs (list contexts, site facts) the intake decisions use.
    pub fn posting(&self) -> &Arc<Posting> {
        &self.posting
    }

    /// The configuration.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The list's directory entry, reloading the directory once when it is not there (another
    /// process may have created the list a moment ago).
    pub async fn list_info(&self, list: &ListAddress) -> Result<Arc<ListInfo>> {
        if let Some(info) = self.directory.snapshot().list(list) {
            return Ok(info);
        }
        self.directory.refresh(&self.store).await?;
        self.directory
            .snapshot()
            .list(list)
            .ok_or_else(|| AdminError::NoSuchList(list.clone()))
    }

    /// The list as the pipeline sees it (settings snapshot and compiled templates).
    pub async fn list_context(&self, list: &ListAddress) -> Result<Arc<ListContext>> {
        let info = self.list_info(list).await?;
        let counter = self.directory.snapshot().change_counter;
        Ok(self.posting.context(&info, counter).await?)
    }

    /// Runs a spool operation on the blocking pool (the spool does synchronous file I/O).
    pub async fn on_spool<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Spool) -> mailcast_spool::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let spool = self.spool.clone();
        Ok(tokio::task::spawn_blocking(move || op(&spool)).await??)
    }
}
