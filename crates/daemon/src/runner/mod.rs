//! The runners: what happens to an entry after the spool committed it.
//!
//! Stages consumed here, and by whom:
//! - `incoming` ([`incoming`]): posts and `-owner` mail; Mailman's `in` and `pipeline` runners
//!   (posting chain, then handlers, then a delivery job; or hold, reject, discard);
//! - `command` ([`command`]): mail to `-request`, `-join`, `-leave` and `-confirm`; Mailman's
//!   `command` runner (email commands, subscription workflows, moderation by reply);
//! - `outgoing` ([`outgoing`]): delivery jobs, sent to the relay;
//! - `deferred`: delivery jobs waiting for their `not_before`; when due they are moved to
//!   `outgoing` and sent;
//! - `archive` ([`archive`]): accepted posts for the list's archivers; Mailman's
//!   `archive` runner. Delivery never waits for it.
//!
//! `bounces` entries wait for their own runner (a later issue) and are not touched; `held`
//! entries wait for a moderator ([`crate::admin::held`]); `shunt` and `corrupt` for an
//! operator. Periodic work (expiring confirmation tokens and held posts, carrying out
//! decisions other nodes recorded) runs every `[site] maintenance_interval` ([`maintenance`]).
//!
//! # Scheduling strategies (`schedule` runs them, `board` keeps the books)
//! - **Triggers**, all in [`Wakeup`]: an entry was committed (the spool committer reports
//!   every LMTP-committed entry right after its commit, while it is still only in the spool's
//!   write-ahead log and memory; processing it then never writes its files), an explicit
//!   scan request, and a periodic rescan every
//!   [`SCAN_INTERVAL`] that finds what other processes added (`mailcast inject`, `mailcast held
//!   approve`, `mailcast queue retry`). Work an entry creates (the delivery job of a post, its
//!   notices) is queued as soon as the entry is done, without waiting for a scan.
//! - **At most once at a time**: an entry is in flight, queued or waiting for a timer, never
//!   two of these, so it is never processed twice concurrently.
//! - **Bounded concurrency**: at most `[runner] concurrency` entries are processed at once.
//!   Each stage is FIFO (ids sort by creation time); the stages take turns, so a large
//!   delivery backlog does not starve new posts or the other way round.
//! - **Children wait for their parent**: an entry whose id derives from an entry that is
//!   still in `incoming` or `held` (`a.out` from `a`, `a.held.nreject` from `a.held`) is not
//!   processed until that entry is gone. After a crash between creating a job and removing
//!   its parent, the parent's re-run then finds the job still there (and does not create it
//!   again) instead of re-creating a job that was already delivered.
//! - **Deferred jobs** sit on a timer until their `not_before`.
//! - **Failures**: an error increments the entry's `attempts`, records `last_error` and
//!   retries it after an exponential backoff ([`failure`]); after `[runner] max_attempts`, or at
//!   once for an entry that can never be processed (its list is gone, it cannot be parsed), it
//!   moves to `shunt` with `attrs.whichq` naming the stage it came from. Unreadable entries are
//!   moved to `corrupt` by the spool itself. Nothing acknowledged is dropped silently.
//! - **Shutdown**: stop taking work, let the entries in flight finish (delivery stops between
//!   batches when [`RunnerContext::shutdown`] is cancelled), then return from
//!   [`Runners::wait`].
//!
//! This module does not decide what happens to a post (the pipeline does) nor how mail is
//! sent (the outbound crate does).

pub mod archive;
mod board;
pub(crate) mod bounce;
pub mod command;
pub mod failure;
mod hold;
pub mod incoming;
mod list_entry;
mod maintenance;
pub mod outgoing;
mod schedule;

pub use schedule::STAGES as CONSUMED_STAGES;

use std::sync::Arc;
use std::time::Duration;

use mailcast_outbound::{Relay, RelayConfig, Timeouts};
use mailcast_spool::{EntryId, Spool, Stage};
use mailcast_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::Admin;
use crate::config::{Settings, SmtpSettings};
use crate::directory::Directory;
use crate::outbox::Outbox;
use crate::posting::Posting;

/// How often the runners rescan their stages for entries other processes added.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(2);

/// Everything the runners use. Cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct RunnerContext {
    /// The validated configuration.
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Store,
    /// The spool (runners write with the spool's direct durable calls, never the committer).
    pub spool: Spool,
    /// The daemon's view of domains and lists.
    pub directory: Directory,
    /// Pipeline inputs (list contexts, sender facts), cached.
    pub posting: Arc<Posting>,
    /// Pooled connections to the `[smtp]` relay.
    pub relay: Relay,
    /// Where generated mail is created.
    pub outbox: Outbox,
    /// Cancelled when the daemon shuts down: long work (a large delivery) stops between
    /// batches, leaving the rest for the next start.
    pub shutdown: CancellationToken,
    /// Each member's one-click unsubscribe URL for personalized copies, when `[web]` is set.
    pub one_click: Option<crate::oneclick::OneClickLinks>,
    /// The DKIM signers of the list domains with a key (`[dkim."<domain>"]`).
    pub dkim: crate::dkim::Signers,
    /// The resolver (DMARC policies, DKIM/ARC keys); `None` in a process started without one.
    pub dns: Option<crate::dns::Dns>,
    /// `[arc]`: validation of incoming messages and the seal of outgoing copies, when on.
    pub arc: Option<crate::arc::ArcSite>,
}

