//! `/addresses`: every email address the server knows, whether or not subscribed. One address
//! (`/addresses/<email>`: read, rename, delete), its user (`/user`: read, link, create, unlink),
//! verification (`/verify`, `/unverify`), its memberships and its preferences.
//!
//! An address is found by any spelling; its `self_link` uses the lower-cased form, and
//! `original_email` keeps the spelling it was first given. Deleting one deletes its
//! memberships, as in Mailman.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mailcast_model::EmailAddress;
use mailcast_store::Address;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::backend::{Backend, MemberFilter};
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, etagged, hex_id, no_content, ok, timestamp};
use crate::resources::{members, preferences, users};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/addresses", get(all::<B>))
        .route(
            "/3.1/addresses/{email}",
            get(one::<B>).patch(rename::<B>).delete(remove::<B>),
        )
        .route(
            "/3.1/addresses/{email}/user",
            get(user::<B>)
                .post(link::<B>)
                .put(relink::<B>)
                .delete(unlink::<B>),
        )
        .route("/3.1/addresses/{email}/verify", post(verify::<B>))
        .route("/3.1/addresses/{email}/unverify", post(unverify::<B>))
        .route("/3.1/addresses/{email}/memberships", get(memberships::<B>))
        .route(
            "/3.1/addresses/{email}/preferences",
            get(address_preferences::<B>)
                .patch(patch_preferences::<B>)
                .put(put_preferences::<B>)
                .delete(clear_preferences::<B>),
        )
}

/// An address's JSON (Mailman leaves out an unset name, verification and user).
pub fn address_json(links: &Links, a: &Address) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("email".into(), a.email.as_str().into());
    map.insert("original_email".into(), a.email.original().into());
    map.insert("registered_on".into(), timestamp(a.registered_on).into());
    map.insert(
        "self_link".into(),
        links.to(&format!("addresses/{}", a.email.as_str())).into(),
    );
    if let Some(name) = a.display_name.as_ref().filter(|n| !n.is_empty()) {
        map.insert("display_name".into(), name.clone().into());
    }
    if let Some(at) = a.verified_on {
        map.insert("verified_on".into(), timestamp(at).into());
    }
    if let Some(user) = a.user_id {
        map.insert(
            "user".into(),
            links.to(&format!("users/{}", hex_id(user))).into(),
        );
    }
    etagged(map)
}

/// The address a path names; unknown and malformed are both "not found".
pub async fn find<B: Backend>(backend: &B, segment: &str) -> ApiResult<Address> {
    let email = EmailAddress::parse(segment).map_err(|_| ApiError::no_resource())?;
    backend
        .address(&email)
        .await?
        .ok_or_else(ApiError::no_resource)
}

/// Every address, by registration time.
#[utoipa::path(get, path = "/3.1/addresses", tag = "addresses",
    params(("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of addresses")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
) -> ApiResult<Response> {
    let (offset, limit) = page.offset_limit();
    let (found, total) = backend.addresses(offset, limit).await?;
    let entries = found.iter().map(|a| address_json(&links, a)).collect();
    Ok(ok(collection(offset.min(total), total, entries)))
}

/// One address.
#[utoipa::path(get, path = "/3.1/addresses/{email}", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 200, description = "The address"), (status = 404, description = "No such address")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(address_json(&links, &find(&backend, &email).await?)))
}

/// Sets an address's `display_name` (blank: none).
#[utoipa::path(patch, path = "/3.1/addresses/{email}", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Invalid"), (status = 404, description = "No such address")))]
pub async fn rename<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    params.check(&["display_name"], &[])?;
    let name = params.text("display_name").filter(|n| !n.is_empty());
    backend
        .set_address_display_name(&address.email, name.as_deref())
        .await?;
    Ok(no_content())
}

/// Deletes an address with its memberships.
#[utoipa::path(delete, path = "/3.1/addresses/{email}", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such address")))]
pub async fn remove<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    backend.delete_address(&address.email).await?;
    Ok(no_content())
}

/// The user an address belongs to.
#[utoipa::path(get, path = "/3.1/addresses/{email}/user", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 200, description = "The user"), (status = 404, description = "No such address, or it has no user")))]
pub async fn user<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    let user = backend
        .user_by_email(&address.email)
        .await?
        .ok_or_else(ApiError::no_resource)?;
    Ok(ok(users::user_json(&links, &user)))
}

/// A `user_id` parameter, as Mailman's validator refuses one.
fn user_id(params: &Params) -> ApiResult<Option<Uuid>> {
    match params.text("user_id") {
        Some(text) => Uuid::try_parse(&text)
            .map(Some)
            .map_err(|_| invalid("user_id", "badly formed hexadecimal UUID string")),
        None => Ok(None),
    }
}

/// Links an address that has no user: to `user_id` (200), or to a new user (201 with its
/// `Location`; `auto_create=false` refuses with 403). 409 if it has a user.
#[utoipa::path(post, path = "/3.1/addresses/{email}/user", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 200, description = "Linked to the user named"), (status = 201, description = "Linked to a new user"),
        (status = 400, description = "Invalid, or no such user"), (status = 403, description = "No user named and auto_create is false"),
        (status = 404, description = "No such address"), (status = 409, description = "The address has a user")))]
