//! The errors a shell gets when it drives a session out of order.
//!
//! These are programming errors in the shell, not protocol errors: the client never causes
//! them. Protocol errors are replies, never Rust errors.

/// A shell called an `answer_*` method that does not fit the session's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// `answer_rcpt` without a pending [`Step::Rcpt`](super::Step::Rcpt).
    #[error("no RCPT is waiting for a verdict")]
    NoRcptPending,
    /// `answer_message` without a pending [`Step::Message`](super::Step::Message).
    #[error("no message is waiting for replies")]
    NoMessagePending,
    /// `answer_message` with a number of replies different from the accepted recipients.
    #[error("expected {expected} end-of-data replies (one per accepted recipient), got {got}")]
    ReplyCount {
        /// The number of accepted recipients.
        expected: usize,
        /// The number of replies given.
        got: usize,
    },
    /// A verdict or per-recipient reply of the wrong kind: without an enhanced status code,
    /// an `AcceptWith` that is not 2xx, or a `Reject` that is 2xx.
    #[error("reply {code} is not allowed here")]
    InvalidReply {
        /// The offending reply code.
        code: u16,
    },
}
