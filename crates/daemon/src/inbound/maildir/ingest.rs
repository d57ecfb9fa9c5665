//! One Maildir message into the spool: read its envelope fields, resolve the list, adopt the
//! file by hard link ([`Spool::adopt_file`]).
//!
//! The list is the Maildir's own address, `<local>@<domain>`, resolved with Mailman 3's rules
//! (alias domains and sub-addresses included). The recipient recorded is the first
//! `Delivered-To:` when it names the same list address (it keeps the `+extension` that the
//! Maildir path lost), else the Maildir's address; the envelope sender is the first
//! `Return-Path:`. The message is stored exactly as Postfix wrote it, with
//! `attrs.fixed_up = false` so that the incoming runner applies the intake fix-ups. A Maildir
//! whose address is no list (the list was removed) goes to `shunt` with the reason, never
//! deleted. Nothing is refused here: Postfix has already accepted the mail, so policy is the
//! runner's (a rejected post gets a notice). This module does no directory walking and no
//! waiting.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mailcast_model::Subaddress;
use mailcast_spool::{Durability, EntryId, Envelope, Spool, Stage};
use serde_json::Value;

use super::headers::{Trace, read_trace};
use super::tree::ListMaildir;
use crate::directory::Snapshot;
use crate::inbound::plan;

/// How much of a message is read to find the envelope fields (they are the first lines).
const HEAD_LIMIT: u64 = 64 << 10;

/// `attrs` key: `false` when the intake fix-ups (Message-ID, X-MailFrom, ...) are still due.
pub const ATTR_FIXED_UP: &str = "fixed_up";
/// `attrs` key: the Maildir (`<domain>/<local>`) the message came from.
pub const ATTR_MAILDIR: &str = "maildir";
/// `attrs` key: the stage `mailcast queue retry` moves a shunted entry back to.
pub const ATTR_WHICH_STAGE: &str = "whichq";
/// `attrs` key: why an entry was shunted (also its `last_error`, written right after).
pub const ATTR_SHUNT_REASON: &str = "shunt_reason";

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Adopted into `stage` (also when a previous run had already adopted it).
    Adopted(EntryId, Stage),
    /// The Maildir's address is no list: adopted into `shunt`.
    Shunted(EntryId, String),
    /// The address is no list and shunting was not allowed yet (the caller reloads the list
    /// directory first, in case the list is brand new).
    Unresolved,
    /// The file disappeared before it could be read (another reader took it).
    Gone,
}

/// Why a file could not be ingested; it stays in `new/` for the next pass.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The spool holds another message under the id this file name gives (two Maildirs with
    /// the same file name); the file waits until that entry is gone.
    #[error(
        "{path}: entry {entry}, made from another file of the same name, is still in the spool"
    )]
    NameTaken {
        /// The file.
        path: PathBuf,
        /// The entry with the same id.
        entry: EntryId,
    },
    /// The spool refused the adoption (a full disk, a failed fsync, another file system).
    #[error("cannot adopt {path} into the spool: {source}")]
    Spool {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: mailcast_spool::Error,
    },
}

/// Where a Maildir message goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// A list address: the envelope of its entry.
    List(Envelope),
    /// No list: the envelope of a shunted entry, and why.
    Unknown(Envelope, String),
}

/// Ingests `file` from `maildir`. With `shunt_unknown` false, a Maildir that is no list address
/// is left alone and reported as [`Ingested::Unresolved`].
pub fn ingest(
    spool: &Spool,
    snapshot: &Snapshot,
    maildir: &ListMaildir,
    file: &Path,
    shunt_unknown: bool,
) -> Result<Ingested, Error> {
    let trace = match read_head(file) {
        Ok(head) => read_trace(&head),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ingested::Gone),
        Err(source) => {
            return Err(Error::Read {
                path: file.to_path_buf(),
                source,
            });
        }
    };
    if let Some(other) = taken_by_another(spool, file)? {
        return Err(Error::NameTaken {
            path: file.to_path_buf(),
            entry: other,
        });
    }
    let adopt = |envelope: Envelope| match spool.adopt_file(file, envelope) {
        Ok(id) => Ok(Some(id)),
        // Another reader took the file between the read above and the link.
        Err(e) if e.is_not_found() && !file.exists() => Ok(None),
        Err(source) => Err(Error::Spool {
            path: file.to_path_buf(),
            source,
        }),
    };
    match destination(snapshot, maildir, &trace) {
        Destination::List(envelope) => {
            let stage = envelope.stage;
            Ok(adopt(envelope)?.map_or(Ingested::Gone, |id| Ingested::Adopted(id, stage)))
        }
        Destination::Unknown(..) if !shunt_unknown => Ok(Ingested::Unresolved),
        Destination::Unknown(envelope, reason) => {
            let Some(id) = adopt(envelope)? else {
                return Ok(Ingested::Gone);
            };
            // The reason also goes where `mailcast queue list shunt` shows it. The entry is
            // safe in shunt already, so a failure here only loses the explanation.
            let noted =
                spool.move_entry(&id, Stage::Shunt, Stage::Shunt, Durability::Sync, |meta| {
                    meta.last_error = Some(reason.clone());
                });
            if let Err(e) = noted {
                tracing::warn!(entry = %id, error = %e, "cannot record the shunt reason");
            }
            Ok(Ingested::Shunted(id, reason))
        }
    }
}

