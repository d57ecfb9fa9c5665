//! The write-ahead log: the durability point of every message received by the daemon.
//!
//! [`record`] is the self-checking record format, [`segment`] the segment files,
//! [`consumed`] the log of entries removed (or rewritten) before their segment was
//! checkpointed, and [`view`] the read-only view of the live log for processes that do not
//! own it. Who writes the log (the group-commit writer) and who replays it (recovery) live
//! elsewhere.

pub(crate) mod consumed;
pub(crate) mod record;
pub(crate) mod segment;
pub(crate) mod view;
