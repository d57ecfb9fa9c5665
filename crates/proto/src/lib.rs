//! mailcast's protocol core: the LMTP server session as a state machine, with no I/O.
//!
//! Bytes go in with [`lmtp::Session::feed`]; reply bytes come out with
//! [`lmtp::Session::take_output`]; in between, [`lmtp::Session::poll`] says what the shell
//! must do next. The shell (the daemon's tokio task) owns the socket, the timers and the
//! spool. A driving loop:
//!
//! ```
//! use std::sync::Arc;
//! use mailcast_proto::lmtp::{Config, Session, Step, Verdict};
//! use mailcast_proto::Reply;
//!
//! let mut session = Session::new(Arc::new(Config::default()));
//! session.greeting();
//! let mut client = vec![&b"LHLO mta\r\nMAIL FROM:<a@x>\r\nRCPT TO:<l@y>\r\nDATA\r\n"[..],
//!                       &b"Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n"[..]].into_iter();
//! let mut wire = Vec::new();
//! loop {
//!     match session.poll() {
//!         Step::NeedInput => {
//!             wire.extend(session.take_output());
//!             match client.next() {
//!                 Some(bytes) => session.feed(bytes),
//!                 None => session.eof(),
//!             }
//!         }
//!         Step::Rcpt(_rcpt) => session.answer_rcpt(Verdict::Accept).unwrap(),
//!         Step::Message(tx) => {
//!             // Commit `tx.body` durably here, then one reply per accepted recipient.
//!             let replies = tx.recipients.iter().map(|_| Reply::ok()).collect();
//!             session.answer_message(replies).unwrap();
//!         }
//!         Step::Close => {
//!             wire.extend(session.take_output());
//!             break;
//!         }
//!     }
//! }
//! assert!(wire.ends_with(b"250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"));
//! ```
//!
//! Layout: [`lmtp`] is the session and everything it needs; [`Reply`] is the reply type the
//! session writes and the shell uses for verdicts. With the `fuzzing` feature, `fuzzing`
//! holds the harness shared by the property tests and the cargo-fuzz target.
//!
//! This crate deliberately knows nothing about lists, the spool or the database: whether a
//! recipient exists and what becomes of a message are the shell's answers.

#![warn(missing_docs)]

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod lmtp;
mod reply;

pub use reply::{EnhancedCode, Reply};
