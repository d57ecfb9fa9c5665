//! Request parameters as Mailman reads them: a JSON object, or a form (the query string and an
//! `application/x-www-form-urlencoded` body, which is what mailmanclient sends, with repeated
//! keys for lists), checked against the names a resource takes with Mailman's texts
//! ("Unexpected parameters: ...", "Missing Parameter: ...", "Invalid Parameter ...").

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::Value;

use crate::error::ApiError;

/// The largest request body read.
pub const BODY_LIMIT: usize = 1 << 20;

/// Every parameter of a request, in order, with repeated keys kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    pairs: Vec<(String, Value)>,
}

impl Params {
    /// Parameters from a list of pairs.
    pub fn from_pairs(pairs: Vec<(String, Value)>) -> Params {
        Params { pairs }
    }

    /// Reads a JSON object (arrays become repeated keys) or a form.
    pub fn parse(
        content_type: Option<&str>,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        if content_type.is_some_and(|t| t.trim_start().starts_with("application/json")) {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Params::default());
            }
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))?;
            let Value::Object(map) = value else {
                return Err(ApiError::bad_request("The JSON body must be an object"));
            };
            let mut pairs = Vec::new();
            for (key, value) in map {
                match value {
                    Value::Array(items) if items.is_empty() => {
                        pairs.push((key, Value::Array(items)))
                    }
                    Value::Array(items) => {
                        pairs.extend(items.into_iter().map(|v| (key.clone(), v)))
                    }
                    other => pairs.push((key, other)),
                }
            }
            return Ok(Params { pairs });
        }
        let mut pairs: Vec<(String, Value)> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "count" && k != "page")
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
        pairs.extend(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))),
        );
        Ok(Params { pairs })
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The names sent, sorted and without repeats.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.pairs.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Checks the names against what the resource takes: unknown names first, then missing
    /// required ones, with Mailman's texts.
    pub fn check(&self, required: &[&str], optional: &[&str]) -> Result<(), ApiError> {
        let extras: Vec<&str> = self
            .keys()
            .into_iter()
            .filter(|k| !required.contains(k) && !optional.contains(k))
            .collect();
        if !extras.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Unexpected parameters: {}",
                extras.join(", ")
            )));
        }
        let mut missing: Vec<&str> = required.iter().copied().filter(|k| !self.has(k)).collect();
        missing.sort_unstable();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Missing Parameter: {}",
                missing.join(", ")
            )));
        }
        Ok(())
    }

    /// Whether `key` was sent.
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&Value> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect()
    }

    /// The last value of `key`.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The value of `key` as text (numbers and booleans as JSON writes them).
    pub fn text(&self, key: &str) -> Option<String> {
        self.value(key).map(as_text)
    }

    /// Every value of `key` as text.
    pub fn texts(&self, key: &str) -> Vec<String> {
        self.all(key).into_iter().map(as_text).collect()
    }

    /// The value of `key` as a boolean, as Mailman's `as_boolean` reads one.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => boolean(&as_text(v))
                .map(Some)
                .ok_or_else(|| invalid(key, &format!("Invalid boolean value: {}", as_text(v)))),
        }
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, Value)] {
        &self.pairs
    }
}

/// Mailman's "Invalid Parameter" text for one name.
pub fn invalid(key: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid Parameter \"{key}\": {why}."))
}

/// lazr.config's `as_boolean`.
pub fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Params, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query = request.uri().query().map(str::to_owned);
        let body = Bytes::from_request(request, state).await.map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
            )
        })?;
        Params::parse(content_type.as_deref(), query.as_deref(), &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_repeated_keys() {
        let p = Params::parse(None, None, b"a=1&b=x%40y&a=2").unwrap();
        assert_eq!(p.texts("a"), vec!["1", "2"]);
        assert_eq!(p.text("b").as_deref(), Some("x@y"));
    }

    #[test]
    fn json_arrays_are_repeated_keys() {
        let p = Params::parse(Some("application/json"), None, br#"{"a":[1,2],"b":true}"#).unwrap();
        assert_eq!(p.texts("a"), vec!["1", "2"]);
        assert_eq!(p.flag("b").unwrap(), Some(true));
        assert!(Params::parse(Some("application/json"), None, b"[1]").is_err());
        assert!(Params::parse(Some("application/json"), None, b"{").is_err());
    }

    #[test]
    fn checks_use_mailmans_texts() {
        let p = Params::parse(None, None, b"x=1&z=2").unwrap();
        let e = p.check(&["x"], &[]).unwrap_err();
        assert_eq!(e.description.as_deref(), Some("Unexpected parameters: z"));
        let e = p.check(&["x", "y", "z", "a"], &[]).unwrap_err();
        assert_eq!(e.description.as_deref(), Some("Missing Parameter: a, y"));
        assert!(p.check(&["x"], &["z"]).is_ok());
        let p = Params::parse(None, None, b"f=maybe").unwrap();
        assert!(p.flag("f").is_err());
    }
}
