//! `/lists`: the mailing lists, one list, list creation with a style, `/lists/styles` and
//! `/lists/find`.
//!
//! A list is named in a path by its List-Id (`ant.example.com`) or, when the segment holds an
//! `@`, by its posting address, as in Mailman.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use mailcast_model::{ListAddress, MemberRole};
use serde_json::{Map, Value};

use crate::backend::{Backend, ListView, MemberFilter};
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, created, etagged, no_content, ok};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/lists", get(all::<B>).post(create::<B>))
        .route("/3.1/lists/styles", get(styles::<B>))
        .route(
            "/3.1/lists/find",
            get(find_lists::<B>).post(find_lists::<B>),
        )
        .route("/3.1/lists/{list}", get(one::<B>).delete(remove::<B>))
}

/// A list's JSON.
pub fn list_json(links: &Links, view: &ListView) -> Map<String, Value> {
    let list = &view.list;
    let s = &list.settings;
    let mut map = Map::new();
    map.insert("advertised".into(), s.advertised.into());
    map.insert("description".into(), s.description.0.clone().into());
    map.insert("display_name".into(), s.display_name.0.clone().into());
    map.insert(
        "fqdn_listname".into(),
        list.address.posting_address().into(),
    );
    map.insert("list_id".into(), list.list_id.clone().into());
    map.insert("list_name".into(), list.address.name().as_str().into());
    map.insert("mail_host".into(), list.address.domain().as_str().into());
    map.insert("member_count".into(), view.member_count.into());
    map.insert(
        "self_link".into(),
        links.to(&format!("lists/{}", list.list_id)).into(),
    );
    map.insert("volume".into(), list.state.volume.into());
    etagged(map)
}

/// The list a path segment names; 404 if none.
pub async fn find<B: Backend>(backend: &B, segment: &str) -> ApiResult<ListView> {
    if segment.contains('@') {
        let address = ListAddress::parse(segment).map_err(|_| ApiError::no_resource())?;
        backend
            .list(&address)
            .await
            .map_err(|_| ApiError::no_resource())
    } else {
        backend
            .list_by_id(&segment.to_ascii_lowercase())
            .await
            .map_err(|_| ApiError::no_resource())
    }
}

/// All lists; `advertised=true` keeps only the advertised ones.
#[utoipa::path(get, path = "/3.1/lists", tag = "lists",
    params(("advertised" = Option<bool>, Query), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of lists")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    params: Params,
) -> ApiResult<Response> {
    listing(&links, page, &params, backend.lists(None).await?)
}

/// A collection of lists (all, or a domain's): `advertised=true` keeps only the advertised
/// ones, as Mailman's `_filter_lists` does; no other parameter is taken.
pub(crate) fn listing(
    links: &Links,
    page: Page,
    params: &Params,
    mut views: Vec<ListView>,
) -> ApiResult<Response> {
    params.check(&[], &["advertised"])?;
    if params.flag("advertised")?.unwrap_or(false) {
        views.retain(|v| v.list.settings.advertised);
    }
    let (start, total, views) = page.slice(views);
    let entries = views.iter().map(|v| list_json(links, v)).collect();
    Ok(ok(collection(start, total, entries)))
}

/// Creates a list (`fqdn_listname`, optional `style_name`).
#[utoipa::path(post, path = "/3.1/lists", tag = "lists",
    responses((status = 201, description = "Created; `Location` names the list"), (status = 400, description = "Invalid, existing, or in an unknown domain")))]
