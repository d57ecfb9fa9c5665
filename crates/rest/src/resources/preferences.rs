//! Preferences: a member's own (`/members/<id>/preferences`) and the combined view
//! (`/members/<id>/all/preferences`: the member's, else the site's defaults).
//!
//! Mailman shows only the preferences set at a level; `all/preferences` fills the rest from
//! the levels below. A PATCH changes the given ones; a blank value returns one to "inherit".

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use mailcast_store::{Member, Preferences};
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::body::{Params, invalid};
use crate::error::ApiResult;
use crate::resource::{Links, etagged, no_content, ok};
use crate::resources::{members, system};

/// The preference names Mailman's preference resources take.
pub const PREFERENCES: &[&str] = &[
    "acknowledge_posts",
    "delivery_mode",
    "delivery_status",
    "hide_address",
    "preferred_language",
    "receive_list_copy",
    "receive_own_postings",
];

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route(
            "/3.1/members/{id}/preferences",
            get(member_preferences::<B>)
                .patch(change::<B>)
                .put(change::<B>),
        )
        .route(
            "/3.1/members/{id}/all/preferences",
            get(all_preferences::<B>),
        )
}

/// The preferences set on a membership.
pub fn member_preferences_json(m: &Member) -> Map<String, Value> {
    let p = &m.preferences;
    let mut map = Map::new();
    let mut flag = |k: &str, v: Option<bool>| {
        if let Some(v) = v {
            map.insert(k.into(), v.into());
        }
    };
    flag("acknowledge_posts", p.acknowledge_posts);
    flag("hide_address", p.hide_address);
    flag("receive_list_copy", p.receive_list_copy);
    flag("receive_own_postings", p.receive_own_postings);
    map.insert("delivery_mode".into(), m.delivery_mode.as_str().into());
    map.insert("delivery_status".into(), m.delivery_status.as_str().into());
    if let Some(lang) = &p.preferred_language {
        map.insert("preferred_language".into(), lang.clone().into());
    }
    map
}

async fn member<B: Backend>(backend: &B, id: &str) -> ApiResult<Member> {
    Ok(members::existing(backend, id).await?.1)
}

/// A membership's own preferences.
#[utoipa::path(get, path = "/3.1/members/{id}/preferences", tag = "members",
    params(("id" = String, Path)), responses((status = 200, description = "The preferences set on the member"), (status = 404, description = "No such member")))]
pub async fn member_preferences<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let member = member(&backend, &id).await?;
    let mut map = member_preferences_json(&member);
    map.insert(
        "self_link".into(),
        links.to(&format!("members/{id}/preferences")).into(),
    );
    Ok(ok(etagged(map)))
}

/// Every preference of a membership, with the site's defaults where the member has none.
#[utoipa::path(get, path = "/3.1/members/{id}/all/preferences", tag = "members",
    params(("id" = String, Path)), responses((status = 200, description = "The combined preferences"), (status = 404, description = "No such member")))]
pub async fn all_preferences<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let member = member(&backend, &id).await?;
    let mut map = system::site_preferences(&links);
    map.extend(member_preferences_json(&member));
    map.insert(
        "self_link".into(),
        links.to(&format!("members/{id}/all/preferences")).into(),
    );
    Ok(ok(etagged(map)))
}

/// Changes a membership's preferences.
#[utoipa::path(patch, path = "/3.1/members/{id}/preferences", tag = "members",
    params(("id" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Unknown or invalid preference"), (status = 404, description = "No such member")))]
pub async fn change<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let member = member(&backend, &id).await?;
    let pairs = checked(&params)?;
    backend.set_member(member.id, &pairs).await?;
    Ok(no_content())
}

/// The `(name, text)` pairs of a preference change, each value checked.
pub fn checked(params: &Params) -> ApiResult<Vec<(String, String)>> {
    params.check(&[], &[PREFERENCES, &["self_link"]].concat())?;
    let mut pairs = Vec::new();
    for key in params.keys() {
        if key == "self_link" {
            continue;
        }
        let text = params.text(key).unwrap_or_default();
        let valid = text.is_empty()
            || match key {
                "delivery_mode" => mailcast_model::DeliveryMode::parse(&text).is_ok(),
                "delivery_status" => mailcast_model::DeliveryStatus::parse(&text).is_ok(),
                "preferred_language" => {
                    text.len() <= 16
                        && text
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                }
                _ => crate::body::boolean(&text).is_some(),
            };
        if !valid {
            return Err(invalid(key, &format!("Invalid value: {text}")));
        }
        let normalized = match crate::body::boolean(&text) {
            Some(b)
                if !matches!(
                    key,
                    "delivery_mode" | "delivery_status" | "preferred_language"
                ) =>
            {
                b.to_string()
            }
            _ => text,
        };
        pairs.push((key.to_string(), normalized));
    }
    Ok(pairs)
}

/// The preferences set on a user or an address (unset ones left out, as Mailman shows them),
/// with the `self_link` of `<base>/preferences`.
pub fn stored_json(links: &Links, base: &str, p: &Preferences) -> Map<String, Value> {
    let mut map = Map::new();
    let mut flag = |k: &str, v: Option<bool>| {
        if let Some(v) = v {
            map.insert(k.into(), v.into());
        }
    };
    flag("acknowledge_posts", p.acknowledge_posts);
    flag("hide_address", p.hide_address);
    flag("receive_list_copy", p.receive_list_copy);
    flag("receive_own_postings", p.receive_own_postings);
    if let Some(mode) = p.delivery_mode {
        map.insert("delivery_mode".into(), mode.as_str().into());
    }
    if let Some(status) = p.delivery_status {
        map.insert("delivery_status".into(), status.as_str().into());
    }
    if let Some(lang) = &p.preferred_language {
        map.insert("preferred_language".into(), lang.clone().into());
    }
    map.insert(
        "self_link".into(),
        links.to(&format!("{base}/preferences")).into(),
    );
    etagged(map)
}

/// `current` changed by a PATCH, or by a PUT (which must name every preference), of
/// `params`; a blank value returns a preference to "inherit".
pub fn changed(current: &Preferences, params: &Params, put: bool) -> ApiResult<Preferences> {
    if put {
        params.check(PREFERENCES, &["self_link"])?;
    }
    let mut p = current.clone();
    for (key, text) in checked(params)? {
        let flag = crate::body::boolean(&text);
        match key.as_str() {
            "acknowledge_posts" => p.acknowledge_posts = flag,
            "hide_address" => p.hide_address = flag,
            "receive_list_copy" => p.receive_list_copy = flag,
            "receive_own_postings" => p.receive_own_postings = flag,
            "delivery_mode" => p.delivery_mode = mailcast_model::DeliveryMode::parse(&text).ok(),
            "delivery_status" => {
                p.delivery_status = mailcast_model::DeliveryStatus::parse(&text).ok()
            }
            "preferred_language" => p.preferred_language = Some(text).filter(|t| !t.is_empty()),
            _ => {}
        }
    }
    Ok(p)
}
