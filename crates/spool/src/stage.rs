//! The stages an entry can be in; each is a directory under the spool root.
//!
//! This module only names stages. Which runner consumes which stage, and when an entry moves,
//! is the daemon's business.

use std::fmt;

use crate::error::{Error, Result};

/// A queue stage. Every entry's envelope is in exactly one stage directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Posts and `-owner` mail, waiting for the pipeline.
    Incoming,
    /// Mail to `-request`, `-join`, `-leave` and `-confirm`, waiting for the command runner.
    Command,
    /// Mail to `-bounces`, waiting for the bounce runner.
    Bounces,
    /// Posts held for moderation.
    Held,
    /// Delivery jobs ready to be sent.
    Outgoing,
    /// Delivery jobs waiting for their retry time (`not_before`).
    Deferred,
    /// Accepted posts waiting for the list's archivers.
    Archive,
    /// Entries that failed repeatedly; kept for an operator (`mailcast queue retry`).
    Shunt,
    /// Unreadable entries kept aside; never deleted automatically.
    Corrupt,
}

impl Stage {
    /// Every stage, in the order the message flows.
    pub const ALL: [Stage; 9] = [
        Stage::Incoming,
        Stage::Command,
        Stage::Bounces,
        Stage::Held,
        Stage::Outgoing,
        Stage::Deferred,
        Stage::Archive,
        Stage::Shunt,
        Stage::Corrupt,
    ];

    /// The stage's directory name (and its name in envelopes and on the command line).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Incoming => "incoming",
            Stage::Command => "command",
            Stage::Bounces => "bounces",
            Stage::Held => "held",
            Stage::Outgoing => "outgoing",
            Stage::Deferred => "deferred",
            Stage::Archive => "archive",
            Stage::Shunt => "shunt",
            Stage::Corrupt => "corrupt",
        }
    }

    /// Parses a stage name as written by [`Stage::as_str`].
    pub fn parse(name: &str) -> Result<Stage> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == name)
            .ok_or_else(|| Error::Invalid(format!("unknown spool stage {name:?}")))
    }

    /// The stage's position in [`Stage::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Stage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Stage, D::Error> {
        let name = String::deserialize(deserializer)?;
        Stage::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, stage) in Stage::ALL.into_iter().enumerate() {
            assert_eq!(Stage::parse(stage.as_str()).unwrap(), stage);
            assert_eq!(stage.index(), i);
        }
        assert!(Stage::parse("Incoming").is_err());
        assert!(Stage::parse("tmp").is_err());
    }
}
