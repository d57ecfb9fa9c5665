//! `/lists/<list>/config`: every setting under Mailman's attribute names, and the read-only
//! attributes Mailman derives (`posting_address`, `post_id`, ...). GET reads all or one;
//! PATCH changes some; PUT changes all writable ones and requires every one of them.
//!
//! Values are checked against the setting's type before anything is written, with Mailman's
//! error texts. A form sends every value as text and a list as repeated keys; both are read.
//! A change to a setting that mailcast stores but does not act on yet succeeds and is named
//! in the `X-Mailcast-Not-Acted-On` response header (and the log), never accepted silently.
//! `header_matches` is not here but its own resource, as in Mailman.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use mailcast_model::settings::ListSettings;
use mailcast_store::MailingList;
use serde_json::{Map, Value};

use crate::backend::{Backend, ListView};
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::resource::{Links, etagged, no_content, ok, timestamp};
use crate::resources::lists;

/// The response header naming settings that were stored but are not acted on yet.
pub const NOT_ACTED_ON_HEADER: &str = "x-mailcast-not-acted-on";

/// Settings that have their own resource and are not list attributes.
const NOT_IN_CONFIG: &[&str] = &["header_matches"];

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route(
            "/3.1/lists/{list}/config",
            get(all::<B>)
                .patch(patch::<B>)
                .put(put::<B>)
                .delete(delete_all::<B>),
        )
        .route(
            "/3.1/lists/{list}/config/{attribute}",
            get(one::<B>).patch(patch_one::<B>).put(patch_one::<B>),
        )
}

/// The read-only attributes and their values.
pub fn read_only(list: &MailingList) -> Map<String, Value> {
    let a = &list.address;
    let time = |t: Option<jiff::Timestamp>| t.map(timestamp).map_or(Value::Null, Value::String);
    let mut map = Map::new();
    map.insert("bounces_address".into(), a.sub_address("bounces").into());
    map.insert("created_at".into(), timestamp(list.state.created_at).into());
    map.insert(
        "digest_last_sent_at".into(),
        time(list.state.digest_last_sent_at),
    );
    map.insert("fqdn_listname".into(), a.posting_address().into());
    map.insert("join_address".into(), a.sub_address("join").into());
    map.insert("last_post_at".into(), time(list.state.last_post_at));
    map.insert("leave_address".into(), a.sub_address("leave").into());
    map.insert("list_id".into(), list.list_id.clone().into());
    map.insert("list_name".into(), a.name().as_str().into());
    map.insert("mail_host".into(), a.domain().as_str().into());
    map.insert(
        "next_digest_number".into(),
        list.state.next_digest_number.into(),
    );
    map.insert(
        "no_reply_address".into(),
        format!("noreply@{}", a.domain().as_str()).into(),
    );
    map.insert("owner_address".into(), a.sub_address("owner").into());
    map.insert("post_id".into(), list.state.post_id.into());
    map.insert("posting_address".into(), a.posting_address().into());
    map.insert("request_address".into(), a.sub_address("request").into());
    map.insert("scheme".into(), "http".into());
    // mailcast has no NNTP gateway; Mailman shows null until a list gateways to news.
    map.insert("usenet_watermark".into(), Value::Null);
    map.insert("volume".into(), list.state.volume.into());
    map.insert("web_host".into(), a.domain().as_str().into());
    map
}

/// Every attribute of the list's configuration.
pub fn config_json(links: &Links, list: &MailingList) -> Map<String, Value> {
    let mut map = list.settings.to_json();
    for name in NOT_IN_CONFIG {
        map.remove(*name);
    }
    map.extend(read_only(list));
    map.insert(
        "self_link".into(),
        links.to(&format!("lists/{}/config", list.list_id)).into(),
    );
    map
}

fn writable(name: &str) -> bool {
    ListSettings::NAMES.contains(&name) && !NOT_IN_CONFIG.contains(&name)
}

/// The whole configuration.
#[utoipa::path(get, path = "/3.1/lists/{list}/config", tag = "lists",
    params(("list" = String, Path)), responses((status = 200, description = "Every attribute"), (status = 404, description = "No such list")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(list): Path<String>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    Ok(ok(etagged(config_json(&links, &view.list))))
}

/// One attribute, as `{name: value}`.
#[utoipa::path(get, path = "/3.1/lists/{list}/config/{attribute}", tag = "lists",
    params(("list" = String, Path), ("attribute" = String, Path)),
    responses((status = 200, description = "The attribute"), (status = 404, description = "Unknown attribute or list")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path((list, attribute)): Path<(String, String)>,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let config = config_json(&links, &view.list);
    let value = config
        .get(&attribute)
        .filter(|_| attribute != "self_link")
        .ok_or_else(|| ApiError::not_found(format!("Unknown attribute: {attribute}")))?;
    let mut map = Map::new();
    map.insert(attribute, value.clone());
    Ok(ok(etagged(map)))
}

