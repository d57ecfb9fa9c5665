//! `/lists/<list>/digest`: a list's digest numbers, and sending or bumping its digest now
//! (Mailman's `ListDigest`).
//!
//! GET gives `volume` and `next_digest_number` with an `http_etag`. POST takes the optional
//! booleans `send`, `bump` and `periodic`: none is 200 with nothing done; `send` with
//! `periodic` is 400 `send and periodic options are mutually exclusive` (checked before
//! anything is done: Mailman bumps first, then refuses); otherwise the numbers are bumped if
//! asked, the waiting posts are sent (`periodic`: only if the list has
//! `digest_send_periodic`), and the answer is 202.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::backend::{Backend, DigestAction};
use crate::body::Params;
use crate::error::{ApiError, ApiResult};
use crate::resource::{etagged, ok};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new().route("/3.1/lists/{list}/digest", get(numbers::<B>).post(act::<B>))
}

/// The list's digest numbers.
#[utoipa::path(get, path = "/3.1/lists/{list}/digest", tag = "lists",
    params(("list" = String, Path)), responses((status = 200, description = "volume and next_digest_number, with http_etag")))]
pub async fn numbers<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let (volume, next) = backend.digest_numbers(&view.list.address).await?;
    let mut map = Map::new();
    map.insert("next_digest_number".into(), Value::from(next));
    map.insert("volume".into(), Value::from(volume));
    Ok(ok(etagged(map)))
}

/// Bumps the numbers and/or sends the digest now.
#[utoipa::path(post, path = "/3.1/lists/{list}/digest", tag = "lists",
    params(("list" = String, Path)), responses((status = 200, description = "Nothing asked"),
    (status = 202, description = "Done"), (status = 400, description = "Bad parameters")))]
pub async fn act<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    params.check(&[], &["send", "bump", "periodic"])?;
    let action = DigestAction {
        send: params.flag("send")?.unwrap_or(false),
        bump: params.flag("bump")?.unwrap_or(false),
        periodic: params.flag("periodic")?.unwrap_or(false),
    };
    let asked = ["send", "bump", "periodic"]
        .iter()
        .any(|key| params.flag(key).ok().flatten().is_some());
    if !asked {
        return Ok(StatusCode::OK.into_response());
    }
    if action.send && action.periodic {
        return Err(ApiError::bad_request(
            "send and periodic options are mutually exclusive",
        ));
    }
    backend.digest_action(&view.list.address, action).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
