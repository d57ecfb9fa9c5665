//! `[dkim."<list domain>"]`: the keys outgoing mail is signed with, one table per list domain
//! (`selector`, `key`, optional `headers`). Only paths and names are checked here; the key
//! files are read when the daemon starts ([`crate::dkim::Signers::load`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Deserialize;

/// One `[dkim."<domain>"]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDkimKey {
    pub selector: String,
    pub key: String,
    #[serde(default)]
    pub headers: Option<Vec<String>>,
}

/// The signing key of one list domain, validated (the file is not read yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKeySettings {
    /// The `s=` tag: `<selector>._domainkey.<domain>` holds the public key.
    pub selector: String,
    /// The PEM private key (RSA or Ed25519), relative paths resolved against the config file.
    pub key: PathBuf,
    /// The headers to sign instead of the defaults, when given.
    pub headers: Option<Vec<String>>,
}

/// The signing keys by list domain (lower case); empty when no list domain signs.
pub type DkimSettings = BTreeMap<String, DkimKeySettings>;

/// Validates the tables: domain names, selectors and header names must be usable as they are.
pub fn dkim_settings(
    raw: &BTreeMap<String, RawDkimKey>,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<DkimSettings> {
    let mut out = DkimSettings::new();
    for (domain, table) in raw {
        let key = format!("dkim.\"{domain}\"");
        if mailcast_model::DomainName::parse(domain).is_err() {
            bail!("key `{key}`: {domain:?} is not a domain name");
        }
        if !is_label_list(&table.selector) {
            bail!(
                "key `{key}.selector`: {:?} is not a DNS selector (letters, digits, '-', '.')",
                table.selector
            );
        }
        if table.key.trim().is_empty() {
            bail!("key `{key}.key`: the path of the private key is empty");
        }
        if let Some(headers) = &table.headers {
            if !headers.iter().any(|h| h.eq_ignore_ascii_case("from")) {
                bail!("key `{key}.headers`: must name From (RFC 6376 §5.4)");
            }
            if let Some(bad) = headers.iter().find(|h| !is_field_name(h)) {
                bail!("key `{key}.headers`: {bad:?} is not a header field name");
            }
        }
        let previous = out.insert(
            domain.to_ascii_lowercase(),
            DkimKeySettings {
                selector: table.selector.clone(),
                key: resolve(&table.key),
                headers: table.headers.clone(),
            },
        );
        if previous.is_some() {
            bail!("key `{key}`: the domain is configured twice (domains are case-insensitive)");
        }
    }
    Ok(out)
}

/// The default key path of `mailcast dkim keygen`: `<var_dir>/dkim/<domain>.<selector>.key`.
pub fn default_key_path(var_dir: &Path, domain: &str, selector: &str) -> PathBuf {
    var_dir
        .join("dkim")
        .join(format!("{domain}.{selector}.key"))
}

/// Whether `s` is dot-separated labels of letters, digits and inner hyphens.
pub fn is_label_list(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// RFC 5322 field names: printable ASCII except ':'.
fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(selector: &str, headers: Option<Vec<&str>>) -> BTreeMap<String, RawDkimKey> {
        BTreeMap::from([(
            "lists.example.org".to_string(),
            RawDkimKey {
                selector: selector.into(),
                key: "var/dkim/k.key".into(),
                headers: headers.map(|h| h.into_iter().map(String::from).collect()),
            },
        )])
    }

    #[test]
    fn paths_resolve_and_names_are_checked() {
        let resolve = |p: &str| Path::new("/etc/mailcast").join(p);
        let ok = dkim_settings(&raw("mc1", None), &resolve).unwrap();
        assert_eq!(
            ok["lists.example.org"].key,
            Path::new("/etc/mailcast/var/dkim/k.key")
        );
        let err = dkim_settings(&raw("bad selector", None), &resolve).unwrap_err();
        assert!(err.to_string().contains("selector"), "{err}");
        let err = dkim_settings(&raw("mc1", Some(vec!["Subject"])), &resolve).unwrap_err();
        assert!(err.to_string().contains("must name From"), "{err}");
        let err = dkim_settings(&raw("mc1", Some(vec!["From", "Bad:Name"])), &resolve).unwrap_err();
        assert!(err.to_string().contains("Bad:Name"), "{err}");
    }

    #[test]
    fn default_key_path_names_domain_and_selector() {
        assert_eq!(
            default_key_path(Path::new("/srv/var"), "lists.example.org", "mc1"),
            Path::new("/srv/var/dkim/lists.example.org.mc1.key")
        );
    }
}
