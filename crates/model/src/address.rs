//! Email addresses as mailcast stores and compares them.
//!
//! An [`EmailAddress`] keeps the spelling it was given (Mailman 3's `original_email`) and a
//! lower-cased form used for every comparison and lookup (Mailman 3's `email`). Parsing is
//! deliberately strict about what can reach a database row or a generated header: no control
//! characters, no spaces outside a quoted local part, RFC 5321 length limits.
//! It does not resolve domains or validate deliverability.

use std::fmt;

/// Longest local part RFC 5321 §4.5.3.1.1 allows, in octets.
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain RFC 5321 §4.5.3.1.2 allows, in octets.
pub const MAX_DOMAIN: usize = 255;
/// Longest forward or reverse path without angle brackets (RFC 5321 §4.5.3.1.3 minus 2).
pub const MAX_ADDRESS: usize = 254;

/// Why a string is not an acceptable address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// There is no `@` separating local part and domain.
    #[error("missing '@' in address {0:?}")]
    MissingAt(String),
    /// The local part is empty, too long or has characters not allowed unquoted.
    #[error("invalid local part in address {0:?}")]
    LocalPart(String),
    /// The domain is empty, too long or not a host name.
    #[error("invalid domain in address {0:?}")]
    Domain(String),
    /// The whole address exceeds RFC 5321 limits.
    #[error("address too long: {0:?}")]
    TooLong(String),
    /// A `Name <addr>` line is malformed (unbalanced brackets, control characters).
    #[error("malformed mailbox {0:?}")]
    Mailbox(String),
}

/// A validated email address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    /// Lower-cased `local@domain`: the identity used for comparisons.
    email: String,
    /// The address as first given (case preserved).
    original: String,
    /// Byte offset of the `@` in both strings.
    at: usize,
}

impl EmailAddress {
    /// Parses a bare address (`local@domain`, no angle brackets, no display name).
    pub fn parse(input: &str) -> Result<EmailAddress, AddressError> {
        let s = input.trim();
        if s.len() > MAX_ADDRESS {
            return Err(AddressError::TooLong(input.to_string()));
        }
        let at = s
            .rfind('@')
            .ok_or_else(|| AddressError::MissingAt(input.to_string()))?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if !valid_local_part(local) {
            return Err(AddressError::LocalPart(input.to_string()));
        }
        if !valid_domain(domain) {
            return Err(AddressError::Domain(input.to_string()));
        }
        Ok(EmailAddress {
            email: s.to_lowercase(),
            original: s.to_string(),
            at,
        })
        .and_then(|a| {
            // Lower-casing can change byte lengths for some non-ASCII characters; keep
            // the `@` offset valid for both spellings or refuse the address.
            if a.email.as_bytes().get(at) == Some(&b'@') {
                Ok(a)
            } else {
                Err(AddressError::LocalPart(input.to_string()))
            }
        })
    }

    /// The lower-cased address, used as the identity everywhere.
    pub fn as_str(&self) -> &str {
        &self.email
    }

    /// The address as originally spelled.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Lower-cased local part.
    pub fn local_part(&self) -> &str {
        &self.email[..self.at]
    }

    /// Lower-cased domain.
    pub fn domain(&self) -> &str {
        &self.email[self.at + 1..]
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({:?})", self.original)
    }
}

/// An address with an optional display name, as in `Anne Person <anne@example.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, unquoted, if one was given.
    pub display_name: Option<String>,
    /// The address.
    pub address: EmailAddress,
}

