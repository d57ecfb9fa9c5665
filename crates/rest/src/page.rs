//! Collections: `count` and `page` in the query string choose a window, and the answer is
//! `{"start", "total_size", "entries", "http_etag"}`; `entries` is left out when empty, as
//! Mailman does.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::resource::etagged;

/// The largest `count` served in one page.
pub const MAX_COUNT: u64 = 10_000;

/// The window a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Page {
    /// `(count, page)`, both given; `None` for the whole collection.
    pub window: Option<(u64, u64)>,
}

impl Page {
    /// The SQL window: `(offset, limit)`; the whole collection is `(0, u64::MAX)`.
    pub fn offset_limit(&self) -> (u64, u64) {
        match self.window {
            Some((count, page)) => ((page - 1).saturating_mul(count), count),
            None => (0, u64::MAX),
        }
    }

    /// The window over an in-memory collection.
    pub fn slice<T>(&self, items: Vec<T>) -> (u64, u64, Vec<T>) {
        let total = items.len() as u64;
        let (offset, limit) = self.offset_limit();
        let page = items
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        (offset, total, page)
    }

    /// Reads `count` and `page` from a query string.
    pub fn parse(query: Option<&str>) -> Result<Page, ApiError> {
        let mut count = None;
        let mut page = None;
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "count" => count = Some(int(&value, "count")?),
                "page" => page = Some(int(&value, "page")?),
                _ => {}
            }
        }
        match (count, page) {
            (None, None) => Ok(Page { window: None }),
            (Some(count), Some(page)) => {
                if count < 0 {
                    return Err(ApiError::bad_request(
                        "Invalid parameter \"count\": count should be a positive integer.",
                    ));
                }
                if page < 1 {
                    return Err(ApiError::bad_request(
                        "Invalid parameter \"page\": page should be greater than 0.",
                    ));
                }
                Ok(Page {
                    window: Some((count.unsigned_abs().min(MAX_COUNT), page.unsigned_abs())),
                })
            }
            (None, Some(_)) => Err(ApiError::bad_request("Missing parameter \"count\"")),
            (Some(_), None) => Err(ApiError::bad_request("Missing parameter \"page\"")),
        }
    }
}

fn int(value: &str, name: &str) -> Result<i64, ApiError> {
    value.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "Invalid parameter \"{name}\": The value must be an integer."
        ))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Page, ApiError> {
        Page::parse(parts.uri.query())
    }
}

/// A collection's JSON object.
pub fn collection(
    start: u64,
    total_size: u64,
    entries: Vec<Map<String, Value>>,
) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("start".into(), start.into());
    map.insert("total_size".into(), total_size.into());
    if !entries.is_empty() {
        map.insert(
            "entries".into(),
            Value::Array(entries.into_iter().map(Value::Object).collect()),
        );
    }
    etagged(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(Page::parse(None).unwrap().offset_limit(), (0, u64::MAX));
        assert_eq!(
            Page::parse(Some("count=50&page=3")).unwrap().offset_limit(),
            (100, 50)
        );
        assert_eq!(
            Page::parse(Some("count=0&page=1")).unwrap().offset_limit(),
            (0, 0)
        );
        assert!(Page::parse(Some("count=-1&page=1")).is_err());
        assert!(Page::parse(Some("count=5&page=0")).is_err());
        assert!(Page::parse(Some("count=x&page=1")).is_err());
        assert!(Page::parse(Some("count=5")).is_err());
        let (start, total, items) = Page::parse(Some("count=2&page=2"))
            .unwrap()
            .slice(vec![1, 2, 3, 4, 5]);
        assert_eq!((start, total, items), (2, 5, vec![3, 4]));
    }

    #[test]
    fn empty_collections_have_no_entries() {
        let c = collection(0, 0, vec![]);
        assert!(!c.contains_key("entries"));
        assert_eq!(c["total_size"], 0);
    }
}
