//! mailcast's outbound side: an SMTP/LMTP client that returns one outcome per recipient.
//!
//! No existing Rust client fits a list server (rust-crates.md §4): they abort a transaction on
//! the first refused RCPT, do not pipeline, or lose replies that arrive together. So:
//! - [`protocol`]: the sans-io client core (sessions and transactions, pipelining, BDAT,
//!   dot-stuffing, LMTP's per-recipient replies);
//! - [`trouble`]: the one place that decides what a reply or a failure means (temporary or
//!   permanent; recipient, transaction or session scope), with Mailman 3's rules;
//! - [`Connection`]: the thin tokio shell over TCP or a Unix socket, with timeouts, and TLS
//!   (STARTTLS or implicit, rustls with ring: `tls`); AUTH PLAIN/LOGIN is the protocol core's;
//! - [`Relay`]: a pool of connections to one relay, with batching by `max_recipients`,
//!   connection reuse, bounded parallelism, and pipelined runs of one-recipient transactions
//!   ([`Relay::send_all`]);
//! - `sink` (feature `sink`): an in-process SMTP/LMTP server for tests and benchmarks.
//!
//! What this crate does not do: queueing, retries and backoff, bounce processing, VERP,
//! personalisation, or MX lookups. The daemon decides what to send and what to do with the
//! outcomes; this crate only sends and reports.
#![warn(missing_docs)]

mod config;
mod connection;
mod envelope;
mod outcome;
pub mod protocol;
mod relay;
mod reply;
mod security;
#[cfg(feature = "sink")]
pub mod sink;
mod tls;
pub mod trouble;

pub use config::{RelayConfig, Timeouts, is_loopback};
pub use connection::{Connection, Target};
pub use envelope::{Envelope, Message};
pub use outcome::RcptOutcome;
pub use relay::{MessageSource, Relay, RelayStats};
pub use reply::{EnhancedCode, Reply};
pub use security::{AuthMechanism, Credentials, SessionSecurity, TlsConfig, TlsMode};
pub use tls::{TlsClient, TlsSetupError};
pub use trouble::{SessionError, SessionErrorKind, Stage};
