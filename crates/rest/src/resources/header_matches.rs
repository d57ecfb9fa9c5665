//! `/lists/<list>/header-matches`: the list's header checks (Mailman's `header_matches`), by
//! position. They are the list setting `header_matches`; this resource edits it in place.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::backend::{Backend, ListView};
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, created, etagged, no_content, ok};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route(
            "/3.1/lists/{list}/header-matches",
            get(all::<B>).post(add::<B>).delete(clear::<B>),
        )
        .route(
            "/3.1/lists/{list}/header-matches/{position}",
            get(one::<B>)
                .patch(change::<B>)
                .put(replace::<B>)
                .delete(remove::<B>),
        )
}

type Entry = (String, String, Option<String>);

fn entries(view: &ListView) -> Vec<Entry> {
    view.list
        .settings
        .header_matches
        .iter()
        .map(|m| {
            (
                m.header.clone(),
                m.pattern.clone(),
                m.action.map(|a| a.as_str().to_string()),
            )
        })
        .collect()
}

fn entry_json(
    links: &Links,
    view: &ListView,
    position: usize,
    (header, pattern, action): &Entry,
) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("header".into(), header.clone().into());
    map.insert("pattern".into(), pattern.clone().into());
    map.insert("position".into(), position.into());
    if let Some(action) = action {
        map.insert("action".into(), action.clone().into());
    }
    map.insert(
        "self_link".into(),
        links
            .to(&format!(
                "lists/{}/header-matches/{position}",
                view.list.list_id
            ))
            .into(),
    );
    etagged(map)
}

async fn save<B: Backend>(backend: &B, view: &ListView, all: &[Entry]) -> ApiResult<()> {
    let value = Value::Array(
        all.iter()
            .map(|(header, pattern, action)| json!({"header": header, "pattern": pattern, "action": action}))
            .collect(),
    );
    let mut probe = view.list.settings.clone();
    probe
        .set_json("header_matches", &value)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    backend
        .set_settings(&view.list.address, &[("header_matches".into(), value)])
        .await?;
    Ok(())
}

/// Reads `header`, `pattern` and `action` (`tag` is refused: mailcast has no tags).
fn read(params: &Params, current: Option<&Entry>, all_required: bool) -> ApiResult<Entry> {
    let required: &[&str] = if all_required {
        &["header", "pattern"]
    } else {
        &[]
    };
    params.check(required, &["header", "pattern", "action", "tag"])?;
    if params.has("tag") {
        return Err(invalid(
            "tag",
            "header match tags are not supported by mailcast",
        ));
    }
    let header = params
        .text("header")
        .or_else(|| current.map(|c| c.0.clone()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let pattern = params
        .text("pattern")
        .or_else(|| current.map(|c| c.1.clone()))
        .unwrap_or_default();
    let action = match params.text("action") {
        Some(a) if a.is_empty() => None,
        Some(a) => {
            mailcast_model::Action::parse(&a).map_err(|e| invalid("action", &e.to_string()))?;
            Some(a)
        }
        None if all_required => None,
        None => current.and_then(|c| c.2.clone()),
    };
    Ok((header, pattern, action))
}

fn position(segment: &str, all: &[Entry]) -> ApiResult<usize> {
    segment
        .parse::<usize>()
        .ok()
        .filter(|p| *p < all.len())
        .ok_or_else(|| ApiError::not_found(format!("No header match at this position: {segment}")))
}

/// The header checks, in order.
#[utoipa::path(get, path = "/3.1/lists/{list}/header-matches", tag = "lists",
    params(("list" = String, Path), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of header matches")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let numbered: Vec<(usize, Entry)> = entries(&view).into_iter().enumerate().collect();
    let (start, total, numbered) = page.slice(numbered);
    let items = numbered
        .iter()
        .map(|(p, e)| entry_json(&links, &view, *p, e))
        .collect();
    Ok(ok(collection(start, total, items)))
}

/// Adds a header check at the end.
#[utoipa::path(post, path = "/3.1/lists/{list}/header-matches", tag = "lists",
    params(("list" = String, Path)),
    responses((status = 201, description = "Added"), (status = 400, description = "Invalid or already there")))]
pub async fn add<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let mut all = entries(&view);
    let new = read(&params, None, true)?;
    if all.iter().any(|e| e.0 == new.0 && e.1 == new.1) {
        return Err(ApiError::bad_request("This header match already exists"));
    }
    all.push(new);
    save(&backend, &view, &all).await?;
    Ok(created(&links.to(&format!(
        "lists/{}/header-matches/{}",
        view.list.list_id,
        all.len() - 1
    ))))
}

/// Removes every header check.
pub async fn clear<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    save(&backend, &view, &[]).await?;
    Ok(no_content())
}

/// One header check.
#[utoipa::path(get, path = "/3.1/lists/{list}/header-matches/{position}", tag = "lists",
    params(("list" = String, Path), ("position" = usize, Path)),
    responses((status = 200, description = "The header match"), (status = 404, description = "No header match there")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path((list, at)): Path<(String, String)>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let all = entries(&view);
    let p = position(&at, &all)?;
    Ok(ok(entry_json(&links, &view, p, &all[p])))
}

async fn edit<B: Backend>(
    backend: &B,
    list: &str,
    at: &str,
    params: &Params,
    all_required: bool,
) -> ApiResult<Response> {
    let view = lists::find(backend, list).await?;
    let mut all = entries(&view);
    let p = position(at, &all)?;
    all[p] = read(params, Some(&all[p]), all_required)?;
    save(backend, &view, &all).await?;
    Ok(no_content())
}

/// Changes some fields of one header check.
#[utoipa::path(patch, path = "/3.1/lists/{list}/header-matches/{position}", tag = "lists",
    params(("list" = String, Path), ("position" = usize, Path)),
    responses((status = 204, description = "Changed"), (status = 404, description = "No header match there")))]
pub async fn change<B: Backend>(
    State(backend): State<B>,
    Path((list, at)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    edit(&backend, &list, &at, &params, false).await
}

/// Replaces one header check.
pub async fn replace<B: Backend>(
    State(backend): State<B>,
    Path((list, at)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    edit(&backend, &list, &at, &params, true).await
}

/// Removes one header check; those after it move up.
#[utoipa::path(delete, path = "/3.1/lists/{list}/header-matches/{position}", tag = "lists",
    params(("list" = String, Path), ("position" = usize, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "No header match there")))]
pub async fn remove<B: Backend>(
    State(backend): State<B>,
    Path((list, at)): Path<(String, String)>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let mut all = entries(&view);
    let p = position(&at, &all)?;
    all.remove(p);
    save(&backend, &view, &all).await?;
    Ok(no_content())
}
