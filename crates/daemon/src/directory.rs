//! The daemon's in-memory view of domains and lists, kept current without a restart.
//!
//! RCPT checks and the pipeline read a [`Snapshot`] (no query per recipient). A watcher polls
//! the store's change counter every 250 ms and reloads the snapshot when it moved, so a change
//! made with the CLI (another process) is visible within a second (DESIGN.md §6). Readers take
//! an `Arc<Snapshot>`; a reload swaps the pointer and never blocks them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mailcast_model::recipient::ListDirectory;
use mailcast_model::{DomainName, ListAddress, ListSettings};
use mailcast_store::{ArchiverSwitches, Directory as StoreDirectory, Store};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often the watcher polls the change counter.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// One list as the daemon sees it.
#[derive(Debug, Clone)]
pub struct ListInfo {
    /// The posting address.
    pub address: ListAddress,
    /// The List-Id label.
    pub list_id: String,
    /// Every setting.
    pub settings: ListSettings,
    /// The list's own archiver switches (the site's switches are in the configuration).
    pub archivers: ArchiverSwitches,
}

/// Domains and lists at one change-counter value.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The store's change counter this snapshot was read at.
    pub change_counter: i64,
    lists: HashMap<ListAddress, Arc<ListInfo>>,
    /// alias domain → mail host.
    aliases: HashMap<String, DomainName>,
    /// mail host → alias domain.
    domains: HashMap<DomainName, Option<DomainName>>,
}

impl Snapshot {
    /// Builds the lookups from a store directory.
    pub fn from_store(dir: StoreDirectory) -> Snapshot {
        let mut snap = Snapshot {
            change_counter: dir.change_counter,
            ..Snapshot::default()
        };
        for d in dir.domains {
            if let Some(alias) = &d.alias_domain {
                snap.aliases
                    .insert(alias.as_str().to_string(), d.mail_host.clone());
            }
            snap.domains.insert(d.mail_host, d.alias_domain);
        }
        for l in dir.lists {
            let info = ListInfo {
                address: l.address.clone(),
                list_id: l.list_id,
                settings: l.settings,
                archivers: l.archivers,
            };
            snap.lists.insert(l.address, Arc::new(info));
        }
        snap
    }

    /// The list with this posting address.
    pub fn list(&self, address: &ListAddress) -> Option<Arc<ListInfo>> {
        self.lists.get(address).cloned()
    }

    /// Every list, sorted by domain then name.
    pub fn lists(&self) -> Vec<Arc<ListInfo>> {
        let mut v: Vec<_> = self.lists.values().cloned().collect();
        v.sort_by(|a, b| {
            (a.address.domain(), a.address.name()).cmp(&(b.address.domain(), b.address.name()))
        });
        v
    }

    /// The alias domain of a mail host, if it has one.
    pub fn alias_domain(&self, mail_host: &DomainName) -> Option<&DomainName> {
        self.domains.get(mail_host).and_then(Option::as_ref)
    }
}

impl ListDirectory for Snapshot {
    fn mail_host_for_alias(&self, domain: &str) -> Option<DomainName> {
        self.aliases.get(domain).cloned()
    }

    fn has_list(&self, list: &ListAddress) -> bool {
        self.lists.contains_key(list)
    }
}

/// The shared, swappable snapshot.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    current: Arc<RwLock<Arc<Snapshot>>>,
}

impl Directory {
    /// Loads the first snapshot.
    pub async fn load(store: &Store) -> anyhow::Result<Directory> {
        let snap = Snapshot::from_store(store.directory().await?);
        Ok(Directory {
            current: Arc::new(RwLock::new(Arc::new(snap))),
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn replace(&self, snap: Snapshot) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snap);
    }

    /// Reloads now if the change counter moved; returns whether it did.
    pub async fn refresh(&self, store: &Store) -> anyhow::Result<bool> {
        let counter = store.change_counter().await?;
        if counter == self.snapshot().change_counter {
            return Ok(false);
        }
        self.replace(Snapshot::from_store(store.directory().await?));
        Ok(true)
    }

    /// Polls the change counter until `shutdown`; `on_change` runs after every reload.
    pub async fn watch(
        self,
        store: Store,
        shutdown: CancellationToken,
        on_change: impl Fn(&Snapshot) + Send,
    ) {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            match self.refresh(&store).await {
                Ok(true) => {
                    let snap = self.snapshot();
                    info!(
                        change_counter = snap.change_counter,
                        lists = snap.lists.len(),
                        "directory reloaded"
                    );
                    on_change(&snap);
                }
                Ok(false) => {}
                Err(e) => warn!(error = %format!("{e:#}"), "cannot refresh the directory"),
            }
        }
    }
}
