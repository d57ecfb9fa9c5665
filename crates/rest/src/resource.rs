//! What every resource carries: `self_link` (absolute, built from the request's `Host` so that
//! a client can follow it) and `http_etag` (a SHA-1 over the resource's canonical JSON), and
//! the responses Mailman gives: 200 with JSON, 201 with `Location`, 202, 204.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use crate::error::ApiError;

/// Mailman's JSON content type.
pub const CONTENT_TYPE_JSON: &str = "application/json; charset=UTF-8";

/// The API version this server speaks (UUIDs as hex strings).
pub const API_VERSION: &str = "3.1";

/// The root of the API as the client reached it: `http://<Host>/3.1`.
#[derive(Debug, Clone)]
pub struct Links {
    root: String,
}

impl Links {
    /// Links under `root` (no trailing slash).
    pub fn new(root: impl Into<String>) -> Links {
        Links { root: root.into() }
    }

    /// The absolute URL of `path` (relative to the version root).
    pub fn to(&self, path: &str) -> String {
        format!("{}/{}", self.root, path)
    }

    /// The version root.
    pub fn root(&self) -> &str {
        &self.root
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Links {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Links, ApiError> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| valid_host(h))
            .ok_or_else(|| ApiError::bad_request("Missing or malformed Host header"))?;
        Ok(Links::new(format!("http://{host}/{API_VERSION}")))
    }
}

/// A host name or address with an optional port, nothing a link could be bent with.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

/// The resource's JSON object with its `http_etag`.
pub fn etagged(mut object: Map<String, Value>) -> Map<String, Value> {
    object.remove("http_etag");
    // serde_json's map is ordered by key, so the text is canonical.
    let text = Value::Object(object.clone()).to_string();
    let digest = Sha1::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    object.insert("http_etag".into(), Value::String(format!("\"{hex}\"")));
    object
}

/// A typed resource as its JSON object, `None` fields left out (as Mailman leaves out
/// unset optional attributes), with its etag.
pub fn object<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => etagged(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        _ => unreachable!("resources serialize to objects"),
    }
}

/// 200 with a JSON body.
pub fn ok(object: Map<String, Value>) -> Response {
    json(StatusCode::OK, &Value::Object(object))
}

/// 200 with one typed resource.
pub fn ok_resource<T: Serialize>(value: &T) -> Response {
    ok(object(value))
}

/// A JSON response with `status`.
pub fn json(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_JSON),
    );
    response
}

/// 201 with `Location` and no body.
pub fn created(location: &str) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// 204.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Mailman's timestamps: ISO 8601 in UTC without an offset, microseconds if any
/// (`datetime.isoformat()` of a naive UTC datetime).
pub fn timestamp(at: jiff::Timestamp) -> String {
    let micros = at.subsec_microsecond();
    if micros == 0 {
        at.strftime("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", at.strftime("%Y-%m-%dT%H:%M:%S"))
    }
}

/// A UUID as API 3.1 writes it: 32 lower-case hex digits.
pub fn hex_id(id: uuid::Uuid) -> String {
    id.simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_ignores_key_order_and_a_previous_etag() {
        let mut a = Map::new();
        a.insert("b".into(), 1.into());
        a.insert("a".into(), "x".into());
        let mut b = Map::new();
        b.insert("a".into(), "x".into());
        b.insert("http_etag".into(), "\"old\"".into());
        b.insert("b".into(), 1.into());
        assert_eq!(etagged(a)["http_etag"], etagged(b)["http_etag"]);
    }

    #[test]
    fn timestamps_are_naive_utc_iso() {
        let at: jiff::Timestamp = "2026-12-07T10:11:12Z".parse().unwrap();
        assert_eq!(timestamp(at), "2026-12-07T10:11:12");
        let at: jiff::Timestamp = "2026-12-07T10:11:12.000250Z".parse().unwrap();
        assert_eq!(timestamp(at), "2026-12-07T10:11:12.000250");
    }

    #[test]
    fn hosts_that_could_bend_a_link_are_refused() {
        assert!(valid_host("127.0.0.1:8001"));
        assert!(valid_host("[::1]:8001"));
        assert!(!valid_host("evil/x"));
        assert!(!valid_host("a b"));
        assert!(!valid_host(""));
    }
}
