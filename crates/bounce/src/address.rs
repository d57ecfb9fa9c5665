//! What counts as a reported address and how it is normalised: angle brackets, `mailto:` and
//! `SMTP:` prefixes and trailing punctuation go, the domain is lower-cased, and RFC 6533
//! `\x{HHHH}` escapes are resolved for the `utf-8` address type.
//!
//! The test is deliberately strict: one `@`, a local part without spaces, brackets or quotes,
//! and a domain of letters, digits, `-` and `.` (or UTF-8 letters) with at least one dot.
//! Unqualified names (`<postmaster>`), quoted local parts and address literals are refused,
//! so a sentence fragment never becomes a "recipient".

/// The longest address accepted (RFC 5321 path limit).
const MAX_ADDRESS: usize = 254;

/// Normalises an address as a report prints it (`<Anne@Example.NET>`,
/// `anne@example.net<mailto:anne@example.net>`, `SMTP:anne@example.net`, `anne@example.net:`),
/// or `None` when the text is not one plain address.
pub(crate) fn clean(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    // `Name <addr>`, `addr<mailto:addr>`, `<addr>:`: the first bracketed part that holds an @.
    if let Some(open) = s.find('<') {
        let inner = &s[open + 1..];
        let close = inner.find('>')?;
        let inside = &inner[..close];
        if inside.contains('@') {
            s = inside;
        } else if open > 0 {
            s = &s[..open];
        } else {
            return None;
        }
    }
    s = s.trim();
    for prefix in ["mailto:", "smtp:", "rfc822;"] {
        if s.len() > prefix.len()
            && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        {
            s = s[prefix.len()..].trim_start();
        }
    }
    s = s.trim_start_matches(['(', '[', '"', '\'']);
    s = s.trim_end_matches([':', ';', ',', '.', ')', ']', '"', '\'']);
    valid(s).then(|| lower_domain(s))
}

/// Decodes RFC 6533 `utf-8-addr-xtext` / `utf-8-addr-unitext`: each `\x{HHHH}` (2 to 6 hex
/// digits) becomes its character. Malformed escapes are kept as they are.
pub(crate) fn decode_utf8_escapes(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("\\x{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let decoded = after.find('}').and_then(|end| {
            let hex = &after[..end];
            let ok = (2..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
            let c = u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| ok)
                .and_then(char::from_u32)?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push_str("\\x{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn valid(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    s.len() <= MAX_ADDRESS
        && !local.is_empty()
        && local.chars().all(local_char)
        && !local.starts_with('.')
        && valid_domain(domain)
}

fn local_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:@\"".contains(c)
}

fn valid_domain(domain: &str) -> bool {
    domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

fn lower_domain(s: &str) -> String {
    let at = s.rfind('@').unwrap_or(s.len());
    let (local, domain) = s.split_at(at);
    let mut out = String::with_capacity(s.len());
    out.push_str(local);
    out.push_str(&domain.to_lowercase());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_reported_forms() {
        for (raw, expected) in [
            ("anne@example.net", Some("anne@example.net")),
            ("<Anne.Lee@Example.NET>", Some("Anne.Lee@example.net")),
            ("<anne@example.net>:", Some("anne@example.net")),
            ("anne@example.net:", Some("anne@example.net")),
            (
                "anne@example.net<mailto:anne@example.net>",
                Some("anne@example.net"),
            ),
            ("\"Anne Lee\" <anne@example.net>", Some("anne@example.net")),
            ("SMTP:anne@example.net", Some("anne@example.net")),
            ("rfc822;anne@example.net", Some("anne@example.net")),
            ("(anne@example.net)", Some("anne@example.net")),
            ("jörg@Exämple.NET", Some("jörg@exämple.net")),
            ("anne+list@example.net.", Some("anne+list@example.net")),
            ("<postmaster>", None),
            ("postmaster", None),
            ("anne@localhost", None),
            ("\"odd local\"@example.net", None),
            ("anne@[192.0.2.1]", None),
            ("two words@example.net", None),
            ("a@b@example.net", None),
            ("@example.net", None),
            ("anne@example..net", None),
            ("<>", None),
            ("", None),
        ] {
            assert_eq!(clean(raw).as_deref(), expected, "{raw:?}");
        }
    }

    #[test]
    fn decodes_rfc6533_escapes() {
        for (raw, expected) in [
            ("j\\x{F6}rg@example.net", "jörg@example.net"),
            ("j\\x{00F6}rg@example.net", "jörg@example.net"),
            ("\\x{7528}\\x{6237}@example.org", "用户@example.org"),
            ("a\\x{2B}b@example.org", "a+b@example.org"),
            ("plain@example.org", "plain@example.org"),
            ("bad\\x{ZZ}@example.org", "bad\\x{ZZ}@example.org"),
            ("cut\\x{00F6", "cut\\x{00F6"),
            (
                "surrogate\\x{D800}@example.org",
                "surrogate\\x{D800}@example.org",
            ),
        ] {
            assert_eq!(decode_utf8_escapes(raw), expected, "{raw:?}");
        }
    }
}
