//! `/lists/<list>/archivers`: which archivers a list uses. mailcast has no archiver yet, so
//! the resource is an empty mapping and enabling one is refused with a clear error (the
//! README says so); the archiving issue makes it real.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::Map;

use crate::backend::Backend;
use crate::body::Params;
use crate::error::{ApiError, ApiResult};
use crate::resource::{etagged, ok};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new().route(
        "/3.1/lists/{list}/archivers",
        get(all::<B>).patch(change::<B>).put(change::<B>),
    )
}

/// The archivers and whether each is enabled: none yet.
#[utoipa::path(get, path = "/3.1/lists/{list}/archivers", tag = "lists",
    params(("list" = String, Path)), responses((status = 200, description = "Archiver name to enabled (empty: no archivers yet)")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    lists::find(&backend, &list).await?;
    Ok(ok(etagged(Map::new())))
}

/// Enabling or disabling an archiver: refused, none exists yet.
pub async fn change<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    lists::find(&backend, &list).await?;
    match params.keys().first() {
        Some(name) => Err(ApiError::bad_request(format!(
            "Unexpected parameters: {name} (mailcast has no archivers yet)"
        ))),
        None => Ok(ok(etagged(Map::new()))),
    }
}
