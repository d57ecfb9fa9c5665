//! A server reply as the client keeps it: the three-digit code, the enhanced status code when
//! the server gave one (RFC 2034/3463), and the text.
//!
//! Parsing the wire form is smtp-proto's job (see `protocol::reader`); this module only holds the
//! result and prints it the way logs and bounce notices show it (`550 5.1.1 No such user`). It
//! does not decide what a reply means for a recipient: that is `trouble`'s job.

use std::fmt;

/// An enhanced status code (RFC 3463), `class.subject.detail`, such as `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject (0 other, 1 addressing, 2 mailbox, 3 mail system, 4 network, 5 protocol, ...).
    pub subject: u8,
    /// The detail within the subject.
    pub detail: u8,
}

impl EnhancedCode {
    /// Builds a code from its three parts.
    pub const fn new(class: u8, subject: u8, detail: u8) -> EnhancedCode {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// Converts smtp-proto's `esc` triple; `[0, 0, 0]` means the reply carried none.
    pub(crate) fn from_esc(esc: [u8; 3]) -> Option<EnhancedCode> {
        match esc {
            [0, 0, 0] => None,
            [class, subject, detail] => Some(EnhancedCode::new(class, subject, detail)),
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One complete server reply (all lines of a multi-line reply, joined by `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status code, when the reply started with one.
    pub enhanced: Option<EnhancedCode>,
    /// The text after the code(s); lines of a multi-line reply are joined by `\n`.
    pub text: String,
}

impl Reply {
    /// Builds a reply.
    pub fn new(code: u16, enhanced: Option<EnhancedCode>, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced,
            text: text.into(),
        }
    }

    /// 2xx: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (354 after DATA).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text.replace('\n', " / "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prints_like_a_log_line() {
        let reply = Reply::new(550, Some(EnhancedCode::new(5, 1, 1)), "No such\nuser");
        assert_eq!(reply.to_string(), "550 5.1.1 No such / user");
        assert_eq!(Reply::new(250, None, "").to_string(), "250");
    }

    #[test]
    fn zero_esc_means_no_enhanced_code() {
        assert_eq!(EnhancedCode::from_esc([0, 0, 0]), None);
        assert_eq!(
            EnhancedCode::from_esc([4, 7, 1]),
            Some(EnhancedCode::new(4, 7, 1))
        );
    }
}
