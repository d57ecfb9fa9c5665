//! `/lists/<list>/held`: posts held for moderation, their count, and the moderator's
//! decision (`action` = `accept`, `discard`, `reject` with an optional `comment`, `defer`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use mailcast_store::HeldRecord;
use serde_json::{Map, Value};

use crate::backend::{Backend, Decision};
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, etagged, no_content, ok, timestamp};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/lists/{list}/held", get(all::<B>))
        .route("/3.1/lists/{list}/held/count", get(count::<B>))
        .route(
            "/3.1/lists/{list}/held/{id}",
            get(one::<B>).post(decide::<B>),
        )
}

/// What a moderator's `action` means.
pub fn decision(params: &Params, reason_key: &str) -> ApiResult<Decision> {
    let action = params.text("action").unwrap_or_default();
    let reason = params.text(reason_key).filter(|r| !r.is_empty());
    match action.as_str() {
        "accept" => Ok(Decision::Accept),
        "discard" => Ok(Decision::Discard),
        "reject" => Ok(Decision::Reject(reason)),
        "defer" | "hold" => Ok(Decision::Defer),
        other => Err(invalid(
            "action",
            &format!("Accepted Values are: hold, reject, discard, accept, defer; not {other:?}"),
        )),
    }
}

/// A held post's JSON; `msg` is the message text (or Mailman's "content lost" note).
pub async fn held_json<B: Backend>(
    backend: &B,
    links: &Links,
    record: &HeldRecord,
) -> ApiResult<Map<String, Value>> {
    let message = &record.message;
    let text = match backend.held_text(record).await? {
        Some(text) => text,
        None => format!(
            "Subject: Message content lost\nMessage-ID: {}\n\nThis held message has been lost.\n",
            message.message_id
        ),
    };
    let mut map = Map::new();
    map.insert("hold_date".into(), timestamp(record.held_at).into());
    map.insert("message_id".into(), message.message_id.clone().into());
    map.insert("msg".into(), text.into());
    map.insert("original_subject".into(), message.subject.clone().into());
    map.insert("reason".into(), message.reasons.join("; ").into());
    map.insert("request_id".into(), record.request_id.into());
    map.insert(
        "self_link".into(),
        links
            .to(&format!(
                "lists/{}/held/{}",
                record.list.list_id(),
                record.request_id
            ))
            .into(),
    );
    map.insert("sender".into(), message.sender.clone().into());
    map.insert("subject".into(), message.subject.clone().into());
    Ok(etagged(map))
}

/// The held posts, oldest first.
#[utoipa::path(get, path = "/3.1/lists/{list}/held", tag = "moderation",
    params(("list" = String, Path), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of held posts"), (status = 404, description = "No such list")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let held = undecided(backend.held(&view.list.address).await?);
    let (start, total, held) = page.slice(held);
    let mut entries = Vec::with_capacity(held.len());
    for record in &held {
        entries.push(held_json(&backend, &links, record).await?);
    }
    Ok(ok(collection(start, total, entries)))
}

/// Held posts a moderator already decided on (on another node, waiting for it) are not
/// shown again.
fn undecided(held: Vec<HeldRecord>) -> Vec<HeldRecord> {
    held.into_iter().filter(|r| r.decision.is_none()).collect()
}

/// How many posts are held.
#[utoipa::path(get, path = "/3.1/lists/{list}/held/count", tag = "moderation",
    params(("list" = String, Path)), responses((status = 200, description = "`count`"), (status = 404, description = "No such list")))]
pub async fn count<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let n = undecided(backend.held(&view.list.address).await?).len();
    let mut map = Map::new();
    map.insert("count".into(), n.into());
    Ok(ok(etagged(map)))
}

async fn record<B: Backend>(backend: &B, list: &str, id: &str) -> ApiResult<HeldRecord> {
    let view = lists::find(backend, list).await?;
    let id: u64 = id.parse().map_err(|_| ApiError::no_resource())?;
    undecided(backend.held(&view.list.address).await?)
        .into_iter()
        .find(|r| r.request_id == id)
        .ok_or_else(ApiError::no_resource)
}

/// One held post.
#[utoipa::path(get, path = "/3.1/lists/{list}/held/{id}", tag = "moderation",
    params(("list" = String, Path), ("id" = u64, Path)),
    responses((status = 200, description = "The held post"), (status = 404, description = "No such held post")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path((list, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let record = record(&backend, &list, &id).await?;
    Ok(ok(held_json(&backend, &links, &record).await?))
}

/// Decides on a held post.
#[utoipa::path(post, path = "/3.1/lists/{list}/held/{id}", tag = "moderation",
    params(("list" = String, Path), ("id" = u64, Path)),
    responses((status = 204, description = "Decided"), (status = 400, description = "Invalid action"), (status = 404, description = "No such held post")))]
pub async fn decide<B: Backend>(
    State(backend): State<B>,
    Path((list, id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    params.check(&["action"], &["comment", "reason", "forward"])?;
    let decision = decision(
        &params,
        if params.has("comment") {
            "comment"
        } else {
            "reason"
        },
    )?;
    if params.has("forward") {
        return Err(invalid(
            "forward",
            "forwarding a held post is not supported by mailcast",
        ));
    }
    let record = record(&backend, &list, &id).await?;
    backend
        .decide_held(&record.list, record.request_id, decision)
        .await?;
    Ok(no_content())
}
