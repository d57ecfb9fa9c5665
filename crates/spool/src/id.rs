//! Entry ids: unique, sortable by creation time, safe as file names, with deterministic
//! derived ids for idempotent state transitions.
//!
//! A fresh id is `<13 hex digits: microseconds since 1970>-<8 hex digits: random>`, e.g.
//! `0061b4c3d2e1f-9a3c01fe`. Within one process the timestamp part is strictly increasing, so
//! two ids from one process never collide; the random part separates processes (the daemon and
//! `mailcast inject` may create ids in the same microsecond). A derived id appends `.<suffix>`
//! (`<parent>.out`, `<parent>.out.r1`), so a runner that re-processes an entry after a crash
//! computes the same child id and can see that the child already exists. An id adopted from a
//! Maildir is derived from the Maildir file name alone.
//!
//! This module does not touch the disk; [`EntryId::bucket`] only names the hash directory.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Longest id accepted, in bytes (well below every file system's name limit).
const MAX_LEN: usize = 160;

/// The identifier of one spool entry; also its file name stem.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct EntryId(String);

impl EntryId {
    /// Creates a fresh id from the current time.
    pub fn generate() -> EntryId {
        static LAST_MICROS: AtomicU64 = AtomicU64::new(0);
        let now = now_micros();
        // Strictly increasing within the process, even if the clock stalls or steps back.
        let prev = LAST_MICROS
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or_else(|last| last); // The closure always returns Some.
        let micros = now.max(prev + 1);
        EntryId(format!("{micros:013x}-{:08x}", random_u32()))
    }

    /// Validates `text` as an id: 1 to 160 bytes of `[0-9a-z.-]`, starting with a letter or
    /// digit, without `..`. Anything that passes is a safe file name stem.
    pub fn parse(text: &str) -> Result<EntryId> {
        let valid = !text.is_empty()
            && text.len() <= MAX_LEN
            && text.as_bytes()[0].is_ascii_alphanumeric()
            && !text.contains("..")
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-' || b == b'.');
        if valid {
            Ok(EntryId(text.to_owned()))
        } else {
            Err(Error::InvalidId(text.to_owned()))
        }
    }

    /// The deterministic child id `<self>.<suffix>` (e.g. `"out"`, `"r1"`). The suffix must be
    /// 1 to 16 characters of `[0-9a-z]`.
    pub fn derive(&self, suffix: &str) -> Result<EntryId> {
        let suffix_ok = !suffix.is_empty()
            && suffix.len() <= 16
            && suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
        if !suffix_ok {
            return Err(Error::InvalidId(format!("{}.{suffix}", self.0)));
        }
        EntryId::parse(&format!("{}.{suffix}", self.0))
    }

    /// The deterministic id of a message adopted from a Maildir file name. The `:2,FLAGS` info
    /// part is ignored, so a file renamed to `cur/` keeps its id. Leading decimal seconds in the
    /// name (the Maildir convention) become the time part, so adopted ids sort by delivery time.
    pub fn from_maildir_name(name: &str) -> EntryId {
        let unique = name.split(':').next().unwrap_or(name); // split always yields one item
        let digits: String = unique.chars().take_while(|c| c.is_ascii_digit()).collect();
        let seconds: u64 = digits.parse().unwrap_or(0);
        let micros = seconds.saturating_mul(1_000_000).min(0xf_ffff_ffff_ffff);
        let hash = blake3::hash(unique.as_bytes()).to_hex();
        EntryId(format!("{micros:013x}-m{}", &hash[..15]))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash bucket (two hex digits) of the directories this entry's files live in.
    pub fn bucket(&self) -> String {
        format!("{:02x}", blake3::hash(self.0.as_bytes()).as_bytes()[0])
    }

    /// The creation time encoded in the id, in microseconds since 1970, if it has one.
    pub fn created_micros(&self) -> Option<u64> {
        let head = self.0.get(..13)?;
        u64::from_str_radix(head, 16).ok()
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EntryId {
    type Err = Error;
    fn from_str(text: &str) -> Result<EntryId> {
        EntryId::parse(text)
    }
}

impl<'de> serde::Deserialize<'de> for EntryId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EntryId, D::Error> {
        let text = String::deserialize(deserializer)?;
        EntryId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Microseconds since the Unix epoch (0 if the clock is before 1970).
fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// 32 random bits. `RandomState` is seeded from the operating system's random source once per
/// thread; hashing a process-wide counter with it gives distinct unpredictable values without a
/// dependency on a random-number crate.
fn random_u32() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = RandomState::new();
    (state.hash_one((n, std::process::id())) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_unique_and_sorted() {
        let ids: Vec<EntryId> = (0..1000).map(|_| EntryId::generate()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        for id in &ids {
            assert_eq!(EntryId::parse(id.as_str()).unwrap(), *id);
            assert!(id.created_micros().unwrap() > 1_600_000_000_000_000);
        }
    }

    #[test]
    fn parse_rejects_unsafe_names() {
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "A",
            "a..b",
            "a b",
            "a\0",
            &"a".repeat(161),
        ] {
            assert!(EntryId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn derive_is_deterministic_and_validated() {
        let parent = EntryId::parse("0061b4c3d2e1f-9a3c01fe").unwrap();
        let child = parent.derive("out").unwrap();
        assert_eq!(child.as_str(), "0061b4c3d2e1f-9a3c01fe.out");
        assert_eq!(child, parent.derive("out").unwrap());
        assert_eq!(
            child.derive("r1").unwrap().as_str(),
            "0061b4c3d2e1f-9a3c01fe.out.r1"
        );
        assert!(parent.derive("").is_err());
        assert!(parent.derive("a.b").is_err());
        assert!(parent.derive("/x").is_err());
    }

    #[test]
    fn maildir_ids_ignore_flags_and_sort_by_time() {
        let a = EntryId::from_maildir_name("1700000000.M1P2.host");
        let b = EntryId::from_maildir_name("1700000000.M1P2.host:2,S");
        let c = EntryId::from_maildir_name("1700000001.M1P2.host");
        assert_eq!(a, b);
        assert!(a < c);
        assert_eq!(a.created_micros(), Some(1_700_000_000_000_000));
        assert!(EntryId::parse(a.as_str()).is_ok());
    }
}
