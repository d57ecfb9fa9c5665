//! From an envelope recipient to a list and a sub-address, with Mailman 3's exact rules.
//!
//! The rules (shared/reference/mailman3.md §1.4), applied at RCPT time and again at the end of
//! data, by the LMTP server, `mailcast inject` and the Maildir reader alike:
//! 1. the whole address is lower-cased;
//! 2. it is split at the first `@`;
//! 3. a domain that is some domain's `alias_domain` is replaced by that domain's mail host;
//! 4. the local part is cut at the first `+` (the VERP delimiter), the rest is kept as the
//!    extension (a VERP-encoded address or a confirmation cookie);
//! 5. the local part is split at its last `-`; a known suffix with a non-empty prefix is a
//!    sub-address, anything else makes the whole local part the list name;
//! 6. if `prefix-suffix@domain` is itself a list, it is a post to that list;
//! 7. the list must exist.
//!
//! The lookups go through [`ListDirectory`], so this module does no I/O.

use crate::list::{DomainName, ListAddress, ListName};

/// The sub-addresses of a list, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subaddress {
    /// The posting address itself (`list@`, also `list+anything@`).
    Post,
    /// `list-bounces@`, also `list-bounces+anything@` (VERP).
    Bounces,
    /// `list-confirm@`, also `list-confirm+token@`.
    Confirm,
    /// `list-join@` and `list-subscribe@`.
    Join,
    /// `list-leave@` and `list-unsubscribe@`.
    Leave,
    /// `list-owner@`.
    Owner,
    /// `list-request@`.
    Request,
}

/// Every sub-address suffix mailcast answers to, sorted as Mailman 3 lists them in its MTA maps.
pub const SUFFIXES: [&str; 8] = [
    "bounces",
    "confirm",
    "join",
    "leave",
    "owner",
    "request",
    "subscribe",
    "unsubscribe",
];

impl Subaddress {
    /// Maps a local-part suffix (`bounces`, `subscribe`, ...) to its sub-address.
    pub fn from_suffix(suffix: &str) -> Option<Subaddress> {
        Some(match suffix {
            "bounces" => Subaddress::Bounces,
            "confirm" => Subaddress::Confirm,
            "join" | "subscribe" => Subaddress::Join,
            "leave" | "unsubscribe" => Subaddress::Leave,
            "owner" => Subaddress::Owner,
            "request" => Subaddress::Request,
            _ => return None,
        })
    }

    /// Mailman 3's canonical name (`msgdata['subaddress']`); `None` for a post.
    pub fn canonical_name(self) -> Option<&'static str> {
        Some(match self {
            Subaddress::Post => return None,
            Subaddress::Bounces => "bounces",
            Subaddress::Confirm => "confirm",
            Subaddress::Join => "join",
            Subaddress::Leave => "leave",
            Subaddress::Owner => "owner",
            Subaddress::Request => "request",
        })
    }

    /// Parses a canonical name back (the inverse of [`Subaddress::canonical_name`]).
    pub fn from_canonical_name(name: Option<&str>) -> Option<Subaddress> {
        match name {
            None => Some(Subaddress::Post),
            Some(n) => Subaddress::from_suffix(n).filter(|s| s.canonical_name() == Some(n)),
        }
    }
}

/// What the resolver needs to know about the configured domains and lists.
pub trait ListDirectory {
    /// If `domain` (lower-cased) is the `alias_domain` of a configured domain, that domain's
    /// mail host; otherwise `None`.
    fn mail_host_for_alias(&self, domain: &str) -> Option<DomainName>;
    /// Whether a list with this posting address exists.
    fn has_list(&self, list: &ListAddress) -> bool;
}

/// A recipient that is one of our list addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The list.
    pub list: ListAddress,
    /// Which of its addresses was used.
    pub subaddress: Subaddress,
    /// The text after the first `+` in the local part, if any (lower-cased).
    pub extension: Option<String>,
}

/// The recipient is not a list address (unknown list, domain or sub-address, or malformed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such list address: {0}")]
pub struct NotAListAddress(pub String);