impl Mailbox {
    /// Parses one line of a member import: `addr`, `<addr>`, `Name <addr>` or
    /// `"Quoted, Name" <addr>`. Also accepts `addr (Name)` as Mailman's importer does.
    pub fn parse(line: &str) -> Result<Mailbox, AddressError> {
        let s = line.trim();
        if s.chars().any(|c| c.is_control()) {
            return Err(AddressError::Mailbox(line.to_string()));
        }
        if let Some(open) = s.rfind('<') {
            let close = s[open..]
                .find('>')
                .map(|i| open + i)
                .ok_or_else(|| AddressError::Mailbox(line.to_string()))?;
            if !s[close + 1..].trim().is_empty() {
                return Err(AddressError::Mailbox(line.to_string()));
            }
            let address = EmailAddress::parse(&s[open + 1..close])?;
            let name = unquote(s[..open].trim());
            return Ok(Mailbox {
                display_name: (!name.is_empty()).then_some(name),
                address,
            });
        }
        if s.contains('>') {
            return Err(AddressError::Mailbox(line.to_string()));
        }
        if let (Some(open), true) = (s.find('('), s.ends_with(')')) {
            let address = EmailAddress::parse(&s[..open])?;
            let name = s[open + 1..s.len() - 1].trim().to_string();
            return Ok(Mailbox {
                display_name: (!name.is_empty()).then_some(name),
                address,
            });
        }
        Ok(Mailbox {
            display_name: None,
            address: EmailAddress::parse(s)?,
        })
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        let mut out = String::with_capacity(s.len());
        let mut escaped = false;
        for c in s[1..s.len() - 1].chars() {
            if escaped || c != '\\' {
                out.push(c);
                escaped = false;
            } else {
                escaped = true;
            }
        }
        out
    } else {
        s.to_string()
    }
}

/// RFC 5322 `atext` plus the UTF-8 allowed by RFC 6531.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

fn valid_local_part(local: &str) -> bool {
    if local.is_empty() || local.len() > MAX_LOCAL_PART {
        return false;
    }
    if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        // Quoted string: printable ASCII (and UTF-8) except bare '"' and '\' unescaped.
        let inner = &local[1..local.len() - 1];
        let mut escaped = false;
        for c in inner.chars() {
            if c.is_control() {
                return false;
            }
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return false;
            }
        }
        return !escaped;
    }
    // Dot-atom: atext runs separated by single dots.
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// Whether `domain` is an acceptable host name (ASCII labels, or UTF-8 for IDN).
pub fn valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > MAX_DOMAIN {
        return false;
    }
    if domain.starts_with('[') && domain.ends_with(']') {
        // Address literal: accept the shape, never used as a list domain.
        return domain.len() > 2 && !domain.chars().any(|c| c.is_control() || c == ' ');
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_control())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_original_and_lowercases_identity() {
        let a = EmailAddress::parse("Anne.Person@Example.COM").unwrap();
        assert_eq!(a.as_str(), "anne.person@example.com");
        assert_eq!(a.original(), "Anne.Person@Example.COM");
        assert_eq!(a.local_part(), "anne.person");
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn parse_rejects_malformed_addresses() {
        for bad in [
            "",
            "anne",
            "@example.com",
            "anne@",
            "an ne@example.com",
            "anne@exa mple.com",
            "anne@-example.com",
            "anne..person@example.com",
            ".anne@example.com",
            "anne@example..com",
            "anne\0@example.com",
            "anne\n@example.com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn parse_accepts_quoted_and_utf8_local_parts() {
        assert!(EmailAddress::parse("\"anne person\"@example.com").is_ok());
        assert!(EmailAddress::parse("jörg@example.com").is_ok());
        assert!(EmailAddress::parse("a+tag@example.com").is_ok());
    }

    #[test]
    fn mailbox_forms() {
        let m = Mailbox::parse("Anne Person <anne@example.com>").unwrap();
        assert_eq!(m.display_name.as_deref(), Some("Anne Person"));
        assert_eq!(m.address.as_str(), "anne@example.com");
        let m = Mailbox::parse("\"Person, Anne\" <anne@example.com>").unwrap();
        assert_eq!(m.display_name.as_deref(), Some("Person, Anne"));
        let m = Mailbox::parse("<anne@example.com>").unwrap();
        assert_eq!(m.display_name, None);
        let m = Mailbox::parse("anne@example.com (Anne)").unwrap();
        assert_eq!(m.display_name.as_deref(), Some("Anne"));
        assert!(Mailbox::parse("Anne <anne@example.com").is_err());
        assert!(Mailbox::parse("Anne <anne@example.com> trailing").is_err());
        assert!(Mailbox::parse("Anne anne@example.com>").is_err());
    }
}