/// Decides the entry for a message of `maildir` whose envelope fields are `trace`.
pub fn destination(snapshot: &Snapshot, maildir: &ListMaildir, trace: &Trace) -> Destination {
    let address = maildir.address();
    let sender = trace.return_path.clone().unwrap_or_default();
    let mut attrs = serde_json::Map::new();
    attrs.insert(ATTR_FIXED_UP.into(), Value::Bool(false));
    attrs.insert(ATTR_MAILDIR.into(), Value::String(maildir.label()));
    let Ok(dest) = plan::resolve(snapshot, &address) else {
        let (list, subaddress) = guess_list(&address);
        let stage = plan::stage_for(subaddress);
        let rcpt = trace
            .delivered_to
            .clone()
            .unwrap_or_else(|| address.clone());
        let mut envelope = Envelope::new(Stage::Shunt, &list, &sender, &rcpt);
        envelope.subaddress = subaddress.canonical_name().map(String::from);
        attrs.insert(
            ATTR_WHICH_STAGE.into(),
            Value::String(stage.as_str().into()),
        );
        let reason = format!(
            "no list for Maildir {} (address {address})",
            maildir.label()
        );
        attrs.insert(ATTR_SHUNT_REASON.into(), Value::String(reason.clone()));
        envelope.attrs = attrs;
        return Destination::Unknown(envelope, reason);
    };
    // The first Delivered-To keeps the +extension; trust it only for this same list address.
    let original = trace.delivered_to.as_deref().and_then(|delivered| {
        let other = plan::resolve(snapshot, delivered).ok()?;
        (other.list == dest.list && other.subaddress == dest.subaddress)
            .then(|| (delivered.to_string(), other))
    });
    let (rcpt, extension) = match original {
        Some((delivered, other)) => (delivered, other.extension),
        None => (address, dest.extension),
    };
    let mut envelope = Envelope::new(
        plan::stage_for(dest.subaddress),
        &dest.list.to_string(),
        &sender,
        &rcpt,
    );
    envelope.subaddress = dest.subaddress.canonical_name().map(String::from);
    envelope.extension = extension;
    envelope.attrs = attrs;
    Destination::List(envelope)
}

/// For an address that is no list: the list and sub-address it would be if the list existed
/// (so that `mailcast queue retry` sends it to the right stage once the list is back).
fn guess_list(address: &str) -> (String, Subaddress) {
    let address = address.to_lowercase();
    let (local, domain) = address.split_once('@').unwrap_or((&address, ""));
    let local = local.split('+').next().unwrap_or(local); // split yields at least one item
    match local.rsplit_once('-') {
        Some((name, suffix)) if !name.is_empty() => match Subaddress::from_suffix(suffix) {
            Some(sub) => (format!("{name}@{domain}"), sub),
            None => (format!("{local}@{domain}"), Subaddress::Post),
        },
        _ => (format!("{local}@{domain}"), Subaddress::Post),
    }
}

/// The entry that already has `file`'s id, when its body is another file. Adopting again is
/// safe only for the very same file (the spool's body is a hard link to it, left by a crash
/// before the unlink): [`Spool::adopt_file`] would otherwise drop this file as adopted.
pub fn taken_by_another(spool: &Spool, file: &Path) -> Result<Option<EntryId>, Error> {
    let spool_err = |source| Error::Spool {
        path: file.to_path_buf(),
        source,
    };
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let id = EntryId::from_maildir_name(name);
    if spool.find(&id).map_err(spool_err)?.is_none() {
        return Ok(None);
    }
    let same = match (
        std::fs::metadata(file),
        std::fs::metadata(spool.body_path(&id)),
    ) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        // The file is gone (the caller finds out), or the entry has no body (the spool moves
        // it to corrupt when it is read): nothing to protect here.
        _ => true,
    };
    Ok((!same).then_some(id))
}

/// The first [`HEAD_LIMIT`] octets of `file`.
fn read_head(file: &Path) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(4096);
    File::open(file)?.take(HEAD_LIMIT).read_to_end(&mut head)?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_follow_the_suffix_rule() {
        assert_eq!(
            guess_list("gone@a.test"),
            ("gone@a.test".into(), Subaddress::Post)
        );
        assert_eq!(
            guess_list("Gone-Bounces@a.test"),
            ("gone@a.test".into(), Subaddress::Bounces)
        );
        assert_eq!(
            guess_list("gone-subscribe@a.test"),
            ("gone@a.test".into(), Subaddress::Join)
        );
        assert_eq!(
            guess_list("my-list@a.test"),
            ("my-list@a.test".into(), Subaddress::Post)
        );
        assert_eq!(
            guess_list("-owner@a.test"),
            ("-owner@a.test".into(), Subaddress::Post)
        );
    }
}
