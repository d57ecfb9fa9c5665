//! HTTP basic authentication with `[rest] admin_user` and `admin_pass`, realm
//! `mailman3-rest`, as Mailman's REST server does it.
//!
//! Credentials are compared as SHA-256 digests with a comparison that takes the same time
//! wherever the first difference is, so that response times do not reveal a prefix. A failed
//! attempt is logged with the peer and the user name, never the password.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The realm of the `WWW-Authenticate` challenge.
pub const REALM: &str = "mailman3-rest";

/// The one user the API admits.
#[derive(Clone)]
pub struct Credentials {
    digest: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

impl Credentials {
    /// Admits `user` with `password`.
    pub fn new(user: &str, password: &str) -> Credentials {
        Credentials {
            digest: digest(user, password),
        }
    }

    /// Whether an `Authorization` header value carries these credentials. Returns the user
    /// name it named, for the log, when it does not.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), Option<String>> {
        let Some((user, password)) = authorization.and_then(basic) else {
            return Err(None);
        };
        if same(&digest(&user, &password), &self.digest) {
            Ok(())
        } else {
            Err(Some(user))
        }
    }
}

fn digest(user: &str, password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(user.as_bytes());
    hasher.update([0]);
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

/// Equal digests, in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// `Basic base64(user:password)`.
fn basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Middleware: lets the request through with the right credentials, else 401.
pub async fn require(
    State(credentials): State<Credentials>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match credentials.check(authorization) {
        Ok(()) => next.run(request).await,
        Err(user) => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.to_string())
                .unwrap_or_else(|| "unknown".into());
            match user {
                Some(user) => {
                    tracing::warn!(target: "http", %peer, user = %user.escape_debug(), "REST login failed")
                }
                None => tracing::info!(target: "http", %peer, "REST request without credentials"),
            }
            challenge()
        }
    }
}

fn challenge() -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "REST API authorization failed").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"mailman3-rest\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn admits_only_the_configured_user() {
        let c = Credentials::new("restadmin", "s3cret:with:colons");
        assert_eq!(
            c.check(Some(&header("restadmin", "s3cret:with:colons"))),
            Ok(())
        );
        assert_eq!(
            c.check(Some(&header("restadmin", "s3cret"))),
            Err(Some("restadmin".into()))
        );
        assert_eq!(
            c.check(Some(&header("other", "s3cret:with:colons"))),
            Err(Some("other".into()))
        );
        assert_eq!(c.check(None), Err(None));
        assert_eq!(c.check(Some("Bearer abc")), Err(None));
        assert_eq!(c.check(Some("Basic !!!")), Err(None));
    }

    #[test]
    fn debug_hides_the_digest() {
        assert_eq!(
            format!("{:?}", Credentials::new("a", "b")),
            "Credentials(..)"
        );
    }
}
