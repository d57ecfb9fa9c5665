//! Archiving: the built-in archivers and the `archive` stage (Mailman's `to-archive` handler
//! and `archive` runner; mailman3-more.md §2).
//!
//! ```text
//! runner::incoming (accepted post) ──▶ runner::archive::enqueue: <id>.arch in the archive stage, durable,
//!                                      before the post leaves incoming (the copy after the
//!                                      handlers, before decoration, as Mailman archives it)
//! runner::schedule ──▶ runner::archive::run: for each archiver enabled now and not done yet: mbox (append),
//!                      prototype (Maildir), HyperKitty (HTTP POST); then the entry is removed.
//!                      HyperKitty failing: the entry stays, with the archivers done so far,
//!                      and is tried again after a backoff (retry), or shunted
//! ```
//!
//! - [`mboxrd`] and [`naming`] are pure (the record format, the file names); [`mbox`] and
//!   [`prototype`] are the blocking writers; [`hyperkitty`] speaks HyperKitty's archiving API
//!   over [`crate::http_client`]. The stage itself is [`crate::runner::archive`] (`enqueue` and `run`, the
//!   runner's two halves, and `retry`, what becomes of an entry HyperKitty did not take);
//!   this module does not know the runners.
//! - An archiver is enabled for a list when the site enables it (`[archiver.<name>] enable`)
//!   and the list has not switched it off (`/lists/<id>/archivers`; a list's switch that is
//!   not set follows the site).
//! - Archiving never delays delivery: the delivery job and the archive entry are siblings,
//!   and the delivery does not wait for the archive. Links (`List-Archive`, `Archived-At`)
//!   are computed, never fetched; a HyperKitty request has a deadline
//!   (`timeout_seconds`), and archive work takes at most a quarter of the runners' workers
//!   (`runner::board`), so a slow or absent HyperKitty leaves the others to delivery.
//! - **Each archiver once.** The archivers done for an entry are recorded in it
//!   (`attrs.archived`) before it is retried, so a HyperKitty retry does not append to the
//!   mbox again.
//! - **Duplicate window**: none for the prototype Maildir (a deterministic file name). For
//!   mbox, a re-run looks for its own record in the file's last 16 MiB
//!   ([`mbox::RERUN_WINDOW`]) before appending, so after a crash a post is archived twice
//!   only if more than that was appended to the same file after its record and before the
//!   crash. The spool's own window applies too: after a power loss, removals of about the
//!   last second may be undone, and those entries are looked for the same way.
//!
//! Not here: date clobbering (`clobber_date`), the MHonArc and mail-archive.com archivers.

pub mod hyperkitty;
pub mod mbox;
pub mod mboxrd;
pub mod naming;
pub mod prototype;

use mailcast_pipeline::archive::ArchiveLinks;
use mailcast_store::ArchiverSwitches;

use crate::config::ArchiverSettings;

/// A built-in archiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archiver {
    /// One mboxrd file per list and month.
    Mbox,
    /// Mailman's prototype: one Maildir per list.
    Prototype,
    /// HyperKitty, over its archiving API.
    HyperKitty,
}

impl Archiver {
    /// Every archiver, in the order `List-Archive` and `Archived-At` are chosen.
    /// The last one with a URL gives them (HyperKitty, when enabled).
    pub const ALL: [Archiver; 3] = [Archiver::Mbox, Archiver::Prototype, Archiver::HyperKitty];

    /// The archiver's name (REST, config section, switches).
    pub fn name(self) -> &'static str {
        match self {
            Archiver::Mbox => "mbox",
            Archiver::Prototype => "prototype",
            Archiver::HyperKitty => "hyperkitty",
        }
    }

    /// The archiver called `name`.
    pub fn named(name: &str) -> Option<Archiver> {
        Archiver::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether the site enables it.
    pub fn site_enabled(self, site: &ArchiverSettings) -> bool {
        match self {
            Archiver::Mbox => site.mbox,
            Archiver::Prototype => site.prototype,
            Archiver::HyperKitty => site.hyperkitty.is_some(),
        }
    }

    /// Whether it is enabled for a list with these switches (site AND list).
    pub fn enabled(self, site: &ArchiverSettings, list: &ArchiverSwitches) -> bool {
        self.site_enabled(site) && list.get(self.name()).copied().unwrap_or(true)
    }

    /// Its links for the list `posting_address`: HyperKitty's pages; neither file archive
    /// has a web view (a list's `archive_url` can name one for `List-Archive`).
    fn links(self, site: &ArchiverSettings, posting_address: &str) -> ArchiveLinks {
        match (self, &site.hyperkitty) {
            (Archiver::HyperKitty, Some(hyperkitty)) => {
                hyperkitty::links(hyperkitty, posting_address)
            }
            _ => ArchiveLinks {
                name: self.name().to_string(),
                list_url: None,
                permalink: None,
            },
        }
    }
}

/// The archivers enabled for a list.
pub fn enabled(site: &ArchiverSettings, list: &ArchiverSwitches) -> Vec<Archiver> {
    Archiver::ALL
        .into_iter()
        .filter(|a| a.enabled(site, list))
        .collect()
}

/// What the pipeline is told about the enabled archivers of the list `posting_address`.
pub fn links(
    site: &ArchiverSettings,
    posting_address: &str,
    list: &ArchiverSwitches,
) -> Vec<ArchiveLinks> {
    enabled(site, list)
        .into_iter()
        .map(|a| a.links(site, posting_address))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_is_site_and_list() {
        let site = ArchiverSettings {
            mbox: true,
            prototype: false,
            hyperkitty: None,
        };
        let mut list = ArchiverSwitches::new();
        assert_eq!(enabled(&site, &list), vec![Archiver::Mbox]);
        list.insert("prototype".into(), true);
        assert_eq!(enabled(&site, &list), vec![Archiver::Mbox], "site off wins");
        list.insert("mbox".into(), false);
        assert!(enabled(&site, &list).is_empty());
        assert_eq!(Archiver::named("prototype"), Some(Archiver::Prototype));
        assert_eq!(Archiver::named("mhonarc"), None);
    }
}
