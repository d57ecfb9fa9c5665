//! `/users`: the people behind addresses. Creating one (`POST /users`), one user
//! (`/users/<id or email>`: read, change, delete), its addresses, its preferred address, its
//! preferences and `login` (checking a password).
//!
//! As in Mailman, a user is named in a path by its hex id or by any of its addresses. Passwords
//! are stored as hashes ([`crate::password`]) and shown only as such; a user created without
//! one gets a random one. `DELETE` removes the user's addresses and their memberships too.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use mailcast_model::EmailAddress;
use mailcast_store::User;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::backend::{Backend, UserChange};
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::password;
use crate::resource::{Links, created, etagged, hex_id, no_content, ok, timestamp};
use crate::resources::{addresses, preferences};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/users", get(all::<B>).post(create::<B>))
        .route("/3.1/users/find", get(find_users::<B>))
        .route(
            "/3.1/users/{id}",
            get(one::<B>)
                .patch(patch::<B>)
                .put(put::<B>)
                .delete(remove::<B>),
        )
        .route(
            "/3.1/users/{id}/addresses",
            get(user_addresses::<B>).post(add_address::<B>),
        )
        .route(
            "/3.1/users/{id}/preferred_address",
            get(preferred::<B>)
                .post(set_preferred::<B>)
                .delete(clear_preferred::<B>),
        )
        .route(
            "/3.1/users/{id}/preferences",
            get(user_preferences::<B>)
                .patch(patch_preferences::<B>)
                .put(put_preferences::<B>)
                .delete(clear_preferences::<B>),
        )
        .route("/3.1/users/{id}/login", post(login::<B>))
}

/// A user's JSON (Mailman leaves out an unset name and password).
pub fn user_json(links: &Links, user: &User) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("created_on".into(), timestamp(user.created_on).into());
    map.insert("is_server_owner".into(), user.is_server_owner.into());
    map.insert(
        "self_link".into(),
        links.to(&format!("users/{}", hex_id(user.id))).into(),
    );
    map.insert("user_id".into(), hex_id(user.id).into());
    if let Some(hash) = user.password.as_ref().filter(|p| !p.is_empty()) {
        map.insert("password".into(), hash.clone().into());
    }
    if let Some(name) = user.display_name.as_ref().filter(|n| !n.is_empty()) {
        map.insert("display_name".into(), name.clone().into());
    }
    etagged(map)
}

/// The user a path names: an email address (any of the user's) or a hex id; anything else,
/// or nobody, is "not found".
pub async fn find<B: Backend>(backend: &B, segment: &str) -> ApiResult<User> {
    let found = if segment.contains('@') {
        let email = EmailAddress::parse(segment).map_err(|_| ApiError::no_resource())?;
        backend.user_by_email(&email).await?
    } else {
        let id = Uuid::try_parse(segment).map_err(|_| ApiError::no_resource())?;
        backend.user(id).await?
    };
    found.ok_or_else(ApiError::no_resource)
}

/// An email address parameter, refused with Mailman's text.
fn email_param(params: &Params, key: &str) -> ApiResult<EmailAddress> {
    let text = params.text(key).unwrap_or_default();
    EmailAddress::parse(&text)
        .map_err(|_| ApiError::bad_request(format!("Invalid email address {text}")))
}

/// A non-empty display name parameter.
fn name_param(params: &Params) -> Option<String> {
    params.text("display_name").filter(|n| !n.is_empty())
}

/// Creates a user from `email`, `display_name`, `password` and `is_server_owner` (the
/// creation of `POST /users` and of `POST /addresses/<email>/user`).
pub async fn create_from<B: Backend>(
    backend: &B,
    links: &Links,
    email: &EmailAddress,
    params: &Params,
) -> ApiResult<Response> {
    let owner = params.flag("is_server_owner")?.unwrap_or(false);
    let hash = match params.text("password") {
        Some(cleartext) => password::hash(&cleartext).await,
        None => password::random().await,
    };
    let name = name_param(params);
    let user = backend
        .create_user(email, name.as_deref(), Some(&hash), owner)
        .await?;
    Ok(created(&links.to(&format!("users/{}", hex_id(user.id)))))
}

/// Every user.
#[utoipa::path(get, path = "/3.1/users", tag = "users",
    params(("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of users")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
) -> ApiResult<Response> {
    users_page(&backend, &links, &page, None).await
}

