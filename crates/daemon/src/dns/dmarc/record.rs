//! Reading the TXT record set at one `_dmarc` name: pure, no DNS (mailman3-more.md §3.2 step 4).
//!
//! A string counts as a DMARC record when it starts with the version tag `v=DMARC1` and a `;`.
//! RFC 7489 §6.4 allows whitespace around the `=` and before the `;` (`v=DMARC1 ; p=reject`);
//! Mailman misses those records, mailcast reads them. The version value itself is matched
//! exactly (§6.3: "MUST match precisely"). Tag names are case-insensitive, values are
//! compared in lower case.

/// What one name's TXT record set says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSet {
    /// No string at this name is a DMARC record: keep looking.
    None,
    /// More than one DMARC record: RFC 7489 §6.6.3 says to apply no policy.
    Several(usize),
    /// Exactly one DMARC record.
    One {
        /// The `p=` value, lower case (empty when the tag is absent).
        p: String,
        /// The `sp=` value, lower case, when present.
        sp: Option<String>,
        /// The record as published, for the log.
        text: String,
    },
}

impl RecordSet {
    /// Reads the strings of one TXT answer (each record's character-strings already joined).
    pub fn read<T: AsRef<[u8]>>(txts: &[T]) -> RecordSet {
        let records: Vec<&[u8]> = txts
            .iter()
            .map(AsRef::as_ref)
            .filter(|t| is_dmarc_record(t))
            .collect();
        match records.as_slice() {
            [] => RecordSet::None,
            [one] => {
                let text = String::from_utf8_lossy(one).into_owned();
                RecordSet::One {
                    p: tag(&text, "p").unwrap_or_default(),
                    sp: tag(&text, "sp"),
                    text,
                }
            }
            several => RecordSet::Several(several.len()),
        }
    }

    /// The policy that applies to a From domain below this name: `sp=` wins over `p=` when the
    /// name is the organizational domain's and the tag is present.
    pub fn policy(&self, organizational: bool) -> Option<&str> {
        match self {
            RecordSet::One { p, sp, .. } => Some(match (organizational, sp) {
                (true, Some(sp)) => sp.as_str(),
                _ => p.as_str(),
            }),
            _ => None,
        }
    }
}

/// Whether a TXT string is a DMARC record: `v` *WSP `=` *WSP `DMARC1` *WSP `;`.
pub fn is_dmarc_record(txt: &[u8]) -> bool {
    let rest = txt.strip_prefix(b"v").map(skip_wsp);
    let rest = rest.and_then(|r| r.strip_prefix(b"=")).map(skip_wsp);
    let rest = rest.and_then(|r| r.strip_prefix(b"DMARC1")).map(skip_wsp);
    rest.is_some_and(|r| r.starts_with(b";"))
}

fn skip_wsp(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    &bytes[n..]
}

/// The value of tag `name` (lower case, trimmed), the first occurrence.
fn tag(record: &str, name: &str) -> Option<String> {
    record.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tag() {
        for good in [
            "v=DMARC1; p=reject",
            "v=DMARC1;p=none",
            "v = DMARC1 ; p=reject",
            "v=DMARC1\t;",
        ] {
            assert!(is_dmarc_record(good.as_bytes()), "{good}");
        }
        for bad in [
            "v=DMARC1",
            "v=dmarc1; p=reject",
            "v=DMARC10; p=reject",
            " v=DMARC1; p=reject",
            "v=spf1 -all",
            "p=reject; v=DMARC1;",
            "",
        ] {
            assert!(!is_dmarc_record(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn record_sets() {
        let one = RecordSet::read(&["v=spf1 -all", "v=DMARC1; P=Reject ; sp = none; rua=x"]);
        assert_eq!(one.policy(false), Some("reject"));
        assert_eq!(one.policy(true), Some("none"));
        let no_sp = RecordSet::read(&["v=DMARC1; p=quarantine"]);
        assert_eq!(no_sp.policy(true), Some("quarantine"));
        let no_p = RecordSet::read(&["v=DMARC1; rua=mailto:x@example.org"]);
        assert_eq!(no_p.policy(false), Some(""));
        assert_eq!(RecordSet::read(&["v=spf1 -all"]), RecordSet::None);
        assert_eq!(RecordSet::read::<&str>(&[]), RecordSet::None);
        assert_eq!(
            RecordSet::read(&["v=DMARC1; p=reject", "v=DMARC1; p=none"]),
            RecordSet::Several(2)
        );
    }
}
