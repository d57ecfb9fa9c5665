//! The sans-io SMTP/LMTP client: server bytes in, client bytes and per-recipient outcomes out.
//!
//! No tokio, no sockets, no clock (DESIGN.md §8 invariant 5). A [`Session`] is opened by
//! pumping it through the greeting and EHLO/LHLO (HELO fallback for SMTP); each mail
//! transaction then borrows it as a [`Transaction`], or a run of transactions with their own
//! messages borrows it as a [`Pipeline`] (pipelined across transactions). The shell's loop is
//! always the same:
//!
//! ```text
//! loop {
//!     match txn.pump(&mut out) {
//!         Step::Write(timer) => { write all of `out` (bounded by `timer`); out.clear(); }
//!         Step::Read(timer)  => { read (bounded by `timer`); txn.receive(&bytes); }
//!         Step::Done         => break,
//!     }
//! }
//! txn.finish() // or txn.fail(kind) when the read, the write or the timer failed
//! ```
//!
//! Replies are parsed with smtp-proto's `ResponseReceiver`; bytes after the replies a step
//! needed stay buffered for the next step. Failure classification lives in `crate::trouble`.
//! STARTTLS and AUTH run between the hello and the first transaction (`session`, `auth`); the
//! TLS handshake itself is the shell's, which the session asks for with
//! [`Session::wants_tls`].

mod auth;
mod body;
mod capabilities;
mod command;
mod engine;
mod exchange;
mod pipeline;
mod reader;
mod session;
mod transaction;

#[cfg(test)]
mod tests;

pub use capabilities::Capabilities;
pub use pipeline::{Feed, Pipeline};
pub use reader::ReplyReader;
pub use session::{Session, SessionConfig, Step, Timer};
pub use transaction::Transaction;

/// Parses one reply written out in full, such as `550 5.1.1 No such user` (for the sink's
/// scripts); `None` if it is not a reply.
#[cfg(feature = "sink")]
pub(crate) fn reply_from_line(line: &str) -> Option<crate::reply::Reply> {
    let mut reader = reader::ReplyReader::default();
    reader.push(line.as_bytes());
    reader.push(b"\r\n");
    reader.next_reply().ok().flatten()
}