/// Resolves an envelope recipient (without angle brackets) to a list address.
pub fn resolve(
    recipient: &str,
    directory: &impl ListDirectory,
) -> Result<Destination, NotAListAddress> {
    let unknown = || NotAListAddress(recipient.to_string());
    let address = recipient.trim().to_lowercase();
    let (local, domain) = address.split_once('@').ok_or_else(unknown)?;
    let domain = match directory.mail_host_for_alias(domain) {
        Some(host) => host,
        None => DomainName::parse(domain).map_err(|_| unknown())?,
    };
    let (local, extension) = match local.split_once('+') {
        Some((l, ext)) => (l, Some(ext.to_string())),
        None => (local, None),
    };
    let split = local
        .rsplit_once('-')
        .filter(|(prefix, _)| !prefix.is_empty())
        .and_then(|(prefix, suffix)| Some((prefix, Subaddress::from_suffix(suffix)?)));
    let (name, subaddress) = match split {
        Some((prefix, sub)) => {
            // A list whose own name ends in a suffix wins over the sub-address reading.
            let whole = ListName::parse(local)
                .ok()
                .map(|n| ListAddress::new(n, domain.clone()));
            match whole {
                Some(list) if directory.has_list(&list) => (local, Subaddress::Post),
                _ => (prefix, sub),
            }
        }
        None => (local, Subaddress::Post),
    };
    let list = ListAddress::new(ListName::parse(name).map_err(|_| unknown())?, domain);
    if !directory.has_list(&list) {
        return Err(unknown());
    }
    Ok(Destination {
        list,
        subaddress,
        extension,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    struct Dir {
        lists: HashSet<String>,
        aliases: HashMap<String, String>,
    }

    impl Dir {
        fn new(lists: &[&str]) -> Dir {
            Dir {
                lists: lists.iter().map(|s| s.to_string()).collect(),
                aliases: HashMap::new(),
            }
        }
    }

    impl ListDirectory for Dir {
        fn mail_host_for_alias(&self, domain: &str) -> Option<DomainName> {
            self.aliases
                .get(domain)
                .map(|d| DomainName::parse(d).unwrap())
        }
        fn has_list(&self, list: &ListAddress) -> bool {
            self.lists.contains(&list.to_string())
        }
    }

    fn check(dir: &Dir, rcpt: &str) -> Option<(String, Subaddress, Option<String>)> {
        resolve(rcpt, dir)
            .ok()
            .map(|d| (d.list.to_string(), d.subaddress, d.extension))
    }

    #[test]
    fn every_suffix_maps_to_its_canonical_subaddress() {
        let dir = Dir::new(&["test@example.com"]);
        let cases = [
            ("test@example.com", Subaddress::Post),
            ("test-bounces@example.com", Subaddress::Bounces),
            ("test-confirm@example.com", Subaddress::Confirm),
            ("test-join@example.com", Subaddress::Join),
            ("test-subscribe@example.com", Subaddress::Join),
            ("test-leave@example.com", Subaddress::Leave),
            ("test-unsubscribe@example.com", Subaddress::Leave),
            ("test-owner@example.com", Subaddress::Owner),
            ("test-request@example.com", Subaddress::Request),
        ];
        for (rcpt, sub) in cases {
            assert_eq!(
                check(&dir, rcpt),
                Some(("test@example.com".into(), sub, None)),
                "{rcpt}"
            );
        }
    }

    #[test]
    fn extensions_are_cut_at_the_first_plus() {
        let dir = Dir::new(&["test@example.com"]);
        assert_eq!(
            check(&dir, "test-bounces+anne=example.org@example.com"),
            Some((
                "test@example.com".into(),
                Subaddress::Bounces,
                Some("anne=example.org".into())
            ))
        );
        assert_eq!(
            check(&dir, "test+anything@example.com"),
            Some((
                "test@example.com".into(),
                Subaddress::Post,
                Some("anything".into())
            ))
        );
        assert_eq!(
            check(&dir, "test-confirm+ABC@example.com")
                .unwrap()
                .2
                .as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn unknown_lists_domains_and_suffixes_are_refused() {
        let dir = Dir::new(&["test@example.com"]);
        for rcpt in [
            "notalist@example.com",
            "test@x.example.com",
            "test-bogus@example.com",
            "test",
            "",
            "../test@example.com",
        ] {
            assert_eq!(check(&dir, rcpt), None, "{rcpt}");
        }
    }

    #[test]
    fn case_is_ignored() {
        let dir = Dir::new(&["my-list@example.com"]);
        assert_eq!(
            check(&dir, "My-LIST@Example.Com").unwrap().0,
            "my-list@example.com"
        );
    }

    #[test]
    fn alias_domain_maps_to_mail_host() {
        let mut dir = Dir::new(&["test@example.com"]);
        dir.aliases
            .insert("x.example.com".into(), "example.com".into());
        assert_eq!(
            check(&dir, "test@x.example.com").unwrap().0,
            "test@example.com"
        );
    }

    #[test]
    fn list_named_like_a_subaddress_wins() {
        let dir = Dir::new(&[
            "test@example.com",
            "test-join@example.com",
            "join@example.com",
            "-join@example.com",
        ]);
        assert_eq!(
            check(&dir, "test-join@example.com").unwrap().1,
            Subaddress::Post
        );
        assert_eq!(
            check(&dir, "test-join-join@example.com"),
            Some(("test-join@example.com".into(), Subaddress::Join, None))
        );
        assert_eq!(
            check(&dir, "join@example.com").unwrap(),
            ("join@example.com".into(), Subaddress::Post, None)
        );
        assert_eq!(
            check(&dir, "-join@example.com").unwrap(),
            ("-join@example.com".into(), Subaddress::Post, None)
        );
    }

    #[test]
    fn long_confirm_local_part_is_accepted() {
        let dir = Dir::new(&["longer_than_15_bytes@example.com"]);
        let rcpt = format!(
            "longer_than_15_bytes-confirm+{}@example.com",
            "x".repeat(40)
        );
        assert_eq!(check(&dir, &rcpt).unwrap().1, Subaddress::Confirm);
    }
}
