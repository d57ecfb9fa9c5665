//! `/lists/<list>/archivers`: which archivers a list uses (Mailman's `ListArchivers`).
//!
//! GET maps every archiver the site has to whether it is enabled for the list (the site's
//! switch AND the list's), with an `http_etag`. PATCH switches some of them, PUT must name
//! them all; a name that is no archiver is `Unexpected parameters`, a missing one on PUT
//! `Missing Parameter`, a value that is no boolean `Invalid Parameter`, and success is 204,
//! with Mailman's texts. A list may switch on an archiver the site has off; it stays off
//! (shown `false`) until the site enables it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::body::Params;
use crate::error::ApiResult;
use crate::resource::{etagged, no_content, ok};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new().route(
        "/3.1/lists/{list}/archivers",
        get(all::<B>).patch(change::<B>).put(change::<B>),
    )
}

/// The archivers and whether each is enabled for the list.
#[utoipa::path(get, path = "/3.1/lists/{list}/archivers", tag = "lists",
    params(("list" = String, Path)), responses((status = 200, description = "Archiver name to enabled (site and list), with http_etag")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let archivers = backend.archivers(&view.list.address).await?;
    let map: Map<String, Value> = archivers
        .into_iter()
        .map(|(name, enabled)| (name, Value::Bool(enabled)))
        .collect();
    Ok(ok(etagged(map)))
}

/// Switches archivers on or off for the list (PATCH: some, PUT: all).
pub async fn change<B: Backend>(
    State(backend): State<B>,
    method: Method,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let names: Vec<String> = backend
        .archivers(&view.list.address)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    if method == Method::PUT {
        params.check(&names, &[])?;
    } else {
        params.check(&[], &names)?;
    }
    let mut changes = Vec::new();
    for name in &names {
        if let Some(enabled) = params.flag(name)? {
            changes.push((name.to_string(), enabled));
        }
    }
    if !changes.is_empty() {
        backend.set_archivers(&view.list.address, &changes).await?;
    }
    Ok(no_content())
}
