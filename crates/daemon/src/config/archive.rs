//! `[archiver.<name>]`: the site's archivers (Mailman's `[archiver.*]` sections). Each has
//! `enable` (default off, as in Mailman); a list can switch an enabled archiver off for
//! itself (`/lists/<id>/archivers`), never on when the site has it off. HyperKitty's section
//! has more keys ([`hyperkitty`]).

mod hyperkitty;

use serde::Deserialize;

pub use hyperkitty::{HyperKittySettings, RawHyperKitty};

/// `[archiver]` as written: one table per built-in archiver.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawArchivers {
    pub mbox: RawArchiver,
    pub prototype: RawArchiver,
    pub hyperkitty: RawHyperKitty,
}

/// `[archiver.<name>]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawArchiver {
    pub enable: bool,
}

/// The site's archiver switches, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiverSettings {
    /// `[archiver.mbox] enable`: one mboxrd file per list and month.
    pub mbox: bool,
    /// `[archiver.prototype] enable`: one Maildir per list, as Mailman's prototype.
    pub prototype: bool,
    /// `[archiver.hyperkitty]`, when enabled: posts go to HyperKitty's archiving API.
    pub hyperkitty: Option<HyperKittySettings>,
}

impl ArchiverSettings {
    /// From the file's tables; a HyperKitty section that is enabled must be complete.
    pub fn from_raw(raw: &RawArchivers) -> anyhow::Result<ArchiverSettings> {
        Ok(ArchiverSettings {
            mbox: raw.mbox.enable,
            prototype: raw.prototype.enable,
            hyperkitty: HyperKittySettings::from_raw(&raw.hyperkitty)?,
        })
    }
}
