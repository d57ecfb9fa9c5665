//! Template URIs (Mailman 3.1's `/uris`): the site's (`/uris`), a domain's
//! (`/domains/<host>/uris`) and a list's (`/lists/<list>/uris`). PATCH and PUT take
//! `{template name: URI}` with an optional `username` and `password` for fetching; an empty URI
//! removes the override. A list takes only `list:` templates; a domain `list:` and `domain:`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use mailcast_store::{TemplateRecord, TemplateScope};
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::body::Params;
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, etagged, no_content, ok};
use crate::resources::{domains, lists};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route(
            "/3.1/uris",
            get(all::<B>)
                .patch(patch::<B>)
                .put(put::<B>)
                .delete(remove_all::<B>),
        )
        .route("/3.1/uris/{name}", get(one::<B>).delete(remove_one::<B>))
        .route(
            "/3.1/domains/{host}/uris",
            get(all::<B>)
                .patch(patch::<B>)
                .put(put::<B>)
                .delete(remove_all::<B>),
        )
        .route(
            "/3.1/domains/{host}/uris/{name}",
            get(one::<B>).delete(remove_one::<B>),
        )
        .route(
            "/3.1/lists/{list}/uris",
            get(all::<B>)
                .patch(patch::<B>)
                .put(put::<B>)
                .delete(remove_all::<B>),
        )
        .route(
            "/3.1/lists/{list}/uris/{name}",
            get(one::<B>).delete(remove_one::<B>),
        )
}

/// Where a request's templates live, and the path prefix of their links.
struct Scope {
    scope: TemplateScope,
    prefix: String,
}

impl Scope {
    fn allows(&self, name: &str) -> bool {
        match self.scope {
            TemplateScope::Site => true,
            TemplateScope::Domain(_) => name.starts_with("list:") || name.starts_with("domain:"),
            TemplateScope::List(_) => name.starts_with("list:"),
        }
    }

    fn link(&self, links: &Links, name: &str) -> String {
        links.to(&format!("{}uris/{name}", self.prefix))
    }
}

/// The scope named by the path: `/3.1/uris...`, `/3.1/domains/<host>/uris...` or
/// `/3.1/lists/<list>/uris...`.
async fn scope<B: Backend>(backend: &B, uri: &axum::http::Uri) -> ApiResult<Scope> {
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [_, "domains", host, ..] => {
            let domain = domains::find(backend, host).await?;
            Ok(Scope {
                prefix: format!("domains/{}/", domain.mail_host.as_str()),
                scope: TemplateScope::Domain(domain.mail_host),
            })
        }
        [_, "lists", list, ..] => {
            let view = lists::find(backend, list).await?;
            Ok(Scope {
                prefix: format!("lists/{}/", view.list.list_id),
                scope: TemplateScope::List(view.list.address),
            })
        }
        _ => Ok(Scope {
            scope: TemplateScope::Site,
            prefix: String::new(),
        }),
    }
}

fn template_json(links: &Links, scope: &Scope, t: &TemplateRecord) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("name".into(), t.name.clone().into());
    map.insert("uri".into(), t.uri.clone().into());
    map.insert("self_link".into(), scope.link(links, &t.name).into());
    if let (Some(user), Some(pass)) = (&t.username, &t.password) {
        map.insert("username".into(), user.clone().into());
        map.insert("password".into(), pass.clone().into());
    }
    etagged(map)
}

async fn overrides<B: Backend>(backend: &B, scope: &Scope) -> ApiResult<Vec<TemplateRecord>> {
    let mut all: Vec<TemplateRecord> = backend
        .templates(&scope.scope)
        .await?
        .into_iter()
        .filter(|t| t.scope == scope.scope)
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

/// The template overrides of a scope.
#[utoipa::path(get, path = "/3.1/lists/{list}/uris", tag = "templates",
    params(("list" = String, Path)), responses((status = 200, description = "A collection of template URIs")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    let scope = scope(&backend, &uri).await?;
    let (start, total, items) = page.slice(overrides(&backend, &scope).await?);
    let mut map = collection(
        start,
        total,
        items
            .iter()
            .map(|t| template_json(&links, &scope, t))
            .collect(),
    );
    map.insert(
        "self_link".into(),
        links.to(&format!("{}uris", scope.prefix)).into(),
    );
    Ok(ok(etagged(map)))
}

/// One template override: its `uri`.
#[utoipa::path(get, path = "/3.1/lists/{list}/uris/{name}", tag = "templates",
    params(("list" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The URI"), (status = 404, description = "No override")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    uri: axum::http::Uri,
    Path(path): Path<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let scope = scope(&backend, &uri).await?;
    let name = name_of(&path);
    let found = overrides(&backend, &scope)
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(ApiError::no_resource)?;
    let mut map = Map::new();
    map.insert("uri".into(), found.uri.into());
    map.insert("self_link".into(), scope.link(&links, &name).into());
    Ok(ok(etagged(map)))
}

fn name_of(path: &[(String, String)]) -> String {
    path.iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

async fn set<B: Backend>(
    backend: &B,
    uri: &axum::http::Uri,
    params: &Params,
    all_required: bool,
) -> ApiResult<Response> {
    let scope = scope(backend, uri).await?;
    let names: Vec<&str> = backend
        .template_names()
        .iter()
        .copied()
        .filter(|n| scope.allows(n))
        .collect();
    let required: &[&str] = if all_required { &names } else { &[] };
    params.check(
        required,
        &[names.as_slice(), &["username", "password"]].concat(),
    )?;
    let username = params.text("username").filter(|u| !u.is_empty());
    let password = params.text("password").filter(|p| !p.is_empty());
    if username.is_some() != password.is_some() {
        return Err(ApiError::bad_request(
            "Specify both username and password, or neither",
        ));
    }
    for key in params.keys() {
        if key == "username" || key == "password" {
            continue;
        }
        let value = params.text(key).unwrap_or_default();
        if value.is_empty() {
            backend.remove_template(&scope.scope, key).await?;
        } else {
            backend
                .set_template(
                    &scope.scope,
                    key,
                    &value,
                    username.as_deref(),
                    password.as_deref(),
                )
                .await?;
        }
    }
    Ok(no_content())
}

/// Sets or removes some overrides.
#[utoipa::path(patch, path = "/3.1/lists/{list}/uris", tag = "templates",
    params(("list" = String, Path)), responses((status = 204, description = "Changed"), (status = 400, description = "Unknown template or bad URI")))]
pub async fn patch<B: Backend>(
    State(backend): State<B>,
    uri: axum::http::Uri,
    params: Params,
) -> ApiResult<Response> {
    set(&backend, &uri, &params, false).await
}

/// Sets every override of the scope (all names required).
pub async fn put<B: Backend>(
    State(backend): State<B>,
    uri: axum::http::Uri,
    params: Params,
) -> ApiResult<Response> {
    set(&backend, &uri, &params, true).await
}

/// Removes every override of the scope.
pub async fn remove_all<B: Backend>(
    State(backend): State<B>,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    let scope = scope(&backend, &uri).await?;
    for t in overrides(&backend, &scope).await? {
        backend.remove_template(&scope.scope, &t.name).await?;
    }
    Ok(no_content())
}

/// Removes one override.
pub async fn remove_one<B: Backend>(
    State(backend): State<B>,
    uri: axum::http::Uri,
    Path(path): Path<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let scope = scope(&backend, &uri).await?;
    let name = name_of(&path);
    if !backend.remove_template(&scope.scope, &name).await? {
        return Err(ApiError::no_resource());
    }
    Ok(no_content())
}
