//! The posting pipeline of mailcast: pure functions from a received message and a snapshot of
//! its list to a decision and the message to deliver.
//!
//! Nothing in this crate does I/O, reads a clock or draws random numbers: times, generated
//! Message-IDs and tokens are parameters, and what the rules need to know about senders comes
//! in as [`SenderFacts`] gathered by the daemon from the store. The stages, in the order a post
//! meets them:
//! - [`intake`]: the fix-ups every message gets when it enters the spool (Message-ID,
//!   `Message-ID-Hash`, `X-MailFrom`), or a refusal when it cannot be parsed;
//! - [`rules`] and [`chain`]: Mailman 3's default posting chain, deciding accept, hold,
//!   reject or discard;
//! - [`handlers`]: what an accepted post gets (content filtering, cleanse, cook-headers, subject
//!   prefix, RFC 2369 headers, DMARC mitigation of the members' copy, decoration), and
//!   [`personalize`] for one copy per recipient;
//! - [`archive`]: the links of a list's archivers and Mailman's `to-archive` skip rules;
//! - [`notice`]: the mails the list sends about a post (held, rejected);
//! - [`commands`]: the email command language of `-request` mail, and its results reply;
//! - [`membership_notice`]: the texts of confirmations, welcome and goodbye messages, owner
//!   notices and autoresponses, from the named [`templates`];
//! - [`generated`]: the one builder that turns any of those into a mail;
//! - [`digest`]: the MIME and plain digests of the posts a list accumulated.
//!
//! Messages are rewritten by splicing ([`rewrite`]): untouched header fields and the body stay
//! byte-identical.
//!
//! Two decisions differ from Mailman 3 on purpose, because the LMTP server can refuse a post
//! while the sending MTA is still connected (DESIGN.md §3) instead of accepting it and dropping
//! it silently: a post that the **loop** rule catches and a post from a **banned** sender are
//! [`chain::Disposition::Reject`] (Mailman discards both), with a [`chain::RejectKind`] that
//! maps to `550 5.4.6 Routing loop detected` and `550 5.7.1 <reason>` respectively
//! ([`chain::ChainResult::refusal`]).
#![warn(missing_docs)]

pub mod approval;
pub mod archive;
pub mod bounce_notice;
pub mod chain;
pub mod charset;
pub mod commands;
pub mod context;
pub mod digest;
pub mod encoded_word;
pub mod generated;
pub mod handlers;
pub mod header_block;
pub mod intake;
pub mod membership_notice;
pub mod message;
pub(crate) mod mime;
pub mod notice;
pub(crate) mod patterns;
pub mod personalize;
pub(crate) mod pytext;
pub mod rewrite;
pub mod rules;
pub mod template;
pub mod templates;

pub use context::{FromDmarc, ListContext, MessageFacts, RecipientFacts, SenderFacts, SiteFacts};
pub use header_block::{ParseError, split_header_section};
pub use message::Message;

/// A permanent refusal the LMTP server sends for a recipient (and `mailcast inject` turns into
/// an exit status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The SMTP reply code (always 5xx here).
    pub code: u16,
    /// The RFC 3463 enhanced status code.
    pub enhanced: &'static str,
    /// The reply text, one line.
    pub text: String,
}
