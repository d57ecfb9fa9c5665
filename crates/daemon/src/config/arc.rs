//! `[arc]`: Mailman's `[ARC]` site settings. One switch (`enabled`) for both halves: the
//! validation of every message that arrives (`dkim`, `dmarc` choose what it checks besides
//! the ARC chain; `trusted_authserv_ids` whose `Authentication-Results` are kept) and the
//! seal on the copies that go out (`domain`, `selector`, `key`: an RSA key, `sig_headers`).
//! Only names and paths are checked here; the key file is read when the daemon starts
//! ([`crate::arc::ArcSite::load`]).

use std::path::PathBuf;

use anyhow::bail;
use serde::Deserialize;

use super::dkim::is_label_list;

/// The headers `ARC-Message-Signature` covers when the config names none (Mailman's
/// `[ARC] sig_headers` default, RFC 6376 §5.4.1's list and the RFC 2369 headers).
pub const DEFAULT_SIG_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
];

/// `[arc]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawArc {
    pub enabled: bool,
    pub authserv_id: String,
    pub trusted_authserv_ids: Vec<String>,
    pub domain: String,
    pub selector: String,
    pub key: String,
    pub sig_headers: Option<Vec<String>>,
    pub dkim: bool,
    pub dmarc: bool,
}

impl Default for RawArc {
    fn default() -> RawArc {
        RawArc {
            enabled: false,
            authserv_id: String::new(),
            trusted_authserv_ids: Vec::new(),
            domain: String::new(),
            selector: String::new(),
            key: String::new(),
            sig_headers: None,
            dkim: true,
            dmarc: true,
        }
    }
}

/// `[arc]`, validated; `None` in [`super::Settings`] when ARC is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSettings {
    /// The authserv-id of our `Authentication-Results` and ARC sets.
    pub authserv_id: String,
    /// Upstream authserv-ids whose `Authentication-Results` are kept (lower case).
    pub trusted_authserv_ids: Vec<String>,
    /// The `d=` of the seals.
    pub domain: String,
    /// The `s=`: `<selector>._domainkey.<domain>` holds the public key.
    pub selector: String,
    /// The PEM private key (RSA: ARC seals are rsa-sha256), relative paths resolved against
    /// the config file.
    pub key: PathBuf,
    /// The headers `ARC-Message-Signature` covers; From is always among them.
    pub sig_headers: Vec<String>,
    /// Whether validation checks the DKIM signatures.
    pub dkim: bool,
    /// Whether validation checks the author domain's DMARC policy.
    pub dmarc: bool,
}

/// Validates `[arc]`: every required key of an enabled table, names usable as they are.
pub fn arc_settings(
    raw: &RawArc,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<Option<ArcSettings>> {
    if !raw.enabled {
        return Ok(None);
    }
    let authserv_id = raw.authserv_id.trim();
    if authserv_id.is_empty() {
        bail!(
            "key `arc.authserv_id`: required when ARC is enabled (the name our Authentication-Results carry)"
        );
    }
    if !is_authserv_id(authserv_id) {
        bail!(
            "key `arc.authserv_id`: {authserv_id:?} is not a token (no spaces, ';', '(' or quotes)"
        );
    }
    let mut trusted = Vec::with_capacity(raw.trusted_authserv_ids.len());
    for id in &raw.trusted_authserv_ids {
        let id = id.trim();
        if !is_authserv_id(id) {
            bail!("key `arc.trusted_authserv_ids`: {id:?} is not an authserv-id");
        }
        if id.eq_ignore_ascii_case(authserv_id) {
            bail!(
                "key `arc.trusted_authserv_ids`: {id:?} is our own authserv_id; results claiming it \
                 are never trusted"
            );
        }
        trusted.push(id.to_ascii_lowercase());
    }
    if raw.domain.trim().is_empty() {
        bail!("key `arc.domain`: required when ARC is enabled (the d= of the seals)");
    }
    if mailcast_model::DomainName::parse(raw.domain.trim()).is_err() {
        bail!("key `arc.domain`: {:?} is not a domain name", raw.domain);
    }
    if !is_label_list(&raw.selector) {
        bail!(
            "key `arc.selector`: {:?} is not a DNS selector (letters, digits, '-', '.')",
            raw.selector
        );
    }
    if raw.key.trim().is_empty() {
        bail!("key `arc.key`: required when ARC is enabled (the PEM private key of the seals)");
    }
    let sig_headers = match &raw.sig_headers {
        None => DEFAULT_SIG_HEADERS.iter().map(|h| h.to_string()).collect(),
        Some(names) => sig_headers(names)?,
    };
    Ok(Some(ArcSettings {
        authserv_id: authserv_id.to_string(),
        trusted_authserv_ids: trusted,
        domain: raw.domain.trim().to_ascii_lowercase(),
        selector: raw.selector.clone(),
        key: resolve(&raw.key),
        sig_headers,
        dkim: raw.dkim,
        dmarc: raw.dmarc,
    }))
}

/// The configured names, From forced in (as Mailman does), each a field name, none an
/// `ARC-Seal` (RFC 8617 §4.1.2).
fn sig_headers(names: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(names.len() + 1);
    for name in names {
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
            bail!("key `arc.sig_headers`: {name:?} is not a header field name");
        }
        if name.eq_ignore_ascii_case("ARC-Seal") {
            bail!("key `arc.sig_headers`: ARC-Seal must not be signed (RFC 8617 §4.1.2)");
        }
        if !out.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    }
    if !out.iter().any(|h| h.eq_ignore_ascii_case("From")) {
        out.insert(0, "From".into());
    }
    Ok(out)
}

