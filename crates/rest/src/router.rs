//! The whole API as one router: the resources under `/3.1`, behind basic authentication, a
//! body limit and a deadline, and Mailman's JSON 404 for every other path.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::auth::{self, Credentials};
use crate::backend::Backend;
use crate::body::BODY_LIMIT;
use crate::error::ApiError;
use crate::{openapi, resources};

/// How long one request may take before it gets 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The REST API for `backend`, admitting `credentials`.
pub fn router<B: Backend>(backend: B, credentials: Credentials) -> Router {
    let api = resources::routes::<B>()
        .layer(middleware::from_fn_with_state(credentials, auth::require))
        .merge(openapi::routes::<B>())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(deadline))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    api.with_state(backend)
}

async fn not_found() -> Response {
    ApiError::no_resource().into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}

/// Ends a request that takes longer than [`REQUEST_TIMEOUT`] with 503.
async fn deadline(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "The request took too long",
        )
        .into_response(),
    }
}
