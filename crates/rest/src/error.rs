//! Errors as Mailman's REST server writes them: a status and a JSON body
//! `{"title": "<status line>", "description": "<text>"}` (falcon's `HTTPError.to_json()`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::backend::Failure;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// The description; `None` writes only the title, as falcon does for its own 404s.
    pub description: Option<String>,
}

impl ApiError {
    /// 400 with Mailman's text.
    pub fn bad_request(text: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, text)
    }

    /// 404 with a text.
    pub fn not_found(text: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, text)
    }

    /// 404 for a path no resource answers, as falcon writes it (title only).
    pub fn no_resource() -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            description: None,
        }
    }

    /// 409 with a text.
    pub fn conflict(text: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, text)
    }

    /// 405: the resource exists but not with this method.
    pub fn method_not_allowed() -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            description: None,
        }
    }

    /// Any status with a description.
    pub fn new(status: StatusCode, text: impl Into<String>) -> ApiError {
        ApiError {
            status,
            description: Some(text.into()),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let title = format!(
            "{} {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or("Error")
        );
        let mut map = serde_json::Map::new();
        map.insert("title".into(), title.into());
        if let Some(text) = &self.description {
            map.insert("description".into(), text.clone().into());
        }
        serde_json::Value::Object(map).to_string()
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> ApiError {
        match failure {
            Failure::NotFound(text) => ApiError::not_found(text),
            Failure::Invalid(text) => ApiError::bad_request(text),
            Failure::Conflict(text) => ApiError::conflict(text),
            Failure::Internal(text) => {
                tracing::error!(target: "http", error = %text, "REST request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::resource::CONTENT_TYPE_JSON),
        );
        response
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
