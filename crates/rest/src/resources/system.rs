//! `/system/versions` and `/system/preferences`: what the server is, and the site-wide
//! defaults of the member preferences (Mailman's `system_preferences`).

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