/// The users whose display name, or one of whose addresses or their names, contains `q`
/// (case-insensitive), each once, by creation time.
#[utoipa::path(get, path = "/3.1/users/find", tag = "users",
    params(("q" = String, Query), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of users"), (status = 400, description = "No q")))]
pub async fn find_users<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    params: Params,
) -> ApiResult<Response> {
    params.check(&["q"], &[])?;
    let text = params.text("q").unwrap_or_default();
    users_page(&backend, &links, &page, Some(&text)).await
}

async fn users_page<B: Backend>(
    backend: &B,
    links: &Links,
    page: &Page,
    search: Option<&str>,
) -> ApiResult<Response> {
    let (offset, limit) = page.offset_limit();
    let (users, total) = backend.users(search, offset, limit).await?;
    let entries = users.iter().map(|u| user_json(links, u)).collect();
    Ok(ok(collection(offset.min(total), total, entries)))
}

/// Creates a user (`email`; optional `display_name`, `password`, `is_server_owner`).
#[utoipa::path(post, path = "/3.1/users", tag = "users",
    responses((status = 201, description = "Created; `Location` names the user"),
        (status = 400, description = "Invalid, or the address has a user already")))]
pub async fn create<B: Backend>(
    State(backend): State<B>,
    links: Links,
    params: Params,
) -> ApiResult<Response> {
    params.check(&["email"], &["display_name", "password", "is_server_owner"])?;
    let email = email_param(&params, "email")?;
    create_from(&backend, &links, &email, &params).await
}

/// One user, by id or by one of its addresses.
#[utoipa::path(get, path = "/3.1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user id (hex) or one of its addresses")),
    responses((status = 200, description = "The user"), (status = 404, description = "No such user")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(user_json(&links, &find(&backend, &id).await?)))
}

const ATTRIBUTES: &[&str] = &["cleartext_password", "display_name", "is_server_owner"];

async fn change<B: Backend>(backend: &B, id: &str, params: &Params) -> ApiResult<Response> {
    let user = find(backend, id).await?;
    let is_server_owner = params.flag("is_server_owner")?;
    let password = match params.text("cleartext_password") {
        Some(cleartext) => Some(password::hash(&cleartext).await),
        None => None,
    };
    let change = UserChange {
        display_name: params.has("display_name").then(|| name_param(params)),
        password,
        is_server_owner,
    };
    backend.update_user(user.id, &change).await?;
    Ok(no_content())
}

/// Changes some of `cleartext_password` (stored hashed), `display_name`, `is_server_owner`.
#[utoipa::path(patch, path = "/3.1/users/{id}", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Unknown attribute or invalid value"), (status = 404, description = "No such user")))]
pub async fn patch<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    find(&backend, &id).await?;
    if let Some(key) = params.keys().into_iter().find(|k| !ATTRIBUTES.contains(k)) {
        return Err(ApiError::bad_request(format!("Unknown attribute: {key}")));
    }
    change(&backend, &id, &params).await
}

/// Sets all of `cleartext_password`, `display_name` and `is_server_owner`.
#[utoipa::path(put, path = "/3.1/users/{id}", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Missing, unknown or invalid"), (status = 404, description = "No such user")))]
pub async fn put<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    find(&backend, &id).await?;
    params.check(ATTRIBUTES, &[])?;
    change(&backend, &id, &params).await
}

/// Deletes a user with its addresses and their memberships.
#[utoipa::path(delete, path = "/3.1/users/{id}", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such user")))]
pub async fn remove<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    backend.delete_user(user.id).await?;
    Ok(no_content())
}

/// A user's addresses, by their original spelling.
#[utoipa::path(get, path = "/3.1/users/{id}/addresses", tag = "users",
    params(("id" = String, Path), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of addresses"), (status = 404, description = "No such user")))]
pub async fn user_addresses<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    let mut all = backend.user_addresses(user.id).await?;
    all.sort_by(|a, b| a.email.original().cmp(b.email.original()));
    let (start, total, all) = page.slice(all);
    let entries = all
        .iter()
        .map(|a| addresses::address_json(&links, a))
        .collect();
    Ok(ok(collection(start, total, entries)))
}

/// Gives a user an address (`email`, optional `display_name`), created if new.
#[utoipa::path(post, path = "/3.1/users/{id}/addresses", tag = "users",
    params(("id" = String, Path)),
    responses((status = 201, description = "Linked; `Location` names the address"),
        (status = 400, description = "Invalid, or the address belongs to a user"), (status = 404, description = "No such user")))]