pub async fn link<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(email): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    if address.user_id.is_some() {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            description: None,
        });
    }
    params.check(
        &[],
        &[
            "display_name",
            "password",
            "is_server_owner",
            "user_id",
            "auto_create",
        ],
    )?;
    if let Some(id) = user_id(&params)? {
        if backend.user(id).await?.is_none() {
            return Err(ApiError::bad_request(format!(
                "No user with ID {}",
                hex_id(id)
            )));
        }
        backend.link_address(&address.email, id).await?;
        return Ok(StatusCode::OK.into_response());
    }
    if !params.flag("auto_create")?.unwrap_or(true) {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            description: None,
        });
    }
    users::create_from(&backend, &links, &address.email, &params).await
}

/// Replaces an address's user: with `user_id` (200), or with a new user (201).
#[utoipa::path(put, path = "/3.1/addresses/{email}/user", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 200, description = "Linked to the user named"), (status = 201, description = "Linked to a new user"),
        (status = 400, description = "Invalid"), (status = 404, description = "No such address or user")))]
pub async fn relink<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(email): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    params.check(
        &[],
        &[
            "display_name",
            "password",
            "is_server_owner",
            "user_id",
            "email",
        ],
    )?;
    let id = user_id(&params)?;
    if let Some(id) = id
        && backend.user(id).await?.is_none()
    {
        return Err(ApiError::not_found(format!(
            "No user with ID {}",
            id.hyphenated()
        )));
    }
    if address.user_id.is_some() {
        backend.unlink_address(&address.email).await?;
    }
    if let Some(id) = id {
        backend.link_address(&address.email, id).await?;
        return Ok(StatusCode::OK.into_response());
    }
    users::create_from(&backend, &links, &address.email, &params).await
}

/// Unlinks an address from its user.
#[utoipa::path(delete, path = "/3.1/addresses/{email}/user", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Unlinked"), (status = 404, description = "No such address, or it has no user")))]
pub async fn unlink<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    if address.user_id.is_none() {
        return Err(ApiError::no_resource());
    }
    backend.unlink_address(&address.email).await?;
    Ok(no_content())
}

/// Marks an address verified now (an earlier verification is kept).
#[utoipa::path(post, path = "/3.1/addresses/{email}/verify", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Verified"), (status = 404, description = "No such address")))]
pub async fn verify<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    backend.set_address_verified(&address.email, true).await?;
    Ok(no_content())
}

/// Makes an address unverified.
#[utoipa::path(post, path = "/3.1/addresses/{email}/unverify", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Unverified"), (status = 404, description = "No such address")))]
pub async fn unverify<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    backend.set_address_verified(&address.email, false).await?;
    Ok(no_content())
}

/// The memberships of an address, by List-Id, then role.
#[utoipa::path(get, path = "/3.1/addresses/{email}/memberships", tag = "addresses",
    params(("email" = String, Path), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of members"), (status = 404, description = "No such address")))]
pub async fn memberships<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    let filter = MemberFilter {
        subscriber: Some(address.email.as_str().to_string()),
        ..MemberFilter::default()
    };
    let (offset, limit) = page.offset_limit();
    let (rows, total) = backend.members(&filter, offset, limit).await?;
    let entries = rows
        .iter()
        .map(|(list, m)| members::entry(members::member_json(&links, list, m), &[]))
        .collect();
    Ok(ok(collection(offset.min(total), total, entries)))
}

/// The preferences set on an address.
#[utoipa::path(get, path = "/3.1/addresses/{email}/preferences", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 200, description = "The preferences set on the address"), (status = 404, description = "No such address")))]
pub async fn address_preferences<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    let base = format!("addresses/{}", address.email.as_str());
    Ok(ok(preferences::stored_json(
        &links,
        &base,
        &address.preferences,
    )))
}

async fn set_preferences<B: Backend>(
    backend: &B,
    email: &str,
    params: &Params,
    put: bool,
) -> ApiResult<Response> {
    let address = find(backend, email).await?;
    let new = preferences::changed(&address.preferences, params, put)?;
    backend
        .set_address_preferences(&address.email, &new)
        .await?;
    Ok(no_content())
}

/// Changes some of an address's preferences (a blank value: inherit).
#[utoipa::path(patch, path = "/3.1/addresses/{email}/preferences", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Unknown or invalid preference"), (status = 404, description = "No such address")))]
pub async fn patch_preferences<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    set_preferences(&backend, &email, &params, false).await
}

/// Sets every preference of an address.
#[utoipa::path(put, path = "/3.1/addresses/{email}/preferences", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Missing, unknown or invalid preference"), (status = 404, description = "No such address")))]
pub async fn put_preferences<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    set_preferences(&backend, &email, &params, true).await
}

/// Returns every preference of an address to "inherit".
#[utoipa::path(delete, path = "/3.1/addresses/{email}/preferences", tag = "addresses",
    params(("email" = String, Path)),
    responses((status = 204, description = "Cleared"), (status = 404, description = "No such address")))]
pub async fn clear_preferences<B: Backend>(
    State(backend): State<B>,
    Path(email): Path<String>,
) -> ApiResult<Response> {
    let address = find(&backend, &email).await?;
    backend
        .set_address_preferences(&address.email, &Default::default())
        .await?;
    Ok(no_content())
}
