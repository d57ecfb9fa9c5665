//! Failure classification, in one place: which replies and which local failures are temporary
//! or permanent, and at which scope they apply.
//!
//! The rules are Mailman 3's (`mta/base.py`, `mta/deliver.py`; mailman3.md §6):
//! - **Recipient scope.** A refused RCPT, or (LMTP) one recipient's reply after the end of data,
//!   decides that recipient alone. One refused RCPT never aborts the others.
//! - **Transaction scope.** A refused MAIL decides every recipient of the transaction; a refused
//!   DATA, BDAT or end of data decides every recipient the server had accepted.
//! - **Temporariness of a reply.** A code of 500 or more is permanent, except 552 (RFC 5321 asks
//!   clients to treat 552 "too many recipients" as temporary); 4xx and 552 are temporary.
//! - **Session scope.** A lost connection, an I/O error, a timeout, a protocol violation, a
//!   refused connection, greeting or hello, or a 421 "closing" reply ends the session: it is a
//!   [`SessionError`], the pool drops the connection, and every recipient the server had not yet
//!   answered is deferred. Mailman uses the code 444 for these; so do we, except that a 4xx reply
//!   from the server (such as 421) is kept as it is. A session failure is never permanent, even
//!   when the server greeted us with a 5xx: the fault is between us and our relay, and bouncing
//!   members for it would be wrong.
//!
//! What this module does not do: retries, backoff and bounce processing belong to the daemon.

use std::{fmt, io};

use crate::outcome::RcptOutcome;
use crate::reply::{EnhancedCode, Reply};

/// The code Mailman gives to failures that have no server reply (lost connection, timeout).
pub const LOCAL_FAILURE_CODE: u16 = 444;

/// Mailman's rule: a reply code of 500 or more is permanent, except 552.
pub fn is_permanent(code: u16) -> bool {
    code >= 500 && code != 552
}

/// The outcome a refusal means for the recipients it applies to.
pub fn outcome_for_refusal(reply: Reply) -> RcptOutcome {
    if is_permanent(reply.code) {
        RcptOutcome::failed(reply)
    } else {
        RcptOutcome::deferred(reply)
    }
}

/// The outcome of a recipient whose address could not be written into a command at all.
pub(crate) fn unwritable_recipient() -> RcptOutcome {
    RcptOutcome::Failed {
        code: 553,
        enhanced: Some(EnhancedCode::new(5, 1, 3)),
        text: "recipient address is not valid in an SMTP command (not sent)".into(),
    }
}

/// The outcome of every recipient when the reverse-path could not be written into MAIL.
pub(crate) fn unwritable_sender() -> RcptOutcome {
    RcptOutcome::Failed {
        code: 553,
        enhanced: Some(EnhancedCode::new(5, 1, 7)),
        text: "sender address is not valid in an SMTP command (not sent)".into(),
    }
}

/// Where in the conversation a session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening the TCP or Unix-socket connection.
    Connect,
    /// Waiting for the 220 greeting.
    Greeting,
    /// EHLO, LHLO or the HELO fallback.
    Hello,
    /// The STARTTLS command.
    StartTls,
    /// The TLS handshake (after STARTTLS, or at once for implicit TLS).
    Tls,
    /// SMTP AUTH.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command (waiting for 354).
    Data,
    /// Sending the message body.
    Body,
    /// Waiting for the reply (or, in LMTP, the replies) to the end of data or to BDAT LAST.
    EndOfData,
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "while connecting",
            Stage::Greeting => "while waiting for the greeting",
            Stage::Hello => "after EHLO/LHLO",
            Stage::StartTls => "after STARTTLS",
            Stage::Tls => "during the TLS handshake",
            Stage::Auth => "during AUTH",
            Stage::Mail => "after MAIL FROM",
            Stage::Rcpt => "after RCPT TO",
            Stage::Data => "after DATA",
            Stage::Body => "while sending the message body",
            Stage::EndOfData => "after the end of data",
            Stage::Rset => "after RSET",
            Stage::Quit => "after QUIT",
        })
    }
}

