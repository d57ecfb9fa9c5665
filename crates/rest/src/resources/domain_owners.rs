//! `/domains/<host>/owners`: the users who own a domain. `POST owner=<email>` (repeatable)
//! makes the user of each address an owner, creating a user for an address that has none, as
//! Mailman does; `DELETE` removes every owner. mailcast also removes one owner with
//! `DELETE /domains/<host>/owners/<id or email>` (Mailman answers 404 there).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use mailcast_model::{DomainName, EmailAddress};

use crate::backend::Backend;
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, no_content, ok};
use crate::resources::{domains, users};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route(
            "/3.1/domains/{host}/owners",
            get(all::<B>).post(add::<B>).delete(remove_all::<B>),
        )
        .route("/3.1/domains/{host}/owners/{owner}", delete(remove::<B>))
}

/// The `owner` values of a request as addresses, all checked before any is used.
pub fn owners(params: &Params) -> ApiResult<Vec<EmailAddress>> {
    params
        .texts("owner")
        .iter()
        .map(|o| EmailAddress::parse(o).map_err(|e| invalid("owner", &e.to_string())))
        .collect()
}

/// Makes each of `owners` an owner of the domain.
pub async fn add_owners<B: Backend>(
    backend: &B,
    host: &DomainName,
    owners: &[EmailAddress],
) -> ApiResult<()> {
    for owner in owners {
        backend.add_domain_owner(host, owner).await?;
    }
    Ok(())
}

/// The owners of a domain.
#[utoipa::path(get, path = "/3.1/domains/{host}/owners", tag = "domains",
    params(("host" = String, Path), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of users"), (status = 404, description = "No such domain")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    let domain = domains::find(&backend, &host).await?;
    let (start, total, found) = page.slice(backend.domain_owners(&domain.mail_host).await?);
    let entries = found.iter().map(|u| users::user_json(&links, u)).collect();
    Ok(ok(collection(start, total, entries)))
}

/// Adds owners (`owner`, one or more addresses).
#[utoipa::path(post, path = "/3.1/domains/{host}/owners", tag = "domains",
    params(("host" = String, Path)),
    responses((status = 204, description = "Added"), (status = 400, description = "Invalid"), (status = 404, description = "No such domain")))]
pub async fn add<B: Backend>(
    State(backend): State<B>,
    Path(host): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let domain = domains::find(&backend, &host).await?;
    params.check(&["owner"], &[])?;
    add_owners(&backend, &domain.mail_host, &owners(&params)?).await?;
    Ok(no_content())
}

/// Removes every owner of a domain.
#[utoipa::path(delete, path = "/3.1/domains/{host}/owners", tag = "domains",
    params(("host" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such domain")))]
pub async fn remove_all<B: Backend>(
    State(backend): State<B>,
    Path(host): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let domain = domains::find(&backend, &host).await?;
    params.check(&[], &[])?;
    backend
        .remove_domain_owners(&domain.mail_host, None)
        .await?;
    Ok(no_content())
}

/// Removes one owner, named by user id or address (a mailcast addition).
#[utoipa::path(delete, path = "/3.1/domains/{host}/owners/{owner}", tag = "domains",
    params(("host" = String, Path), ("owner" = String, Path, description = "A user id (hex) or one of the user's addresses")),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such domain, user or owner")))]
pub async fn remove<B: Backend>(
    State(backend): State<B>,
    Path((host, owner)): Path<(String, String)>,
) -> ApiResult<Response> {
    let domain = domains::find(&backend, &host).await?;
    let user = users::find(&backend, &owner).await?;
    let removed = backend
        .remove_domain_owners(&domain.mail_host, Some(user.id))
        .await?;
    if removed == 0 {
        return Err(ApiError::no_resource());
    }
    Ok(no_content())
}
