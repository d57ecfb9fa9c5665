//! VERP: the envelope sender of each copy names its recipient, so that a bounce identifies the
//! failing member without parsing the report (protocols.md §3.4, mailman3.md §6 and §7.2).
//!
//! The member format is Mailman 3's default `verp_format`, `$bounces+$local=$domain@$host`:
//! `ant-bounces+anne=example.com@lists.example.org` ([`encode`]). When a recipient cannot be
//! carried safely, `encode` returns `None`: the copy goes out with the plain `-bounces`
//! address and the bounce is identified by [`analyse`](crate::analyse) alone, as Mailman does
//! for unqualified addresses. The probe format is `<list>-bounces+<token>@<domain>`
//! ([`encode_probe`]), the token being a pending request's 40 hex characters. [`decode`]
//! reverses both.

use mailcast_model::ListAddress;

/// The longest local part RFC 5321 §4.5.3.1.1 lets a server insist on.
const MAX_LOCAL_PART: usize = 64;
/// The length of a probe token (Mailman's SHA-1 hex tokens).
const TOKEN_LEN: usize = 40;

/// What a VERP envelope recipient names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verp {
    /// A member's address, `anne@example.com` (its domain lower-cased).
    Member(String),
    /// A probe's token, 40 lower-case hex characters.
    Probe(String),
}

/// Mailman 3's default verp_format `$bounces+$local=$domain@$host`; None when the recipient
/// cannot be carried safely: it has no domain, its local part is not a plain dot-atom (quoted
/// strings, spaces, `@`), or the result would exceed 64 octets of local part.
pub fn encode(list: &ListAddress, rcpt: &str) -> Option<String> {
    let (local, domain) = rcpt.rsplit_once('@')?;
    if domain.is_empty() || !is_dot_atom(local) || !is_dot_atom(domain) {
        return None;
    }
    let verp_local = format!("{}-bounces+{local}={domain}", list.name());
    (verp_local.len() <= MAX_LOCAL_PART).then(|| format!("{verp_local}@{}", list.domain()))
}

/// Mailman's probe format: `<list>-bounces+<token>@<domain>` (token = 40 lower-case hex chars).
pub fn encode_probe(list: &ListAddress, token: &str) -> String {
    format!("{}-bounces+{token}@{}", list.name(), list.domain())
}

/// Decodes an envelope recipient such as `ant-bounces+anne=example.com@lists.example.org`
/// (case-insensitive on the list part and domain); None for the plain -bounces address or
/// anything not of this list. Member when the suffix has a `=` (split at the LAST `=`), Probe
/// when it is 40 hex chars; anything else None.
pub fn decode(list: &ListAddress, recipient: &str) -> Option<Verp> {
    let recipient = recipient.trim();
    let recipient = recipient
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(recipient);
    let (local, domain) = recipient.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(list.domain().as_str()) {
        return None;
    }
    let prefix = format!("{}-bounces+", list.name());
    let head = local.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(&prefix) {
        return None;
    }
    let suffix = &local[prefix.len()..];
    if let Some((member_local, member_domain)) = suffix.rsplit_once('=') {
        let valid = is_dot_atom(member_local) && is_dot_atom(member_domain);
        return valid
            .then(|| Verp::Member(format!("{member_local}@{}", member_domain.to_lowercase())));
    }
    (suffix.len() == TOKEN_LEN && suffix.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Verp::Probe(suffix.to_ascii_lowercase()))
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

    fn list() -> ListAddress {
        ListAddress::parse("ant@lists.example.org").unwrap()
    }

    #[test]
    fn encodes_mailman_style_or_declines() {
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
            assert_eq!(encode(&list(), rcpt).as_deref(), expected, "{rcpt}");
        }
    }

    #[test]
    fn the_limit_is_sixty_four_octets_of_local_part() {
        let list = ListAddress::parse("l@h.org").unwrap();
        // "l-bounces+" (10) + local + "=" (1) + "x.org" (5) = 64 exactly.
        let fits = format!("{}@x.org", "a".repeat(48));
        let local = encode(&list, &fits).unwrap();
        assert_eq!(local.split('@').next().unwrap().len(), 64);
        assert!(encode(&list, &format!("{}@x.org", "a".repeat(49))).is_none());
    }

    #[test]
    fn encodes_probes() {
        let token = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            encode_probe(&list(), token),
            format!("ant-bounces+{token}@lists.example.org")
        );
    }

    #[test]
    fn decodes_members_and_probes() {
        let token = "0123456789abcdef0123456789abcdef01234567";
        let member = |s: &str| Some(Verp::Member(s.to_string()));
        let rows: Vec<(String, Option<Verp>)> = vec![
            (
                "ant-bounces+anne=example.com@lists.example.org".into(),
                member("anne@example.com"),
            ),
            (
                "ANT-Bounces+anne=Example.COM@Lists.Example.ORG".into(),
                member("anne@example.com"),
            ),
            (
                "<ant-bounces+anne=example.com@lists.example.org>".into(),
                member("anne@example.com"),
            ),
            (
                "ant-bounces+Anne.Lee+tag=example.com@lists.example.org".into(),
                member("Anne.Lee+tag@example.com"),
            ),
            // Split at the last `=`: the local part may hold one.
            (
                "ant-bounces+a=b=example.com@lists.example.org".into(),
                member("a=b@example.com"),
            ),
            (
                "ant-bounces+jörg=example.de@lists.example.org".into(),
                member("jörg@example.de"),
            ),
            (
                format!("ant-bounces+{token}@lists.example.org"),
                Some(Verp::Probe(token.into())),
            ),
            (
                format!("ant-bounces+{}@lists.example.org", token.to_uppercase()),
                Some(Verp::Probe(token.into())),
            ),
            ("ant-bounces@lists.example.org".into(), None),
            ("ant-bounces+@lists.example.org".into(), None),
            ("ant-bounces+anne=@lists.example.org".into(), None),
            ("ant-bounces+=example.com@lists.example.org".into(), None),
            ("ant-bounces+0123@lists.example.org".into(), None),
            (
                format!("ant-bounces+{}x@lists.example.org", &token[..39]),
                None,
            ),
            (
                "bee-bounces+anne=example.com@lists.example.org".into(),
                None,
            ),
            (
                "ant-bounces+anne=example.com@other.example.org".into(),
                None,
            ),
            ("ant+anne=example.com@lists.example.org".into(), None),
            ("ant-bounces+anne=example.com".into(), None),
            ("".into(), None),
        ];
        for (recipient, expected) in rows {
            assert_eq!(decode(&list(), &recipient), expected, "{recipient}");
        }
    }

    #[test]
    fn decode_reverses_encode() {
        for rcpt in [
            "anne@example.com",
            "Anne.Lee+tag@example.com",
            "x=y@example.net",
        ] {
            let verp = encode(&list(), rcpt).unwrap();
            assert_eq!(decode(&list(), &verp), Some(Verp::Member(rcpt.to_string())));
        }
    }
}
