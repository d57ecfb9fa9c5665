//! `[rest]` and `[web]`, validated: where the REST API and the public one-click endpoint
//! listen, and the REST API's credentials.
//!
//! The REST API administers everything, so it refuses to listen beyond loopback with the
//! default password or an empty one. The `[web]` endpoint is public by design and needs no
//! credentials; its tokens are signed with a key kept in the data directory.

use std::net::SocketAddr;

use super::raw::{RawRest, RawWeb};

/// The password Mailman and mailcast ship with.
pub const DEFAULT_PASSWORD: &str = "restpass";

/// `[rest]`, validated.
#[derive(Debug, Clone)]
pub struct RestSettings {
    pub listen: SocketAddr,
    pub admin_user: String,
    pub admin_pass: String,
}

/// `[web]`, validated.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub listen: SocketAddr,
    /// The public URL, without a trailing slash: one-click links are `<base_url>/u/<token>`.
    pub base_url: String,
}

fn address(text: &str, key: &str) -> anyhow::Result<SocketAddr> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("key `{key}`: {text:?} is not an IP:port address"))
}

pub fn rest_settings(raw: &RawRest) -> anyhow::Result<RestSettings> {
    let listen = address(&raw.listen, "rest.listen")?;
    if raw.admin_user.is_empty() || raw.admin_user.contains(':') {
        anyhow::bail!("key `rest.admin_user`: must be non-empty and without ':'");
    }
    if !listen.ip().is_loopback()
        && (raw.admin_pass.is_empty() || raw.admin_pass == DEFAULT_PASSWORD)
    {
        anyhow::bail!(
            "key `rest.admin_pass`: the REST API would listen on {listen}, beyond loopback, with {} password; set `rest.admin_pass` to a secret first",
            if raw.admin_pass.is_empty() {
                "an empty"
            } else {
                "the default"
            }
        );
    }
    Ok(RestSettings {
        listen,
        admin_user: raw.admin_user.clone(),
        admin_pass: raw.admin_pass.clone(),
    })
}

pub fn web_settings(raw: &RawWeb) -> anyhow::Result<Option<WebSettings>> {
    if raw.listen.trim().is_empty() {
        if !raw.base_url.trim().is_empty() {
            anyhow::bail!("key `web.base_url`: set `web.listen` too, or remove `web.base_url`");
        }
        return Ok(None);
    }
    let listen = address(raw.listen.trim(), "web.listen")?;
    let base_url = match raw.base_url.trim() {
        "" => format!("http://{listen}"),
        url if url.starts_with("https://") || url.starts_with("http://") => {
            url.trim_end_matches('/').to_string()
        }
        other => anyhow::bail!("key `web.base_url`: {other:?} is not an http:// or https:// URL"),
    };
    if base_url.contains(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == ',') {
        anyhow::bail!("key `web.base_url`: {base_url:?} cannot stand in a List-Unsubscribe header");
    }
    Ok(Some(WebSettings { listen, base_url }))
}
