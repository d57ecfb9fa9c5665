//! List identity: a list *is* its posting address `name@domain`.
//!
//! [`ListAddress`] is the only way a list name enters the rest of the system, so its
//! validation is the guard behind invariant 4 of DESIGN.md §8: a list name is safe both as a
//! local part and as a file-name component (it never contains `/`, `\`, NUL, spaces, `+`,
//! a leading dot or `..`). Names and domains are stored lower-cased; lookups are
//! case-insensitive.

use std::fmt;

use crate::address::{MAX_LOCAL_PART, valid_domain};

/// Why a list address or domain name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListAddressError {
    /// No `@` in the address.
    #[error("list address {0:?} has no '@domain'")]
    MissingDomain(String),
    /// The name part is empty, too long or uses a character outside `[a-z0-9._-]`.
    #[error(
        "invalid list name {0:?}: use 1-64 characters from a-z, 0-9, '.', '_' and '-', not starting with '.' and without '..'"
    )]
    Name(String),
    /// The domain is not a valid host name.
    #[error("invalid domain {0:?}")]
    Domain(String),
}

/// A validated, lower-cased list name (the local part of the posting address).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListName(String);

impl ListName {
    /// Validates and lower-cases a list name.
    pub fn parse(input: &str) -> Result<ListName, ListAddressError> {
        let name = input.to_ascii_lowercase();
        let ok = !name.is_empty()
            && name.len() <= MAX_LOCAL_PART
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok {
            Ok(ListName(name))
        } else {
            Err(ListAddressError::Name(input.to_string()))
        }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ListName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ListName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListName({:?})", self.0)
    }
}

/// A validated, lower-cased mail host (`lists.example.org`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Validates and lower-cases a domain name. Address literals are refused.
    pub fn parse(input: &str) -> Result<DomainName, ListAddressError> {
        let d = input.trim().trim_end_matches('.').to_lowercase();
        if d.starts_with('[') || !valid_domain(&d) {
            return Err(ListAddressError::Domain(input.to_string()));
        }
        Ok(DomainName(d))
    }

    /// The domain as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({:?})", self.0)
    }
}

/// A list's posting address, `name@domain`: the identity of a list.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListAddress {
    name: ListName,
    domain: DomainName,
}

impl ListAddress {
    /// Builds a list address from validated parts.
    pub fn new(name: ListName, domain: DomainName) -> ListAddress {
        ListAddress { name, domain }
    }

    /// Parses `name@domain`, validating both parts.
    pub fn parse(input: &str) -> Result<ListAddress, ListAddressError> {
        let s = input.trim();
        let at = s
            .rfind('@')
            .ok_or_else(|| ListAddressError::MissingDomain(input.to_string()))?;
        Ok(ListAddress {
            name: ListName::parse(&s[..at])?,
            domain: DomainName::parse(&s[at + 1..])?,
        })
    }

    /// The list name (local part).
    pub fn name(&self) -> &ListName {
        &self.name
    }

    /// The list's mail host.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    /// The RFC 2919 List-Id label, `name.domain` (Mailman 3's `list_id`).
    pub fn list_id(&self) -> String {
        format!("{}.{}", self.name, self.domain)
    }

    /// The posting address `name@domain` (Mailman 3's `fqdn_listname`).
    pub fn posting_address(&self) -> String {
        format!("{}@{}", self.name, self.domain)
    }

    /// The address of a sub-address of this list, e.g. `name-bounces@domain`.
    pub fn sub_address(&self, suffix: &str) -> String {
        format!("{}-{}@{}", self.name, suffix, self.domain)
    }
}

impl fmt::Display for ListAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.domain)
    }
}

impl fmt::Debug for ListAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListAddress({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_address_is_lowercased_and_has_list_id() {
        let l = ListAddress::parse("My-LIST@Example.COM").unwrap();
        assert_eq!(l.to_string(), "my-list@example.com");
        assert_eq!(l.list_id(), "my-list.example.com");
        assert_eq!(l.sub_address("bounces"), "my-list-bounces@example.com");
    }

    #[test]
    fn unsafe_list_names_are_refused() {
        let long = format!("{}@d.example", "a".repeat(65));
        for bad in [
            "../x@d.example",
            "a/b@d.example",
            "a\\b@d.example",
            "a\0b@d.example",
            "a b@d.example",
            "a+b@d.example",
            ".hidden@d.example",
            "a..b@d.example",
            "@d.example",
            "nodomain",
            "x@bad domain",
            "x@[127.0.0.1]",
            long.as_str(),
        ] {
            assert!(
                ListAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn mailman_test_names_are_accepted() {
        for ok in [
            "-join@example.com",
            "longer_than_15_bytes@example.com",
            "test-join@example.com",
        ] {
            assert!(ListAddress::parse(ok).is_ok(), "{ok:?}");
        }
    }
}
