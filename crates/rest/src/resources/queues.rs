//! `/queues`: the spool stages under Mailman's queue names, with their files, and injecting
//! a message into one (`POST /queues/<name>` with `list_id` and `text`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value};

use crate::backend::{Backend, Queue};
use crate::body::Params;
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, created, etagged, ok};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/queues", get(all::<B>))
        .route("/3.1/queues/{name}", get(one::<B>).post(inject::<B>))
        .route("/3.1/queues/{name}/{file}", get(file::<B>))
}

fn queue_json(links: &Links, q: &Queue) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("count".into(), q.files.len().into());
    map.insert("directory".into(), q.directory.clone().into());
    map.insert("files".into(), q.files.clone().into());
    map.insert("name".into(), q.name.clone().into());
    map.insert(
        "self_link".into(),
        links.to(&format!("queues/{}", q.name)).into(),
    );
    etagged(map)
}

async fn queue<B: Backend>(backend: &B, name: &str) -> ApiResult<Queue> {
    backend
        .queues()
        .await?
        .into_iter()
        .find(|q| q.name == name)
        .ok_or_else(|| ApiError::not_found(format!("No such queue: {name}")))
}

/// Every queue, by name.
#[utoipa::path(get, path = "/3.1/queues", tag = "queues", responses((status = 200, description = "A collection of queues")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
) -> ApiResult<Response> {
    let mut queues = backend.queues().await?;
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let (start, total, queues) = page.slice(queues);
    let mut map = collection(
        start,
        total,
        queues.iter().map(|q| queue_json(&links, q)).collect(),
    );
    map.insert("self_link".into(), links.to("queues").into());
    Ok(ok(etagged(map)))
}

/// One queue.
#[utoipa::path(get, path = "/3.1/queues/{name}", tag = "queues",
    params(("name" = String, Path)), responses((status = 200, description = "The queue"), (status = 404, description = "No such queue")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(queue_json(&links, &queue(&backend, &name).await?)))
}

/// One file of a queue: its id.
pub async fn file<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path((name, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let q = queue(&backend, &name).await?;
    if !q.files.iter().any(|f| f == &file) {
        return Err(ApiError::not_found(format!("No such queue file: {file}")));
    }
    let mut map = Map::new();
    map.insert("name".into(), file.clone().into());
    map.insert(
        "self_link".into(),
        links.to(&format!("queues/{name}/{file}")).into(),
    );
    Ok(ok(etagged(map)))
}

/// Injects a message for a list into a queue.
#[utoipa::path(post, path = "/3.1/queues/{name}", tag = "queues",
    params(("name" = String, Path)),
    responses((status = 201, description = "Injected; `Location` names the file"), (status = 400, description = "No such list or a bad message"), (status = 404, description = "No such queue")))]
pub async fn inject<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    params.check(&["list_id", "text"], &[])?;
    queue(&backend, &name).await?;
    let list_id = params.text("list_id").unwrap_or_default();
    let view = lists::find(&backend, &list_id)
        .await
        .map_err(|_| ApiError::bad_request(format!("No such list: {list_id}")))?;
    let text = params.text("text").unwrap_or_default();
    let id = backend.inject(&name, &view.list.address, &text).await?;
    Ok(created(&links.to(&format!("queues/{name}/{id}"))))
}
