//! The envelope of one transaction (reverse-path and forward-paths), a message (an envelope
//! with its own body, for pipelined runs), and the check that keeps a malformed address from
//! ever reaching the wire.
//!
//! Addresses are plain strings here: this crate neither parses nor normalises them (the model
//! crate does). It only refuses what would corrupt the command stream: control characters (a CR
//! or LF would inject commands), angle brackets, and an empty forward-path.

/// The envelope of one SMTP/LMTP transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The reverse-path (`MAIL FROM`), without angle brackets; empty for the null sender `<>`.
    pub mail_from: String,
    /// The forward-paths (`RCPT TO`), without angle brackets, in the order outcomes come back.
    pub rcpts: Vec<String>,
}

impl Envelope {
    /// Builds an envelope from a sender and recipients.
    pub fn new<I, S>(mail_from: impl Into<String>, rcpts: I) -> Envelope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Envelope {
            mail_from: mail_from.into(),
            rcpts: rcpts.into_iter().map(Into::into).collect(),
        }
    }
}

/// A message with its own envelope and body: the unit of a pipelined run
/// ([`crate::protocol::Pipeline`], [`crate::Relay::send_all`]).
///
/// Messages travel by value: the caller hands one over, and gets it back with its outcomes
/// once its transaction is over, so that its buffers can be reused for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The reverse-path and forward-paths.
    pub envelope: Envelope,
    /// The message as it is to be sent (line ends are normalised and dots stuffed on the way).
    pub body: Vec<u8>,
}

/// Whether `path` can be written between angle brackets in a command without changing its
/// meaning: no control characters (CR, LF, NUL, ...), no DEL and no angle brackets. An empty
/// path is allowed here (the null reverse-path); callers refuse an empty forward-path.
pub(crate) fn is_writable_path(path: &str) -> bool {
    !path
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == b'<' || b == b'>')
}

/// Whether any address of the envelope needs the SMTPUTF8 extension (RFC 6531).
pub(crate) fn needs_smtputf8(mail_from: &str, rcpts: &[String]) -> bool {
    !mail_from.is_ascii() || rcpts.iter().any(|rcpt| !rcpt.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_line_breaks_are_not_writable() {
        assert!(is_writable_path("a@example.org"));
        assert!(is_writable_path(""));
        assert!(is_writable_path("\"odd local\"@example.org"));
        assert!(!is_writable_path(
            "a@example.org>\r\nRCPT TO:<b@example.org"
        ));
        assert!(!is_writable_path("a@exa\nmple.org"));
        assert!(!is_writable_path("a@example.org\0"));
        assert!(!is_writable_path("<a@example.org>"));
    }

    #[test]
    fn non_ascii_addresses_need_smtputf8() {
        let rcpts = vec!["a@example.org".to_string()];
        assert!(!needs_smtputf8("b@example.org", &rcpts));
        assert!(needs_smtputf8("jörg@example.org", &rcpts));
        assert!(needs_smtputf8("", &["δ@example.org".to_string()]));
    }
}
