//! The `archive` stage: an accepted post's copy for the list's archivers
//! ([`enqueue`], a sibling of its delivery job), handed to each archiver enabled now
//! ([`run`], with the writers of [`crate::archive`]), and a HyperKitty failure's backoff,
//! shunt and record of the archivers done ([`retry`]). Mailman's `to-archive` handler and
//! `archive` runner. Delivery never waits for it.

pub mod enqueue;
pub mod retry;
pub mod run;
