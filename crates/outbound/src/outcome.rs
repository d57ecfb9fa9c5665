//! What happened to one recipient of one transaction: the data a delivery returns.
//!
//! Delivery results are data, not errors (aesthetics.md §8.3): every recipient handed to the
//! client gets exactly one [`RcptOutcome`], whatever went wrong. Which reply or failure becomes
//! which outcome is decided in `trouble`, not here.

use crate::reply::{EnhancedCode, Reply};

/// The fate of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    /// The server took responsibility for the message for this recipient.
    Delivered,
    /// A temporary failure: retry this recipient later.
    Deferred {
        /// The reply code (444 for local failures such as a lost connection, as in Mailman).
        code: u16,
        /// The enhanced status code, from the server or chosen locally.
        enhanced: Option<EnhancedCode>,
        /// The server's text, or a description of the local failure.
        text: String,
    },
    /// A permanent failure: record it as a bounce, do not retry.
    Failed {
        /// The reply code.
        code: u16,
        /// The enhanced status code, from the server or chosen locally.
        enhanced: Option<EnhancedCode>,
        /// The server's text, or a description of the local refusal.
        text: String,
    },
}

impl RcptOutcome {
    /// A deferral carrying `reply`.
    pub fn deferred(reply: Reply) -> RcptOutcome {
        RcptOutcome::Deferred {
            code: reply.code,
            enhanced: reply.enhanced,
            text: reply.text,
        }
    }

    /// A permanent failure carrying `reply`.
    pub fn failed(reply: Reply) -> RcptOutcome {
        RcptOutcome::Failed {
            code: reply.code,
            enhanced: reply.enhanced,
            text: reply.text,
        }
    }

    /// `true` for [`RcptOutcome::Delivered`].
    pub fn is_delivered(&self) -> bool {
        matches!(self, RcptOutcome::Delivered)
    }

    /// `true` for [`RcptOutcome::Deferred`]: the recipient goes to the retry queue.
    pub fn is_temporary(&self) -> bool {
        matches!(self, RcptOutcome::Deferred { .. })
    }

    /// `true` for [`RcptOutcome::Failed`]: the recipient bounced.
    pub fn is_permanent(&self) -> bool {
        matches!(self, RcptOutcome::Failed { .. })
    }

    /// The reply code of a failure, `None` when delivered.
    pub fn code(&self) -> Option<u16> {
        match self {
            RcptOutcome::Delivered => None,
            RcptOutcome::Deferred { code, .. } | RcptOutcome::Failed { code, .. } => Some(*code),
        }
    }

    /// The failure as a reply (code, enhanced code, text), `None` when delivered.
    pub fn reply(&self) -> Option<Reply> {
        match self {
            RcptOutcome::Delivered => None,
            RcptOutcome::Deferred {
                code,
                enhanced,
                text,
            }
            | RcptOutcome::Failed {
                code,
                enhanced,
                text,
            } => Some(Reply::new(*code, *enhanced, text.clone())),
        }
    }
}
