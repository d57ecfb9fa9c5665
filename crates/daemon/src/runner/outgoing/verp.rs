//! VERP: the envelope sender of each copy names its recipient, so that a bounce identifies the
//! failing member without parsing the DSN (protocols.md §3.4, mailman3.md §6).
//!
//! The format is Mailman 3's default `verp_format`, `$bounces+$local=$domain@$host`:
//! `ant-bounces+anne=example.com@lists.example.org`. When a recipient cannot be encoded safely
//! ([`verp_sender`] returns `None`) the copy goes out with the plain `-bounces` address and
//! the bounce runner falls back to reading the DSN, as Mailman does for unqualified addresses.
//! This module only builds addresses; whether a job uses VERP is decided in `mode`, and
//! decoding belongs to the bounce runner.

use mailcast_model::ListAddress;

/// The longest local part RFC 5321 §4.5.3.1.1 lets a server insist on.
const MAX_LOCAL_PART: usize = 64;

/// The VERP envelope sender for a copy of `list`'s mail to `rcpt`, or `None` when the
/// recipient's address cannot be carried in a local part: it has no domain, its local part is
/// not a plain dot-atom (quoted strings, spaces, `@`), or the result would exceed 64 octets.
pub fn verp_sender(list: &ListAddress, rcpt: &str) -> Option<String> {
    let (local, domain) = rcpt.rsplit_once('@')?;
    if domain.is_empty() || !is_dot_atom(local) || !is_dot_atom(domain) {
        return None;
    }
    let verp_local = format!("{}-bounces+{local}={domain}", list.name());
    (verp_local.len() <= MAX_LOCAL_PART).then(|| format!("{verp_local}@{}", list.domain()))
}

/// RFC 5322 dot-atom (with RFC 6531's UTF-8 letters): atext runs separated by single dots.
fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_mailman_style_or_declines() {
        let list = ListAddress::parse("ant@lists.example.org").unwrap();
        for (rcpt, expected) in [
            (
                "anne@example.com",
                Some("ant-bounces+anne=example.com@lists.example.org"),
            ),
            (
                "Anne.Lee+tag@Example.COM",
                Some("ant-bounces+Anne.Lee+tag=Example.COM@lists.example.org"),
            ),
            (
                "jörg@example.de",
                Some("ant-bounces+jörg=example.de@lists.example.org"),
            ),
            ("unqualified", None),
            ("\"odd local\"@example.com", None),
            ("a..b@example.com", None),
            (".a@example.com", None),
            ("a@", None),
            ("a@b@example.com", None),
            (
                "a-very-long-local-part-that-really-does-not-fit@example.com",
                None,
            ),
        ] {
            assert_eq!(verp_sender(&list, rcpt).as_deref(), expected, "{rcpt}");
        }
    }

    #[test]
    fn the_limit_is_sixty_four_octets_of_local_part() {
        let list = ListAddress::parse("l@h.org").unwrap();
        // "l-bounces+" (10) + local + "=" (1) + "x.org" (5) = 64 exactly.
        let fits = format!("{}@x.org", "a".repeat(48));
        let local = verp_sender(&list, &fits).unwrap();
        assert_eq!(local.split('@').next().unwrap().len(), 64);
        assert!(verp_sender(&list, &format!("{}@x.org", "a".repeat(49))).is_none());
    }
}
