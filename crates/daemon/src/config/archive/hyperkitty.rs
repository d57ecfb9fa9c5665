//! `[archiver.hyperkitty]`: where HyperKitty is and how to reach it. The keys are those of
//! Mailman's `mailman-hyperkitty.cfg` (`base_url`, `api_key`), with `enable` from
//! `[archiver.hyperkitty]` itself, plus mailcast's own: `public_url` (the address readers use,
//! for `List-Archive` and `Archived-At`, when it is not `base_url`), `timeout_seconds` (one
//! attempt) and `max_attempts` (before a post that HyperKitty keeps failing is shunted).

use std::time::Duration;

use anyhow::{Context, bail};
use hyper::Uri;
use serde::Deserialize;

/// `[archiver.hyperkitty]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHyperKitty {
    pub enable: bool,
    pub base_url: String,
    pub api_key: String,
    pub public_url: Option<String>,
    pub timeout_seconds: u64,
    pub max_attempts: u64,
}

impl Default for RawHyperKitty {
    fn default() -> Self {
        RawHyperKitty {
            enable: false,
            base_url: "http://localhost/hyperkitty/".into(),
            api_key: String::new(),
            public_url: None,
            timeout_seconds: 10,
            // With the runners' backoff (10 s doubling to 10 min), about a day.
            max_attempts: 150,
        }
    }
}

/// The HyperKitty archiver's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyperKittySettings {
    /// Where HyperKitty's archiving API is: `<base_url>api/mailman/archive`; ends with `/`.
    pub base_url: String,
    /// HyperKitty's `MAILMAN_ARCHIVER_KEY`, sent as `Authorization: Token <api_key>`.
    pub api_key: String,
    /// The archive's address for readers (`List-Archive`, `Archived-At`); ends with `/`.
    pub public_url: String,
    /// How long one attempt to archive a post may take.
    pub timeout: Duration,
    /// Attempts before a post HyperKitty keeps failing is shunted (`mailcast queue retry`).
    pub max_attempts: u32,
}

impl HyperKittySettings {
    /// The settings if the section enables HyperKitty; its URLs and key must then be usable.
    pub fn from_raw(raw: &RawHyperKitty) -> anyhow::Result<Option<HyperKittySettings>> {
        if !raw.enable {
            return Ok(None);
        }
        let base_url = http_url(&raw.base_url).context("key `archiver.hyperkitty.base_url`")?;
        let public_url = match &raw.public_url {
            Some(url) => http_url(url).context("key `archiver.hyperkitty.public_url`")?,
            None => base_url.clone(),
        };
        let api_key = raw.api_key.trim();
        if api_key.is_empty() {
            bail!(
                "key `archiver.hyperkitty.api_key`: must be set to HyperKitty's MAILMAN_ARCHIVER_KEY"
            );
        }
        if !api_key.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("key `archiver.hyperkitty.api_key`: only visible ASCII characters, no spaces");
        }
        if raw.timeout_seconds == 0 || raw.max_attempts == 0 {
            bail!(
                "keys `archiver.hyperkitty.timeout_seconds` and `max_attempts`: must be greater than 0"
            );
        }
        Ok(Some(HyperKittySettings {
            base_url,
            api_key: api_key.to_string(),
            public_url,
            timeout: Duration::from_secs(raw.timeout_seconds),
            max_attempts: u32::try_from(raw.max_attempts).unwrap_or(u32::MAX),
        }))
    }
}

/// An absolute `http:` or `https:` URL with a host and no query, ending with `/` (added if
/// missing, as mailman-hyperkitty does).
fn http_url(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    let uri: Uri = text
        .parse()
        .map_err(|e| anyhow::anyhow!("{text:?} is not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => bail!("{text:?} is not an http: or https: URL"),
    }
    if uri.host().is_none_or(str::is_empty) {
        bail!("{text:?} has no host");
    }
    if uri.query().is_some() || text.contains('#') {
        bail!("{text:?} must not have a query or fragment");
    }
    let mut url = text.to_string();
    if !url.ends_with('/') {
        url.push('/');
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(base_url: &str) -> RawHyperKitty {
        RawHyperKitty {
            enable: true,
            base_url: base_url.into(),
            api_key: "k3y".into(),
            ..RawHyperKitty::default()
        }
    }

    #[test]
    fn urls_are_checked_and_end_with_a_slash() {
        let s = HyperKittySettings::from_raw(&raw("https://lists.example.com/hyperkitty"))
            .unwrap()
            .unwrap();
        assert_eq!(s.base_url, "https://lists.example.com/hyperkitty/");
        assert_eq!(s.public_url, s.base_url);
        assert_eq!(s.timeout, Duration::from_secs(10));
        for bad in [
            "lists.example.com/hyperkitty/",
            "ftp://x/",
            "http:///x",
            "http://x/?a=1",
            "not a url",
        ] {
            let e = format!("{:#}", HyperKittySettings::from_raw(&raw(bad)).unwrap_err());
            assert!(e.contains("archiver.hyperkitty.base_url"), "{bad}: {e}");
        }
        let off = RawHyperKitty {
            base_url: "nonsense".into(),
            ..RawHyperKitty::default()
        };
        assert_eq!(HyperKittySettings::from_raw(&off).unwrap(), None);
        let mut no_key = raw("http://127.0.0.1:8020/hyperkitty/");
        no_key.api_key = " ".into();
        let e = HyperKittySettings::from_raw(&no_key)
            .unwrap_err()
            .to_string();
        assert!(e.contains("api_key"), "{e}");
        let mut public = raw("http://127.0.0.1:8020/hyperkitty/");
        public.public_url = Some("https://lists.example.com/archives".into());
        let s = HyperKittySettings::from_raw(&public).unwrap().unwrap();
        assert_eq!(s.public_url, "https://lists.example.com/archives/");
    }
}
