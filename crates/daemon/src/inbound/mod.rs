//! The ways in: the LMTP server, `mailcast inject`, and the Maildir reader. All three map
//! recipients with Mailman 3's rules, apply the same intake fix-ups and early refusals
//! ([`plan`]), and acknowledge only what the spool has made durable.

pub mod accept;
pub mod inject;
pub mod lmtp;
pub mod maildir;
pub mod plan;
