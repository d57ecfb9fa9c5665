//! The server side of LMTP (RFC 2033) as a sans-io state machine.
//!
//! Layout, in the order bytes flow through it:
//! - `session`: the [`Session`] state machine and its public driving API;
//! - `command`: one command line to a `Command` (smtp-proto grammar plus our rules);
//! - `dot`: DATA end-of-data detection and dot-unstuffing;
//! - `body`: content checks (size, line length, NUL, bare CR/LF) and the body buffer;
//! - `step`: the values handed to the shell ([`Step`], [`Transaction`], ...);
//! - `config`, `error`: the session's [`Config`] and the shell's [`UsageError`].
//!
//! No sockets, no tokio, no clock, no files: the shell reads, writes, times and stores.

mod body;
mod command;
mod config;
mod dot;
mod error;
mod session;
mod step;

pub use config::{BareLineEndings, Config};
pub use error::UsageError;
pub use session::Session;
pub use step::{BodyType, MailParams, Recipient, Step, Transaction, Verdict};
