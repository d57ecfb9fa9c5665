//! `/system/versions` and `/system/preferences`: what the server is, and the site-wide
//! defaults of the member preferences (Mailman's `system_preferences`); `/system/pipelines`
//! and `/system/chains`: the names a list's `posting_pipeline` and a header match's action
//! may take (Postorius offers them in its forms).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::backend::Backend;
use crate::resource::{API_VERSION, Links, etagged, ok};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/system", get(versions::<B>))
        .route("/3.1/system/versions", get(versions::<B>))
        .route("/3.1/system/preferences", get(preferences::<B>))
        .route("/3.1/system/pipelines", get(pipelines))
        .route("/3.1/system/chains", get(chains))
}

/// Mailman 3.3.10's pipeline names. mailcast runs its one posting pipeline whatever a list's
/// `posting_pipeline` says (a setting it stores but does not act on).
pub const PIPELINES: &[&str] = &[
    "default-owner-pipeline",
    "default-posting-pipeline",
    "virgin",
];

/// Mailman 3.3.10's chain names, sorted.
pub const CHAINS: &[&str] = &[
    "accept",
    "default-owner-chain",
    "default-posting-chain",
    "discard",
    "dmarc",
    "header-match",
    "hold",
    "moderation",
    "reject",
];

/// The pipeline names, as Mailman lists them.
#[utoipa::path(get, path = "/3.1/system/pipelines", tag = "system",
    responses((status = 200, description = "`pipelines`: the pipeline names, sorted")))]
pub async fn pipelines() -> Response {
    ok(etagged(names("pipelines", PIPELINES)))
}

/// The chain names, as Mailman lists them.
#[utoipa::path(get, path = "/3.1/system/chains", tag = "system",
    responses((status = 200, description = "`chains`: the chain names, sorted")))]
pub async fn chains() -> Response {
    ok(etagged(names("chains", CHAINS)))
}

fn names(key: &str, names: &[&str]) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(key.into(), names.iter().map(|n| Value::from(*n)).collect());
    map
}

/// The server and API versions.
#[utoipa::path(get, path = "/3.1/system/versions", tag = "system",
    responses((status = 200, description = "`mailman_version`, `python_version`, `api_version`, `self_link`")))]
pub async fn versions<B: Backend>(State(backend): State<B>, links: Links) -> Response {
    let mut map = Map::new();
    map.insert("api_version".into(), API_VERSION.into());
    map.insert("mailman_version".into(), backend.server_version().into());
    map.insert(
        "python_version".into(),
        Value::String(format!("mailcast (Rust) {}", env!("CARGO_PKG_VERSION"))),
    );
    map.insert("self_link".into(), links.to("system/versions").into());
    ok(etagged(map))
}

/// The site's default member preferences (read-only, as in Mailman).
#[utoipa::path(get, path = "/3.1/system/preferences", tag = "system",
    responses((status = 200, description = "The site-wide preference defaults")))]
pub async fn preferences<B: Backend>(links: Links) -> Response {
    ok(etagged(site_preferences(&links)))
}

/// Mailman's site-wide preference defaults.
pub fn site_preferences(links: &Links) -> Map<String, Value> {
    let Value::Object(mut map) = json!({
        "acknowledge_posts": false,
        "delivery_mode": "regular",
        "delivery_status": "enabled",
        "hide_address": true,
        "preferred_language": "en",
        "receive_list_copy": true,
        "receive_own_postings": true,
    }) else {
        unreachable!("a JSON object literal")
    };
    map.insert("self_link".into(), links.to("system/preferences").into());
    map
}