/// What ended a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionErrorKind {
    /// The connection could not be opened.
    #[error("cannot connect: {0}")]
    Connect(#[source] io::Error),
    /// No reply (or no progress writing) within the configured timeout.
    #[error("timed out")]
    Timeout,
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// Reading or writing the socket failed.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
    /// The server's bytes were not a valid reply, or not the reply the protocol allows here.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The server refused the session: greeting or hello refused, or 421 "closing".
    #[error("server replied {0}")]
    Refused(Reply),
    /// A transaction was started on a session that had already ended.
    #[error("the session had already ended")]
    Ended,
    /// TLS is required and the relay does not offer STARTTLS (nothing was sent).
    #[error("the relay does not offer STARTTLS and [smtp] tls = \"required\"")]
    TlsNotOffered,
    /// TLS is required and the relay refused STARTTLS.
    #[error("the relay refused STARTTLS ({0}) and [smtp] tls = \"required\"")]
    StartTlsRefused(Reply),
    /// The TLS handshake failed or TLS could not be set up (certificate, name, CA file).
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The relay refused the credentials (usually 535).
    #[error("the relay refused AUTH: {0}")]
    AuthRefused(Reply),
    /// Authentication could not be attempted (no common mechanism, no encryption).
    #[error("cannot authenticate: {0}")]
    Auth(String),
    /// The transaction was given up before it completed.
    #[error("the transaction was interrupted")]
    Interrupted,
}

impl SessionErrorKind {
    /// The same failure, for a second transaction it also ended (I/O errors are rebuilt from
    /// their kind and text, which is all that outcomes and logs use).
    pub(crate) fn duplicate(&self) -> SessionErrorKind {
        let copy = |error: &io::Error| io::Error::new(error.kind(), error.to_string());
        match self {
            SessionErrorKind::Connect(error) => SessionErrorKind::Connect(copy(error)),
            SessionErrorKind::Timeout => SessionErrorKind::Timeout,
            SessionErrorKind::Closed => SessionErrorKind::Closed,
            SessionErrorKind::Io(error) => SessionErrorKind::Io(copy(error)),
            SessionErrorKind::Protocol(violation) => SessionErrorKind::Protocol(violation.clone()),
            SessionErrorKind::Refused(reply) => SessionErrorKind::Refused(reply.clone()),
            SessionErrorKind::Ended => SessionErrorKind::Ended,
            SessionErrorKind::Interrupted => SessionErrorKind::Interrupted,
            SessionErrorKind::TlsNotOffered => SessionErrorKind::TlsNotOffered,
            SessionErrorKind::StartTlsRefused(reply) => {
                SessionErrorKind::StartTlsRefused(reply.clone())
            }
            SessionErrorKind::Tls(why) => SessionErrorKind::Tls(why.clone()),
            SessionErrorKind::AuthRefused(reply) => SessionErrorKind::AuthRefused(reply.clone()),
            SessionErrorKind::Auth(why) => SessionErrorKind::Auth(why.clone()),
        }
    }

    /// Whether the failure is one of TLS or AUTH: a configuration problem between mailcast
    /// and its relay, which an operator must fix, rather than a passing outage.
    pub fn is_security(&self) -> bool {
        matches!(
            self,
            SessionErrorKind::TlsNotOffered
                | SessionErrorKind::StartTlsRefused(_)
                | SessionErrorKind::Tls(_)
                | SessionErrorKind::AuthRefused(_)
                | SessionErrorKind::Auth(_)
        )
    }
}

/// A session-scope failure, with the outcome of every recipient of the transaction it
/// interrupted (answered recipients keep their answer; the others are deferred).
#[derive(Debug, thiserror::Error)]
#[error("{kind} ({stage})")]
pub struct SessionError {
    kind: SessionErrorKind,
    stage: Stage,
    outcomes: Vec<RcptOutcome>,
    may_have_delivered: bool,
}

impl SessionError {
    /// A failure outside any transaction (connecting, greeting, hello, quit).
    pub(crate) fn new(kind: SessionErrorKind, stage: Stage) -> SessionError {
        SessionError {
            kind,
            stage,
            outcomes: Vec::new(),
            may_have_delivered: false,
        }
    }

