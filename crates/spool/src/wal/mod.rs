//! The write-ahead log: the durability point of every message received by the daemon.
//!
//! [`record`] is the self-checking record format, [`segment`] the segment files and
//! [`consumed`] the log of entries removed before their segment was checkpointed. Who writes
//! the log (the group-commit writer) and who replays it (recovery) live elsewhere.

pub(crate) mod consumed;
pub(crate) mod record;
pub(crate) mod segment;
