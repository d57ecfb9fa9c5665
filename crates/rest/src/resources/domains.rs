//! `/domains`: the mail hosts lists live under, and `/domains/<host>/lists`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use mailcast_model::DomainName;
use mailcast_store::Domain;
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, created, etagged, no_content, ok};
use crate::resources::{domain_owners, lists};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/domains", get(all::<B>).post(create::<B>))
        .route(
            "/3.1/domains/{host}",
            get(one::<B>).patch(patch::<B>).delete(remove::<B>),
        )
        .route("/3.1/domains/{host}/lists", get(domain_lists::<B>))
}

/// A domain's JSON (Mailman shows `alias_domain` even when it is null).
pub fn domain_json(links: &Links, domain: &Domain) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "alias_domain".into(),
        domain
            .alias_domain
            .as_ref()
            .map(|d| d.as_str().to_string())
            .into(),
    );
    map.insert("description".into(), domain.description.clone().into());
    map.insert("mail_host".into(), domain.mail_host.as_str().into());
    map.insert(
        "self_link".into(),
        links
            .to(&format!("domains/{}", domain.mail_host.as_str()))
            .into(),
    );
    etagged(map)
}

/// A domain named in a path: unknown and malformed names are both "not found".
pub async fn find<B: Backend>(backend: &B, host: &str) -> ApiResult<Domain> {
    let name = DomainName::parse(host).map_err(|_| ApiError::no_resource())?;
    backend
        .domain(&name)
        .await
        .map_err(|_| ApiError::no_resource())
}

/// All domains.
#[utoipa::path(get, path = "/3.1/domains", tag = "domains",
    params(("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of domains")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
) -> ApiResult<Response> {
    let (start, total, domains) = page.slice(backend.domains().await?);
    let entries = domains.iter().map(|d| domain_json(&links, d)).collect();
    Ok(ok(collection(start, total, entries)))
}

/// Adds a domain (`mail_host`, optional `description`, `alias_domain`, `owner` (addresses,
/// repeatable: their users own the domain); `base_url` is accepted as in Mailman).
#[utoipa::path(post, path = "/3.1/domains", tag = "domains",
    responses((status = 201, description = "Created; `Location` names the domain"), (status = 400, description = "Invalid or duplicate")))]
pub async fn create<B: Backend>(
    State(backend): State<B>,
    links: Links,
    params: Params,
) -> ApiResult<Response> {
    params.check(
        &["mail_host"],
        &["description", "alias_domain", "base_url", "owner"],
    )?;
    let host_text = params.text("mail_host").unwrap_or_default();
    let host = DomainName::parse(&host_text).map_err(|e| invalid("mail_host", &e.to_string()))?;
    let alias = match params.text("alias_domain").filter(|a| !a.is_empty()) {
        Some(text) => {
            Some(DomainName::parse(&text).map_err(|e| invalid("alias_domain", &e.to_string()))?)
        }
        None => None,
    };
    let description = params.text("description").unwrap_or_default();
    let owners = domain_owners::owners(&params)?;
    if backend.domain(&host).await.is_ok() {
        return Err(ApiError::bad_request(format!(
            "Duplicate email host: {}",
            host.as_str()
        )));
    }
    let domain = backend
        .create_domain(&host, alias.as_ref(), &description)
        .await?;
    domain_owners::add_owners(&backend, &domain.mail_host, &owners).await?;
    Ok(created(
        &links.to(&format!("domains/{}", domain.mail_host.as_str())),
    ))
}

/// One domain.
#[utoipa::path(get, path = "/3.1/domains/{host}", tag = "domains",
    params(("host" = String, Path)), responses((status = 200, description = "The domain"), (status = 404, description = "No such domain")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(domain_json(&links, &find(&backend, &host).await?)))
}

/// Changes some of `description`, `alias_domain` (blank: none) and `owner` (adds owners);
/// `base_url` is accepted and ignored, as Mailman 3.3 does.
#[utoipa::path(patch, path = "/3.1/domains/{host}", tag = "domains",
    params(("host" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Invalid"), (status = 404, description = "No such domain")))]
pub async fn patch<B: Backend>(
    State(backend): State<B>,
    Path(host): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let domain = find(&backend, &host).await?;
    params.check(&[], &["description", "alias_domain", "base_url", "owner"])?;
    let alias = match params.text("alias_domain") {
        Some(text) if text.is_empty() => Some(None),
        Some(text) => Some(Some(
            DomainName::parse(&text).map_err(|e| invalid("alias_domain", &e.to_string()))?,
        )),
        None => None,
    };
    let description = params.text("description");
    let owners = domain_owners::owners(&params)?;
    if description.is_some() || alias.is_some() {
        backend
            .update_domain(
                &domain.mail_host,
                description.as_deref(),
                alias.as_ref().map(Option::as_ref),
            )
            .await?;
    }
    domain_owners::add_owners(&backend, &domain.mail_host, &owners).await?;
    Ok(no_content())
}

/// Removes a domain with its lists.
#[utoipa::path(delete, path = "/3.1/domains/{host}", tag = "domains",
    params(("host" = String, Path)), responses((status = 204, description = "Removed"), (status = 404, description = "No such domain")))]
pub async fn remove<B: Backend>(
    State(backend): State<B>,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    let domain = find(&backend, &host).await?;
    backend.remove_domain(&domain.mail_host).await?;
    Ok(no_content())
}

/// The lists of a domain; `advertised=true` keeps only the advertised ones (what Postorius's
/// public list index asks for).
#[utoipa::path(get, path = "/3.1/domains/{host}/lists", tag = "domains",
    params(("host" = String, Path), ("advertised" = Option<bool>, Query), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of lists"), (status = 404, description = "No such domain")))]
pub async fn domain_lists<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path(host): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let domain = find(&backend, &host).await?;
    let views = backend.lists(Some(&domain.mail_host)).await?;
    lists::listing(&links, page, &params, views)
}