impl RunnerContext {
    /// A context for a process without runners (the CLI): opens the store, the spool and the
    /// directory itself. Work it queues is picked up by a running daemon's next scan.
    pub async fn open(settings: Arc<Settings>) -> anyhow::Result<RunnerContext> {
        let store = Store::open(&settings.database_url).await?;
        let spool = settings.open_spool()?;
        let directory = Directory::load(&store).await?;
        let posting = Arc::new(Posting::for_settings(store.clone(), &settings));
        let relay = Relay::new(relay_config(&settings.smtp));
        Ok(RunnerContext::new(
            settings,
            store,
            spool,
            directory,
            posting,
            relay,
            CancellationToken::new(),
        ))
    }

    /// A context over these parts (the outbox is made from them).
    pub fn new(
        settings: Arc<Settings>,
        store: Store,
        spool: Spool,
        directory: Directory,
        posting: Arc<Posting>,
        relay: Relay,
        shutdown: CancellationToken,
    ) -> RunnerContext {
        let outbox = Outbox::new(spool.clone(), store.clone(), directory.clone(), &settings);
        RunnerContext {
            settings,
            store,
            spool,
            directory,
            posting,
            relay,
            outbox,
            shutdown,
            one_click: None,
            dkim: crate::dkim::Signers::default(),
            dns: None,
            arc: None,
        }
    }

    /// The context with the daemon's resolver.
    pub fn with_dns(mut self, dns: crate::dns::Dns) -> RunnerContext {
        self.dns = Some(dns);
        self
    }

    /// The context with ARC validation and sealing (`[arc]`).
    pub fn with_arc(mut self, arc: Option<crate::arc::ArcSite>) -> RunnerContext {
        self.arc = arc;
        self
    }

    /// The context with one-click unsubscribe URLs in personalized copies.
    pub fn with_one_click(
        mut self,
        links: Option<crate::oneclick::OneClickLinks>,
    ) -> RunnerContext {
        self.one_click = links;
        self
    }

    /// The context with DKIM signing of outgoing mail.
    pub fn with_dkim(mut self, signers: crate::dkim::Signers) -> RunnerContext {
        self.dkim = signers;
        self
    }

    /// The admin layer over this context's store, spool and directory.
    pub fn admin(&self) -> Admin {
        Admin::new(
            self.settings.clone(),
            self.store.clone(),
            self.spool.clone(),
            self.directory.clone(),
            self.posting.clone(),
        )
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

/// The relay settings from `[smtp]`.
pub fn relay_config(smtp: &SmtpSettings) -> RelayConfig {
    RelayConfig {
        host: smtp.host.clone(),
        port: smtp.port,
        unix_socket: None,
        helo_name: smtp.helo_name.clone(),
        lmtp: false,
        max_connections: smtp.max_connections,
        max_recipients: smtp.max_recipients,
        max_transactions_per_connection: smtp.max_sessions_per_connection,
        timeouts: Timeouts {
            connect: smtp.connect_timeout,
            command: smtp.command_timeout,
            data: smtp.data_timeout,
        },
        use_chunking: smtp.use_chunking,
        tls: smtp.tls.clone(),
        auth: smtp.auth.clone(),
        ..RelayConfig::default()
    }
}

/// Why the runners should look at the spool now.
#[derive(Debug, Clone)]
pub enum Wakeup {
    /// An entry was committed to a stage (from the spool's committer, right after the
    /// write-ahead log's fsync; the entry is readable through the spool at once).
    Committed(Stage, EntryId),
    /// The directory snapshot changed.
    DirectoryChanged,
    /// Something else (Maildir reader, periodic scan) added entries.
    Scan,
}

/// The running runners.
pub struct Runners {
    tasks: TaskTracker,
}

impl Runners {
    /// Waits until every runner task has stopped (after the shutdown token was cancelled).
    pub async fn wait(self) {
        self.tasks.wait().await;
    }
}

/// Starts the runners: one scheduler task that processes entries until `shutdown`.
pub fn start(
    ctx: RunnerContext,
    wake_tx: mpsc::UnboundedSender<Wakeup>,
    wake_rx: mpsc::UnboundedReceiver<Wakeup>,
    shutdown: CancellationToken,
) -> Runners {
    let tasks = TaskTracker::new();
    tasks.spawn(maintenance::run(ctx.clone(), shutdown.clone()));
    let scheduler = schedule::Scheduler::new(ctx, wake_tx);
    tasks.spawn(scheduler.run(wake_rx, shutdown));
    tasks.close();
    Runners { tasks }
}
