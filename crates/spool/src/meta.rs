//! The envelope of an entry: the small versioned JSON file `<stage>/<hh>/<id>.json`.
//!
//! [`EntryMeta`] is the stored form (format version 1, documented in the crate docs);
//! [`Envelope`] is what a caller supplies for a new submission, before the spool has assigned
//! the id and measured the body. This module parses and prints envelopes; it does not read or
//! write files.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::stage::Stage;

/// The envelope format version written by this crate.
pub const META_VERSION: u32 = 1;

/// The stored envelope of one spool entry.
///
/// The directory an envelope is found in is authoritative: [`EntryMeta::stage`] is rewritten on
/// every move and overwritten with the directory's stage when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// Format version; always [`META_VERSION`] once read.
    version: u32,
    /// The entry id (also the file name stem).
    pub id: EntryId,
    /// The stage the entry is in.
    pub stage: Stage,
    /// The list's posting address (`name@domain`).
    pub list: String,
    /// The canonical sub-address (`"bounces"`, `"request"`, ...) or `None` for a post.
    pub subaddress: Option<String>,
    /// The `+extension` of the recipient, if any (e.g. a VERP or confirmation token).
    pub extension: Option<String>,
    /// The envelope sender as received (empty for the null sender).
    pub mail_from: String,
    /// The recipient as received.
    pub rcpt_to: String,
    /// When the message was received (RFC 3339, UTC).
    pub received_at: Timestamp,
    /// The size of the message as received, in octets.
    pub original_size: u64,
    /// The length of the stored body file, in octets.
    pub body_len: u64,
    /// The blake3 hash of the body (hex); verified whenever the body is read.
    pub body_hash: String,
    /// How many times processing or delivery has been attempted.
    #[serde(default)]
    pub attempts: u32,
    /// Do not process before this time (deferred delivery jobs).
    #[serde(default)]
    pub not_before: Option<Timestamp>,
    /// The last failure, for operators.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Free-form data owned by the daemon's runners (approval, hold reasons, the stage a
    /// shunted entry came from, ...). The spool never interprets it.
    #[serde(default)]
    pub attrs: Map<String, Value>,
}

impl EntryMeta {
    /// A new envelope for an entry a runner creates itself (a notice, a delivery job). The
    /// body fields are filled in by the spool when the body is written.
    pub fn new(id: EntryId, stage: Stage, list: &str, mail_from: &str, rcpt_to: &str) -> Self {
        EntryMeta {
            version: META_VERSION,
            id,
            stage,
            list: list.to_owned(),
            subaddress: None,
            extension: None,
            mail_from: mail_from.to_owned(),
            rcpt_to: rcpt_to.to_owned(),
            received_at: Timestamp::now(),
            original_size: 0,
            body_len: 0,
            body_hash: String::new(),
            attempts: 0,
            not_before: None,
            last_error: None,
            attrs: Map::new(),
        }
    }

    /// The stored envelope of a newly received message.
    pub(crate) fn from_envelope(
        id: EntryId,
        envelope: &Envelope,
        received_at: Timestamp,
        original_size: u64,
        body: &BodyDigest,
    ) -> Self {
        EntryMeta {
            version: META_VERSION,
            id,
            stage: envelope.stage,
            list: envelope.list.clone(),
            subaddress: envelope.subaddress.clone(),
            extension: envelope.extension.clone(),
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
            received_at,
            original_size,
            body_len: body.len,
            body_hash: body.hash.clone(),
            attempts: 0,
            not_before: None,
            last_error: None,
            attrs: envelope.attrs.clone(),
        }
    }

    /// Sets the body fields from a digest of the body.
    pub(crate) fn set_body(&mut self, body: &BodyDigest) {
        self.body_len = body.len;
        self.body_hash = body.hash.clone();
        if self.original_size == 0 {
            self.original_size = body.len;
        }
    }

    /// Parses an envelope file; `id` names it in errors. Rejects unknown versions.
    pub(crate) fn from_json(id: &str, bytes: &[u8]) -> Result<EntryMeta> {
        let meta: EntryMeta = serde_json::from_slice(bytes).map_err(|err| Error::Corrupt {
            id: id.to_owned(),
            reason: format!("unreadable envelope: {err}"),
        })?;
        if meta.version != META_VERSION {
            return Err(Error::Corrupt {
                id: id.to_owned(),
                reason: format!("unknown envelope version {}", meta.version),
            });
        }
        if meta.id.as_str() != id {
            return Err(Error::Corrupt {
                id: id.to_owned(),
                reason: format!("envelope names another entry ({})", meta.id),
            });
        }
        Ok(meta)
    }

    /// The envelope as pretty-printed JSON with a final newline (readable with `cat`).
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        let mut bytes = serde_json::to_vec_pretty(self).expect("EntryMeta serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// What the caller knows about one accepted recipient of a new message.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The stage the entry starts in.
    pub stage: Stage,
    /// The list's posting address.
    pub list: String,
    /// The canonical sub-address, or `None` for a post.
    pub subaddress: Option<String>,
    /// The `+extension` of the recipient, if any.
    pub extension: Option<String>,
    /// The envelope sender.
    pub mail_from: String,
    /// The recipient as received.
    pub rcpt_to: String,
    /// Initial runner attributes.
    pub attrs: Map<String, Value>,
}

impl Envelope {
    /// An envelope with no sub-address, extension or attributes.
    pub fn new(stage: Stage, list: &str, mail_from: &str, rcpt_to: &str) -> Envelope {
        Envelope {
            stage,
            list: list.to_owned(),
            subaddress: None,
            extension: None,
            mail_from: mail_from.to_owned(),
            rcpt_to: rcpt_to.to_owned(),
            attrs: Map::new(),
        }
    }
}

/// The length and blake3 hash of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyDigest {
    /// Length in octets.
    pub len: u64,
    /// blake3 hash, lower-case hex.
    pub hash: String,
}

impl BodyDigest {
    /// Digest of an in-memory body.
    pub fn of(bytes: &[u8]) -> BodyDigest {
        BodyDigest {
            len: bytes.len() as u64,
            hash: blake3::hash(bytes).to_hex().to_string(),
        }
    }

    /// True when `meta` describes a body with this digest.
    pub fn matches(&self, meta: &EntryMeta) -> bool {
        self.len == meta.body_len && self.hash == meta.body_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EntryMeta {
        let id = EntryId::parse("0061b4c3d2e1f-9a3c01fe").unwrap();
        let mut meta = EntryMeta::new(id, Stage::Incoming, "ann@example.org", "a@b.c", "ann@x");
        meta.set_body(&BodyDigest::of(b"Subject: x\r\n\r\nhi\r\n"));
        meta
    }

    #[test]
    fn json_round_trips_and_starts_with_version() {
        let meta = sample();
        let json = meta.to_json();
        assert!(json.starts_with(b"{\n  \"version\": 1,"));
        let back = EntryMeta::from_json(meta.id.as_str(), &json).unwrap();
        assert_eq!(back, meta);
    }

    #[test]
    fn unknown_version_and_wrong_id_are_corrupt() {
        let meta = sample();
        let text = String::from_utf8(meta.to_json()).unwrap();
        let v2 = text.replace("\"version\": 1", "\"version\": 2");
        assert!(matches!(
            EntryMeta::from_json(meta.id.as_str(), v2.as_bytes()),
            Err(Error::Corrupt { .. })
        ));
        assert!(EntryMeta::from_json("other", text.as_bytes()).is_err());
        assert!(EntryMeta::from_json(meta.id.as_str(), b"{").is_err());
    }
}