/// An authserv-id as it can stand unquoted in `Authentication-Results` (RFC 8601 §2.2):
/// printable ASCII without the characters that end it (`;`, comments, quotes).
pub fn is_authserv_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (33..=126).contains(&b) && !b"();\"\\".contains(&b))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn enabled() -> RawArc {
        RawArc {
            enabled: true,
            authserv_id: "lists.example.org".into(),
            trusted_authserv_ids: vec!["MX.example.org".into()],
            domain: "example.org".into(),
            selector: "arc1".into(),
            key: "var/arc/arc1.key".into(),
            ..RawArc::default()
        }
    }

    fn error(raw: RawArc) -> String {
        arc_settings(&raw, &|p| Path::new("/etc/mailcast").join(p))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn off_by_default_and_nothing_is_required_then() {
        assert_eq!(
            arc_settings(&RawArc::default(), &|p| PathBuf::from(p)).unwrap(),
            None
        );
    }

    #[test]
    fn an_enabled_table_is_resolved_with_mailmans_defaults() {
        let ok = arc_settings(&enabled(), &|p| Path::new("/etc/mailcast").join(p))
            .unwrap()
            .unwrap();
        assert_eq!(ok.key, Path::new("/etc/mailcast/var/arc/arc1.key"));
        assert_eq!(ok.trusted_authserv_ids, ["mx.example.org"]);
        assert_eq!(ok.sig_headers.len(), DEFAULT_SIG_HEADERS.len());
        assert!(ok.dkim && ok.dmarc);
        let mut raw = enabled();
        raw.sig_headers = Some(vec!["Subject".into(), "To".into(), "subject".into()]);
        let ok = arc_settings(&raw, &|p| PathBuf::from(p)).unwrap().unwrap();
        assert_eq!(
            ok.sig_headers,
            ["From", "Subject", "To"],
            "From forced in, once each"
        );
    }

    #[test]
    fn every_error_names_its_key() {
        let mut raw = enabled();
        raw.authserv_id = " ".into();
        assert!(error(raw).starts_with("key `arc.authserv_id`: required"));
        let mut raw = enabled();
        raw.authserv_id = "two words".into();
        assert!(error(raw).starts_with("key `arc.authserv_id`"));
        let mut raw = enabled();
        raw.trusted_authserv_ids = vec!["lists.example.org".into()];
        assert!(error(raw).contains("our own authserv_id"));
        let mut raw = enabled();
        raw.domain = String::new();
        assert!(error(raw).starts_with("key `arc.domain`: required"));
        let mut raw = enabled();
        raw.selector = "bad selector".into();
        assert!(error(raw).starts_with("key `arc.selector`"));
        let mut raw = enabled();
        raw.key = String::new();
        assert!(error(raw).starts_with("key `arc.key`: required"));
        let mut raw = enabled();
        raw.sig_headers = Some(vec!["From".into(), "ARC-Seal".into()]);
        assert!(error(raw).starts_with("key `arc.sig_headers`"));
        let mut raw = enabled();
        raw.sig_headers = Some(vec!["Bad:Name".into()]);
        assert!(error(raw).contains("Bad:Name"));
    }
}