    /// A failure inside a transaction, with the outcomes of its recipients.
    pub(crate) fn with_outcomes(
        kind: SessionErrorKind,
        stage: Stage,
        outcomes: Vec<RcptOutcome>,
        may_have_delivered: bool,
    ) -> SessionError {
        SessionError {
            kind,
            stage,
            outcomes,
            may_have_delivered,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &SessionErrorKind {
        &self.kind
    }

    /// Where in the conversation it went wrong.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// One outcome per recipient of the interrupted transaction, in envelope order (empty when
    /// the failure happened outside a transaction).
    pub fn outcomes(&self) -> &[RcptOutcome] {
        &self.outcomes
    }

    /// Takes the outcomes out.
    pub fn into_outcomes(self) -> Vec<RcptOutcome> {
        self.outcomes
    }

    /// `false` when the failure came before the end of data was sent, so that nothing can have
    /// been delivered and running the transaction again cannot duplicate the message.
    pub fn may_have_delivered(&self) -> bool {
        self.may_have_delivered
    }

    /// The outcome of a recipient this failure left unanswered: always temporary.
    pub fn unanswered_outcome(&self) -> RcptOutcome {
        unanswered_outcome(&self.kind, self.stage)
    }
}

/// The deferral for a recipient left unanswered by a session failure `kind` at `stage`.
pub(crate) fn unanswered_outcome(kind: &SessionErrorKind, stage: Stage) -> RcptOutcome {
    let (enhanced, what) = match kind {
        SessionErrorKind::Refused(reply) if (400..500).contains(&reply.code) => {
            return RcptOutcome::deferred(reply.clone());
        }
        SessionErrorKind::Connect(_) => (EnhancedCode::new(4, 4, 1), kind.to_string()),
        SessionErrorKind::Protocol(_) => (EnhancedCode::new(4, 5, 0), kind.to_string()),
        // Security failures are never the members': 4.7.x, deferred like any session failure.
        kind if kind.is_security() => (EnhancedCode::new(4, 7, 0), kind.to_string()),
        _ => (EnhancedCode::new(4, 4, 2), kind.to_string()),
    };
    RcptOutcome::Deferred {
        code: LOCAL_FAILURE_CODE,
        enhanced: Some(enhanced),
        text: format!("{what} ({stage})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16) -> Reply {
        Reply::new(code, None, "text")
    }

    #[test]
    fn mailman_rule_for_reply_codes() {
        for (code, permanent) in [
            (421, false),
            (450, false),
            (451, false),
            (452, false),
            (500, true),
            (550, true),
            (551, true),
            (552, false),
            (553, true),
            (554, true),
        ] {
            assert_eq!(is_permanent(code), permanent, "code {code}");
            let outcome = outcome_for_refusal(reply(code));
            assert_eq!(outcome.is_permanent(), permanent, "code {code}");
            assert_eq!(outcome.code(), Some(code));
        }
    }

    #[test]
    fn session_failures_are_temporary_444_unless_the_server_said_4xx() {
        let lost = unanswered_outcome(&SessionErrorKind::Closed, Stage::EndOfData);
        assert!(lost.is_temporary());
        assert_eq!(lost.code(), Some(LOCAL_FAILURE_CODE));

        let refused = SessionErrorKind::Refused(reply(554));
        let outcome = unanswered_outcome(&refused, Stage::Greeting);
        assert!(outcome.is_temporary());
        assert_eq!(outcome.code(), Some(LOCAL_FAILURE_CODE));

        let closing = SessionErrorKind::Refused(reply(421));
        assert_eq!(
            unanswered_outcome(&closing, Stage::Rcpt),
            RcptOutcome::deferred(reply(421))
        );
    }

    #[test]
    fn session_error_text_names_the_stage() {
        let error = SessionError::new(SessionErrorKind::Timeout, Stage::Rcpt);
        assert_eq!(error.to_string(), "timed out (after RCPT TO)");
        assert!(!error.may_have_delivered());
    }
}
