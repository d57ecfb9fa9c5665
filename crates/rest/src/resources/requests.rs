//! `/lists/<list>/requests`: pending subscription and unsubscription requests (filtered by
//! `token_owner` and `request_type`), their count, and the moderator's decision on one.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use mailcast_store::{PendingRequest, RequestKind, TokenOwner};
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{etagged, no_content, ok, timestamp};
use crate::resources::{held, lists};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/lists/{list}/requests", get(all::<B>))
        .route("/3.1/lists/{list}/requests/count", get(count::<B>))
        .route(
            "/3.1/lists/{list}/requests/{token}",
            get(one::<B>).post(decide::<B>),
        )
}

/// A request's JSON, as Mailman shows a pended subscription (it has no `self_link`).
pub fn request_json(request: &PendingRequest) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "display_name".into(),
        request.display_name.clone().unwrap_or_default().into(),
    );
    map.insert("email".into(), request.email.original().into());
    map.insert("list_id".into(), request.list.list_id().into());
    map.insert("token".into(), request.token.clone().into());
    map.insert("token_owner".into(), request.token_owner.as_str().into());
    map.insert("type".into(), request.kind.as_str().into());
    map.insert("when".into(), timestamp(request.created_at).into());
    etagged(map)
}

async fn matching<B: Backend>(
    backend: &B,
    list: &str,
    params: &Params,
) -> ApiResult<Vec<PendingRequest>> {
    params.check(&[], &["token_owner", "request_type"])?;
    let view = lists::find(backend, list).await?;
    let owner = match params.text("token_owner") {
        Some(t) => Some(TokenOwner::parse(&t).map_err(|e| invalid("token_owner", &e.to_string()))?),
        None => None,
    };
    let kind = match params.text("request_type") {
        Some(t) => RequestKind::parse(&t).map_err(|e| invalid("request_type", &e.to_string()))?,
        None => RequestKind::Subscription,
    };
    let mut requests = backend.requests(&view.list.address).await?;
    requests.retain(|r| r.kind == kind && owner.is_none_or(|o| r.token_owner == o));
    Ok(requests)
}

/// The pending requests.
#[utoipa::path(get, path = "/3.1/lists/{list}/requests", tag = "moderation",
    params(("list" = String, Path), ("token_owner" = Option<String>, Query), ("request_type" = Option<String>, Query),
        ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of requests"), (status = 404, description = "No such list")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    page: Page,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let (start, total, requests) = page.slice(matching(&backend, &list, &params).await?);
    Ok(ok(collection(
        start,
        total,
        requests.iter().map(request_json).collect(),
    )))
}

/// How many requests are pending.
#[utoipa::path(get, path = "/3.1/lists/{list}/requests/count", tag = "moderation",
    params(("list" = String, Path), ("token_owner" = Option<String>, Query), ("request_type" = Option<String>, Query)),
    responses((status = 200, description = "`count`")))]
pub async fn count<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let n = matching(&backend, &list, &params).await?.len();
    let mut map = Map::new();
    map.insert("count".into(), n.into());
    Ok(ok(etagged(map)))
}

async fn request<B: Backend>(backend: &B, list: &str, token: &str) -> ApiResult<PendingRequest> {
    let view = lists::find(backend, list).await?;
    backend
        .requests(&view.list.address)
        .await?
        .into_iter()
        .find(|r| r.token == token)
        .ok_or_else(ApiError::no_resource)
}

/// One pending request.
#[utoipa::path(get, path = "/3.1/lists/{list}/requests/{token}", tag = "moderation",
    params(("list" = String, Path), ("token" = String, Path)),
    responses((status = 200, description = "The request"), (status = 404, description = "No such request")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    Path((list, token)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(request_json(&request(&backend, &list, &token).await?)))
}

/// Decides on a request: `accept`, `reject` (with `reason`), `discard`, `defer`.
#[utoipa::path(post, path = "/3.1/lists/{list}/requests/{token}", tag = "moderation",
    params(("list" = String, Path), ("token" = String, Path)),
    responses((status = 204, description = "Decided"), (status = 404, description = "No such request"), (status = 409, description = "Already subscribed")))]
pub async fn decide<B: Backend>(
    State(backend): State<B>,
    Path((list, token)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    params.check(&["action"], &["reason"])?;
    let decision = held::decision(&params, "reason")?;
    let found = request(&backend, &list, &token).await?;
    backend
        .decide_request(&found.list, &found.token, decision)
        .await?;
    Ok(no_content())
}
