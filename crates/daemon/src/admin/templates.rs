//! Template overrides: Mailman 3's named templates (`list:user:notice:welcome`, ...) replaced
//! for the whole site, a domain or one list (`mailcast templates`, the REST API's `/uris`).
//!
//! An override names where its text comes from, as Mailman's `*_uri` settings do: a `file:`
//! URL or a path (read now), an `http:` or `https:` URL (fetched now, with HTTP Basic
//! credentials if given: Postorius gives the core such a URL for every template saved in it,
//! and sets it again on every save), or text given directly. The text is read when the
//! override is set and kept in the store, so that no notice ever waits for a file or a web
//! server; set it again to pick up a change. Mailman fetches on use instead (and caches), so a
//! web server that is down at the time costs a notice its text; here it costs the setting, with
//! a clear error. The English defaults ship with mailcast (`crates/pipeline/templates/en/`).

use std::time::Duration;

use mailcast_pipeline::templates;
use mailcast_store::{TemplateRecord, TemplateScope};

use super::{Admin, AdminError, Result};

/// Longest template text accepted, in bytes.
const MAX_TEMPLATE: usize = 256 * 1024;

/// How long fetching an `http(s):` URI may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where an override's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `file:` URL or a local path, read now.
    File(String),
    /// An `http:` or `https:` URL, fetched now (GET), with HTTP Basic credentials if given.
    Url {
        /// The URL.
        url: String,
        /// User name and password for it.
        credentials: Option<(String, String)>,
    },
    /// The text itself.
    Text(String),
}

impl Source {
    /// Where a location given by a person (the CLI) or a client (`/uris`) points: an
    /// `http:` or `https:` URL (scheme in any case) is fetched, anything else is a file.
    pub fn from_location(location: String, credentials: Option<(String, String)>) -> Source {
        let lower = location.get(..8).unwrap_or(&location).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Source::Url {
                url: location,
                credentials,
            }
        } else {
            Source::File(location)
        }
    }
}

impl Admin {
    /// Sets an override of template `name` for `scope`.
    pub async fn set_template(
        &self,
        scope: &TemplateScope,
        name: &str,
        source: Source,
    ) -> Result<()> {
        check_name(name)?;
        self.check_scope(scope).await?;
        let mut credentials = None;
        let (uri, text) = match source {
            Source::File(location) => {
                let path = location.strip_prefix("file://").unwrap_or(&location);
                let path = path.strip_prefix("file:").unwrap_or(path);
                let bytes = std::fs::read(path).map_err(|e| {
                    AdminError::Invalid(format!("cannot read template file {path}: {e}"))
                })?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    AdminError::Invalid(format!("template file {path} is not UTF-8 text"))
                })?;
                (format!("file://{path}"), text)
            }
            Source::Url {
                url,
                credentials: given,
            } => {
                let text = fetch(&url, given.as_ref()).await?;
                credentials = given;
                (url, text)
            }
            Source::Text(text) => (String::new(), text),
        };
        if text.len() > MAX_TEMPLATE {
            return Err(AdminError::Invalid(format!(
                "the template is larger than {MAX_TEMPLATE} bytes"
            )));
        }
        Ok(self
            .store
            .set_template(
                scope,
                name,
                &uri,
                &text,
                credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
            )
            .await?)
    }

    /// The override of `name` for exactly `scope`, if any.
    pub async fn template(
        &self,
        scope: &TemplateScope,
        name: &str,
    ) -> Result<Option<TemplateRecord>> {
        check_name(name)?;
        self.check_scope(scope).await?;
        Ok(self.store.template(scope, name).await?)
    }

    /// The overrides of one scope, or of every scope.
    pub async fn templates(&self, scope: Option<&TemplateScope>) -> Result<Vec<TemplateRecord>> {
        if let Some(scope) = scope {
            self.check_scope(scope).await?;
        }
        Ok(self.store.templates(scope).await?)
    }

    /// Removes an override; false if there was none.
    pub async fn remove_template(&self, scope: &TemplateScope, name: &str) -> Result<bool> {
        check_name(name)?;
        self.check_scope(scope).await?;
        Ok(self.store.remove_template(scope, name).await?)
    }

    async fn check_scope(&self, scope: &TemplateScope) -> Result<()> {
        match scope {
            TemplateScope::Site => Ok(()),
            TemplateScope::Domain(domain) => {
                self.store.domain(domain).await?;
                Ok(())
            }
            TemplateScope::List(list) => self.list_info(list).await.map(|_| ()),
        }
    }
}

/// GETs an override's text from `url`: a 2xx answer whose body is UTF-8 text of at most
/// [`MAX_TEMPLATE`] bytes; anything else is an `Invalid` error naming the URL and why.
async fn fetch(url: &str, credentials: Option<&(String, String)>) -> Result<String> {
    let parsed: hyper::Uri = url
        .parse()
        .map_err(|e| AdminError::Invalid(format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
        return Err(AdminError::Invalid(format!(
            "{url:?} is not an http: or https: URL"
        )));
    }
    let authorization = credentials.map(|(user, password)| {
        use base64::Engine as _;
        let pair = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    });
    let mut headers = vec![("Accept", "text/plain")];
    if let Some(value) = &authorization {
        headers.push(("Authorization", value));
    }
    let answer = crate::http_client::get(url, &headers, FETCH_TIMEOUT, MAX_TEMPLATE)
        .await
        .map_err(|e| AdminError::Invalid(format!("cannot fetch template {url}: {e}")))?;
    if !answer.status.is_success() {
        return Err(AdminError::Invalid(format!(
            "cannot fetch template {url}: HTTP {}",
            answer.status
        )));
    }
    if answer.truncated {
        return Err(AdminError::Invalid(format!(
            "template {url} is larger than {MAX_TEMPLATE} bytes"
        )));
    }
    String::from_utf8(answer.body)
        .map_err(|_| AdminError::Invalid(format!("template {url} is not UTF-8 text")))
}

fn check_name(name: &str) -> Result<()> {
    if templates::is_known(name) {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!(
            "no template is named {name:?} (see `mailcast templates list --names`)"
        )))
    }
}