/// Changes some attributes.
#[utoipa::path(patch, path = "/3.1/lists/{list}/config", tag = "lists",
    params(("list" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Unknown, read-only or invalid attribute")))]
pub async fn patch<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    for key in params.keys() {
        check_writable(&view, key)?;
    }
    apply(&backend, &view, &params).await
}

/// Changes every writable attribute; all must be given.
#[utoipa::path(put, path = "/3.1/lists/{list}/config", tag = "lists",
    params(("list" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Missing, unknown, read-only or invalid attribute")))]
pub async fn put<B: Backend>(
    State(backend): State<B>,
    Path(list): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let required: Vec<&str> = ListSettings::NAMES
        .iter()
        .copied()
        .filter(|n| writable(n))
        .collect();
    let read_only: Vec<String> = read_only(&view.list).keys().cloned().collect();
    let mut allowed: Vec<&str> = read_only.iter().map(String::as_str).collect();
    allowed.push("self_link");
    for key in params.keys() {
        if read_only.iter().any(|r| r == key) {
            return Err(ApiError::bad_request(format!("Read-only attribute: {key}")));
        }
    }
    params.check(&required, &allowed)?;
    apply(&backend, &view, &params).await
}

/// Changes one attribute (`PATCH` or `PUT` on `config/<attribute>`).
#[utoipa::path(patch, path = "/3.1/lists/{list}/config/{attribute}", tag = "lists",
    params(("list" = String, Path), ("attribute" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Read-only or invalid"), (status = 404, description = "Unknown attribute")))]
pub async fn patch_one<B: Backend>(
    State(backend): State<B>,
    Path((list, attribute)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let keys = params.keys();
    if keys.len() > 1 {
        return Err(ApiError::bad_request(format!(
            "Expected 1 attribute, got {}",
            keys.len()
        )));
    }
    if !writable(&attribute) && !read_only(&view.list).contains_key(&attribute) {
        return Err(ApiError::not_found(format!(
            "Unknown attribute: {attribute}"
        )));
    }
    check_writable(&view, &attribute)?;
    params.check(&[attribute.as_str()], &[])?;
    apply(&backend, &view, &params).await
}

/// `DELETE config`: refused, as in Mailman.
pub async fn delete_all<B: Backend>() -> ApiError {
    ApiError::bad_request("Cannot delete the list configuration itself")
}

fn check_writable(view: &ListView, key: &str) -> ApiResult<()> {
    if writable(key) {
        Ok(())
    } else if read_only(&view.list).contains_key(key) || key == "self_link" {
        Err(ApiError::bad_request(format!("Read-only attribute: {key}")))
    } else {
        Err(ApiError::bad_request(format!("Unknown attribute: {key}")))
    }
}

/// The JSON value of each named setting: a form's repeated keys (or one key) become a list
/// where the setting is a list.
fn values(view: &ListView, params: &Params) -> ApiResult<Vec<(String, Value)>> {
    let mut keys: Vec<&str> = params.keys();
    keys.dedup();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let given = params.all(key);
        let current = view
            .list
            .settings
            .get(key)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let value = match (&current, given.as_slice()) {
            (Value::Array(_), [Value::Array(items)]) => Value::Array(items.clone()),
            (Value::Array(_), [Value::String(s)]) if s.is_empty() => Value::Array(Vec::new()),
            (Value::Array(_), items) => Value::Array(items.iter().map(|v| (*v).clone()).collect()),
            (_, [one]) => (*one).clone(),
            (_, _) => return Err(invalid(key, "expected one value")),
        };
        let mut probe = view.list.settings.clone();
        probe.set_json(key, &value).map_err(|e| match e {
            mailcast_model::settings::SettingError::Invalid { key, reason } => {
                invalid(&key, &reason)
            }
            other => ApiError::bad_request(other.to_string()),
        })?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

async fn apply<B: Backend>(backend: &B, view: &ListView, params: &Params) -> ApiResult<Response> {
    let values = values(view, params)?;
    backend.set_settings(&view.list.address, &values).await?;
    let ignored: Vec<&str> = values
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| ListSettings::is_not_acted_on(k))
        .collect();
    let mut response = no_content();
    if !ignored.is_empty() {
        tracing::warn!(target: "http", list = %view.list.address, settings = %ignored.join(", "),
            "settings stored that mailcast does not act on yet");
        if let Ok(value) = HeaderValue::from_str(&ignored.join(", ")) {
            response.headers_mut().insert(NOT_ACTED_ON_HEADER, value);
        }
    }
    Ok(response)
}