pub async fn add_address<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    params.check(&["email"], &["display_name", "absorb_existing"])?;
    if params.flag("absorb_existing")?.unwrap_or(false) {
        return Err(invalid(
            "absorb_existing",
            "merging users is not supported by mailcast",
        ));
    }
    let email = email_param(&params, "email")?;
    let name = name_param(&params);
    backend
        .add_user_address(user.id, &email, name.as_deref())
        .await?;
    Ok(created(&links.to(&format!("addresses/{}", email.as_str()))))
}

/// A user's preferred address.
#[utoipa::path(get, path = "/3.1/users/{id}/preferred_address", tag = "users",
    params(("id" = String, Path)),
    responses((status = 200, description = "The address"), (status = 404, description = "No such user, or none preferred")))]
pub async fn preferred<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    let email = user.preferred_address.ok_or_else(ApiError::no_resource)?;
    let address = backend
        .address(&email)
        .await?
        .ok_or_else(ApiError::no_resource)?;
    Ok(ok(addresses::address_json(&links, &address)))
}

/// Makes a verified address (`email`) the user's preferred one, linking it if it belongs to
/// nobody.
#[utoipa::path(post, path = "/3.1/users/{id}/preferred_address", tag = "users",
    params(("id" = String, Path)),
    responses((status = 201, description = "Set; `Location` names the address"),
        (status = 400, description = "Unknown, unverified or another user's address"), (status = 404, description = "No such user")))]
pub async fn set_preferred<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    params.check(&["email"], &[])?;
    let text = params.text("email").unwrap_or_default();
    let email = EmailAddress::parse(&text)
        .map_err(|_| invalid("email", "Expected a valid email address"))?;
    backend.set_preferred_address(user.id, Some(&email)).await?;
    Ok(created(&links.to(&format!("addresses/{}", email.as_str()))))
}

/// Clears a user's preferred address.
#[utoipa::path(delete, path = "/3.1/users/{id}/preferred_address", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "Cleared"), (status = 404, description = "No such user, or none preferred")))]
pub async fn clear_preferred<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    if user.preferred_address.is_none() {
        return Err(ApiError::no_resource());
    }
    backend.set_preferred_address(user.id, None).await?;
    Ok(no_content())
}

/// The preferences set on a user.
#[utoipa::path(get, path = "/3.1/users/{id}/preferences", tag = "users",
    params(("id" = String, Path)),
    responses((status = 200, description = "The preferences set on the user"), (status = 404, description = "No such user")))]
pub async fn user_preferences<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    let base = format!("users/{}", hex_id(user.id));
    Ok(ok(preferences::stored_json(
        &links,
        &base,
        &user.preferences,
    )))
}

async fn set_preferences<B: Backend>(
    backend: &B,
    id: &str,
    params: &Params,
    put: bool,
) -> ApiResult<Response> {
    let user = find(backend, id).await?;
    let new = preferences::changed(&user.preferences, params, put)?;
    backend.set_user_preferences(user.id, &new).await?;
    Ok(no_content())
}

/// Changes some of a user's preferences (a blank value: inherit).
#[utoipa::path(patch, path = "/3.1/users/{id}/preferences", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Unknown or invalid preference"), (status = 404, description = "No such user")))]
pub async fn patch_preferences<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    set_preferences(&backend, &id, &params, false).await
}

/// Sets every preference of a user.
#[utoipa::path(put, path = "/3.1/users/{id}/preferences", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Missing, unknown or invalid preference"), (status = 404, description = "No such user")))]
pub async fn put_preferences<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    set_preferences(&backend, &id, &params, true).await
}

/// Returns every preference of a user to "inherit".
#[utoipa::path(delete, path = "/3.1/users/{id}/preferences", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "Cleared"), (status = 404, description = "No such user")))]
pub async fn clear_preferences<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    backend
        .set_user_preferences(user.id, &Default::default())
        .await?;
    Ok(no_content())
}

/// Checks `cleartext_password` against the user's: 204 if it is the password, else 403.
#[utoipa::path(post, path = "/3.1/users/{id}/login", tag = "users",
    params(("id" = String, Path)),
    responses((status = 204, description = "The password is right"), (status = 403, description = "It is not"), (status = 404, description = "No such user")))]
pub async fn login<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let user = find(&backend, &id).await?;
    params.check(&["cleartext_password"], &[])?;
    let cleartext = params.text("cleartext_password").unwrap_or_default();
    let stored = user.password.unwrap_or_default();
    if password::verify(&cleartext, &stored).await {
        Ok(no_content())
    } else {
        Err(ApiError {
            status: StatusCode::FORBIDDEN,
            description: None,
        })
    }
}