pub async fn create<B: Backend>(
    State(backend): State<B>,
    links: Links,
    params: Params,
) -> ApiResult<Response> {
    params.check(&["fqdn_listname"], &["style_name"])?;
    let fqdn = params.text("fqdn_listname").unwrap_or_default();
    let Some((local, host)) = fqdn.rsplit_once('@') else {
        return Err(ApiError::bad_request(format!(
            "Invalid list posting address: {fqdn}"
        )));
    };
    let domain = mailcast_model::DomainName::parse(host)
        .map_err(|_| ApiError::bad_request(format!("Invalid list posting address: {fqdn}")))?;
    if mailcast_model::ListName::parse(local).is_err() {
        return Err(ApiError::bad_request(format!("Invalid list name: {local}")));
    }
    let address = ListAddress::parse(&fqdn)
        .map_err(|_| ApiError::bad_request(format!("Invalid list posting address: {fqdn}")))?;
    if backend.domain(&domain).await.is_err() {
        return Err(ApiError::bad_request(format!(
            "Domain does not exist: {}",
            domain.as_str()
        )));
    }
    if backend.list(&address).await.is_ok() {
        return Err(ApiError::bad_request("Mailing list exists"));
    }
    let style = params.text("style_name");
    if let Some(name) = &style
        && !backend.styles().iter().any(|s| &s.name == name)
    {
        return Err(invalid("style_name", &format!("Unknown style: {name}")));
    }
    let view = backend.create_list(&address, style.as_deref()).await?;
    Ok(created(&links.to(&format!("lists/{}", view.list.list_id))))
}

/// One list.
#[utoipa::path(get, path = "/3.1/lists/{list}", tag = "lists",
    params(("list" = String, Path, description = "List-Id or posting address")),
    responses((status = 200, description = "The list"), (status = 404, description = "No such list")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(list_json(&links, &find(&backend, &list).await?)))
}

/// Removes a list, its members, requests and held posts.
#[utoipa::path(delete, path = "/3.1/lists/{list}", tag = "lists",
    params(("list" = String, Path)), responses((status = 204, description = "Removed"), (status = 404, description = "No such list")))]
pub async fn remove<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = find(&backend, &list).await?;
    backend.remove_list(&view.list.address).await?;
    Ok(no_content())
}

/// The styles a list can be created with.
#[utoipa::path(get, path = "/3.1/lists/styles", tag = "lists",
    responses((status = 200, description = "`style_names`, `styles` and `default`")))]
pub async fn styles<B: Backend>(State(backend): State<B>) -> Response {
    let styles = backend.styles();
    let mut names: Vec<&str> = styles.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    let mut map = Map::new();
    map.insert(
        "default".into(),
        styles
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default()
            .into(),
    );
    map.insert("style_names".into(), names.into());
    map.insert(
        "styles".into(),
        Value::Array(
            styles
                .iter()
                .map(|s| serde_json::json!({"name": s.name, "description": s.description}))
                .collect(),
        ),
    );
    ok(etagged(map))
}

/// The lists an address belongs to (`subscriber`, optional `role`, `mail_host`).
#[utoipa::path(get, path = "/3.1/lists/find", tag = "lists",
    params(("subscriber" = String, Query), ("role" = Option<String>, Query), ("mail_host" = Option<String>, Query)),
    responses((status = 200, description = "A collection of lists"), (status = 404, description = "None")))]
pub async fn find_lists<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    params: Params,
) -> ApiResult<Response> {
    params.check(&["subscriber"], &["role", "mail_host"])?;
    let role = match params.text("role") {
        Some(text) => Some(MemberRole::parse(&text).map_err(|e| invalid("role", &e.to_string()))?),
        None => None,
    };
    let filter = MemberFilter {
        list: None,
        subscriber: params.text("subscriber"),
        role,
    };
    let (memberships, _) = backend.members(&filter, 0, u64::MAX).await?;
    let host = params.text("mail_host").map(|h| h.to_ascii_lowercase());
    let addresses: BTreeSet<ListAddress> = memberships
        .into_iter()
        .filter(|(_, member)| role.is_some() || member.role != MemberRole::Nonmember)
        .map(|(list, _)| list)
        .filter(|list| host.as_deref().is_none_or(|h| list.domain().as_str() == h))
        .collect();
    let mut views = Vec::with_capacity(addresses.len());
    for address in &addresses {
        if let Ok(view) = backend.list(address).await {
            views.push(view);
        }
    }
    if views.is_empty() {
        return Err(ApiError::no_resource());
    }
    views.sort_by(|a, b| a.list.list_id.cmp(&b.list.list_id));
    let (start, total, views) = page.slice(views);
    let entries = views.iter().map(|v| list_json(&links, v)).collect();
    Ok(ok(collection(start, total, entries)))
}
