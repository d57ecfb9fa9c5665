//! A list's rosters: `/lists/<list>/roster/<role>` (paged, with Mailman's `fields`),
//! one membership by address (`/lists/<list>/<role>/<email>`), and mass unsubscription
//! (`DELETE /lists/<list>/roster/member` with `emails`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use mailcast_model::{EmailAddress, MemberRole};
use serde_json::{Map, Value};

use crate::backend::{Backend, MemberFilter};
use crate::body::Params;
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, etagged, ok};
use crate::resources::{lists, members};

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    let mut router = Router::new().route(
        "/3.1/lists/{list}/roster/{role}",
        get(roster::<B>).delete(mass_unsubscribe::<B>),
    );
    for role in ["member", "owner", "moderator", "nonmember"] {
        router = router.route(
            &format!("/3.1/lists/{{list}}/{role}/{{email}}"),
            get(membership::<B>).merge(delete(remove::<B>)),
        );
    }
    router
}

fn role(segment: &str) -> ApiResult<MemberRole> {
    MemberRole::parse(segment).map_err(|_| ApiError::no_resource())
}

/// The role named by the path `/lists/<list>/<role>/<email>`.
fn role_of(uri: &axum::http::Uri) -> ApiResult<MemberRole> {
    let segments: Vec<&str> = uri.path().split('/').collect();
    let segment = segments.iter().rev().nth(1).copied().unwrap_or("");
    role(segment)
}

/// A roster, paged.
#[utoipa::path(get, path = "/3.1/lists/{list}/roster/{role}", tag = "members",
    params(("list" = String, Path), ("role" = String, Path), ("fields" = Option<Vec<String>>, Query),
        ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of members"), (status = 404, description = "No such list or role")))]
pub async fn roster<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    Path((list, role_name)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    let role = role(&role_name)?;
    params.check(&[], &["fields"])?;
    let fields = params.texts("fields");
    let filter = MemberFilter {
        list: Some(view.list.address.clone()),
        subscriber: None,
        role: Some(role),
    };
    let (offset, limit) = page.offset_limit();
    let (rows, total) = backend.members(&filter, offset, limit).await?;
    let entries = rows
        .iter()
        .map(|(list, m)| members::entry(members::member_json(&links, list, m), &fields))
        .collect();
    Ok(ok(collection(offset.min(total), total, entries)))
}

async fn find_membership<B: Backend>(
    backend: &B,
    list: &str,
    role: MemberRole,
    email: &str,
) -> ApiResult<(mailcast_model::ListAddress, mailcast_store::Member)> {
    let view = lists::find(backend, list).await?;
    let email = EmailAddress::parse(email).map_err(|_| ApiError::no_resource())?;
    let filter = MemberFilter {
        list: Some(view.list.address.clone()),
        subscriber: Some(email.as_str().to_string()),
        role: Some(role),
    };
    let (rows, _) = backend.members(&filter, 0, 1).await?;
    rows.into_iter().next().ok_or_else(ApiError::no_resource)
}

/// One membership by address.
#[utoipa::path(get, path = "/3.1/lists/{list}/member/{email}", tag = "members",
    params(("list" = String, Path), ("email" = String, Path)),
    responses((status = 200, description = "The member"), (status = 404, description = "Not a member")))]
pub async fn membership<B: Backend>(
    State(backend): State<B>,
    links: Links,
    uri: axum::http::Uri,
    Path((list, email)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (list, member) = find_membership(&backend, &list, role_of(&uri)?, &email).await?;
    Ok(ok(etagged(members::member_json(&links, &list, &member))))
}

/// Ends one membership by address (`pre_approved`, `pre_confirmed` as for `/members/<id>`).
#[utoipa::path(delete, path = "/3.1/lists/{list}/member/{email}", tag = "members",
    params(("list" = String, Path), ("email" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 202, description = "Pending"), (status = 404, description = "Not a member")))]
pub async fn remove<B: Backend>(
    State(backend): State<B>,
    uri: axum::http::Uri,
    Path((list, email)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    let (_, member) = find_membership(&backend, &list, role_of(&uri)?, &email).await?;
    members::end_membership(&backend, member.id, &params).await
}

/// Unsubscribes many members at once, without notices: `{email: unsubscribed}`.
#[utoipa::path(delete, path = "/3.1/lists/{list}/roster/{role}", tag = "members",
    params(("list" = String, Path), ("role" = String, Path)),
    responses((status = 200, description = "Each address with whether it was unsubscribed"), (status = 400, description = "No emails")))]
pub async fn mass_unsubscribe<B: Backend>(
    State(backend): State<B>,
    Path((list, role_name)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    let view = lists::find(&backend, &list).await?;
    if role(&role_name)? != MemberRole::Member {
        return Err(ApiError::method_not_allowed());
    }
    params.check(&["emails"], &[])?;
    let mut result = Map::new();
    for text in params.texts("emails") {
        let mut done = false;
        if let Ok(email) = EmailAddress::parse(&text) {
            let filter = MemberFilter {
                list: Some(view.list.address.clone()),
                subscriber: Some(email.as_str().to_string()),
                role: Some(MemberRole::Member),
            };
            let (rows, _) = backend.members(&filter, 0, 1).await?;
            if let Some((_, member)) = rows.into_iter().next() {
                done = matches!(
                    backend.unsubscribe(member.id, true, true).await?,
                    crate::backend::Progress::Done
                );
            }
        }
        result.insert(text, Value::Bool(done));
    }
    Ok(ok(etagged(result)))
}
