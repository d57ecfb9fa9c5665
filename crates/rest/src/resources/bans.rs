//! Bans: `/bans` (site-wide) and `/lists/<list>/bans`. A ban is an address or a `^regex`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use mailcast_model::ListAddress;
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, created, etagged, no_content, ok};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/bans", get(site::<B>).post(add_site::<B>))
        .route(
            "/3.1/bans/{email}",
            get(one_site::<B>).delete(remove_site::<B>),
        )
        .route(
            "/3.1/lists/{list}/bans",
            get(list_bans::<B>).post(add_list::<B>),
        )
        .route(
            "/3.1/lists/{list}/bans/{email}",
            get(one_list::<B>).delete(remove_list::<B>),
        )
}

fn location(links: &Links, list: Option<&ListAddress>, email: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(email.as_bytes()).collect();
    match list {
        Some(list) => links.to(&format!("lists/{}/bans/{encoded}", list.list_id())),
        None => links.to(&format!("bans/{encoded}")),
    }
}

/// A ban's JSON.
pub fn ban_json(links: &Links, list: Option<&ListAddress>, email: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("email".into(), email.into());
    if let Some(list) = list {
        map.insert("list_id".into(), list.list_id().into());
    }
    map.insert("self_link".into(), location(links, list, email).into());
    etagged(map)
}

async fn scope<B: Backend>(backend: &B, list: Option<&str>) -> ApiResult<Option<ListAddress>> {
    match list {
        Some(segment) => Ok(Some(lists::find(backend, segment).await?.list.address)),
        None => Ok(None),
    }
}

async fn collection_of<B: Backend>(
    backend: &B,
    links: &Links,
    page: &Page,
    list: Option<&str>,
) -> ApiResult<Response> {
    let list = scope(backend, list).await?;
    let (start, total, bans) = page.slice(backend.bans(list.as_ref()).await?);
    Ok(ok(collection(
        start,
        total,
        bans.iter()
            .map(|b| ban_json(links, list.as_ref(), b))
            .collect(),
    )))
}

async fn add<B: Backend>(
    backend: &B,
    links: &Links,
    list: Option<&str>,
    params: &Params,
) -> ApiResult<Response> {
    params.check(&["email"], &[])?;
    let list = scope(backend, list).await?;
    let email = params.text("email").unwrap_or_default();
    if email.trim().is_empty() {
        return Err(invalid("email", "an address or a ^regex is needed"));
    }
    if !backend.ban(list.as_ref(), email.trim()).await? {
        return Err(ApiError::bad_request("Address is already banned"));
    }
    Ok(created(&location(links, list.as_ref(), email.trim())))
}

async fn one<B: Backend>(
    backend: &B,
    links: &Links,
    list: Option<&str>,
    email: &str,
) -> ApiResult<Response> {
    let list = scope(backend, list).await?;
    let bans = backend.bans(list.as_ref()).await?;
    if let Some(found) = bans.iter().find(|b| b.eq_ignore_ascii_case(email)) {
        Ok(ok(ban_json(links, list.as_ref(), found)))
    } else {
        Err(ApiError::not_found(format!("Email is not banned: {email}")))
    }
}

async fn remove<B: Backend>(backend: &B, list: Option<&str>, email: &str) -> ApiResult<Response> {
    let list = scope(backend, list).await?;
    if backend.unban(list.as_ref(), email).await? {
        Ok(no_content())
    } else {
        Err(ApiError::not_found(format!("Email is not banned: {email}")))
    }
}

/// The site-wide bans.
#[utoipa::path(get, path = "/3.1/bans", tag = "bans",
    params(("count" = Option<u64>, Query), ("page" = Option<u64>, Query)), responses((status = 200, description = "A collection of bans")))]
pub async fn site<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
) -> ApiResult<Response> {
    collection_of(&backend, &links, &page, None).await
}

/// Bans an address or pattern site-wide.
#[utoipa::path(post, path = "/3.1/bans", tag = "bans",
    responses((status = 201, description = "Banned"), (status = 400, description = "Already banned")))]
pub async fn add_site<B: Backend>(
    State(backend): State<B>,
    links: Links,
    params: Params,
) -> ApiResult<Response> {
    add(&backend, &links, None, &params).await
}

/// One site-wide ban.
#[utoipa::path(get, path = "/3.1/bans/{email}", tag = "bans",
    params(("email" = String, Path)), responses((status = 200, description = "The ban"), (status = 404, description = "Not banned")))]
pub async fn one_site<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    one(&backend, &links, None, &email).await
}

/// Lifts a site-wide ban.
#[utoipa::path(delete, path = "/3.1/bans/{email}", tag = "bans",
    params(("email" = String, Path)), responses((status = 204, description = "Lifted"), (status = 404, description = "Not banned")))]
pub async fn remove_site<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    remove(&backend, None, &email).await
}

/// A list's bans.
#[utoipa::path(get, path = "/3.1/lists/{list}/bans", tag = "bans",
    params(("list" = String, Path), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of bans"), (status = 404, description = "No such list")))]
pub async fn list_bans<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    collection_of(&backend, &links, &page, Some(&list)).await
}

/// Bans an address or pattern from a list.
#[utoipa::path(post, path = "/3.1/lists/{list}/bans", tag = "bans",
    params(("list" = String, Path)), responses((status = 201, description = "Banned"), (status = 400, description = "Already banned")))]
pub async fn add_list<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    add(&backend, &links, Some(&list), &params).await
}

/// One ban of a list.
#[utoipa::path(get, path = "/3.1/lists/{list}/bans/{email}", tag = "bans",
    params(("list" = String, Path), ("email" = String, Path)), responses((status = 200, description = "The ban"), (status = 404, description = "Not banned")))]
pub async fn one_list<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path((list, email)): Path<(String, String)>,
) -> ApiResult<Response> {
    one(&backend, &links, Some(&list), &email).await
}

/// Lifts a ban of a list.
#[utoipa::path(delete, path = "/3.1/lists/{list}/bans/{email}", tag = "bans",
    params(("list" = String, Path), ("email" = String, Path)), responses((status = 204, description = "Lifted"), (status = 404, description = "Not banned")))]
pub async fn remove_list<B: Backend>(
    State(backend): State<B>,
    Path((list, email)): Path<(String, String)>,
) -> ApiResult<Response> {
    remove(&backend, Some(&list), &email).await
}
