//! `/members`: every membership, subscribing (`POST /members`), `/members/find`, and one
//! membership (`/members/<id>`: read, change delivery mode or moderation action, end).
//!
//! Subscribing a member runs the list's subscription workflow in the admin layer:
//! `pre_verified`, `pre_confirmed` and `pre_approved` skip its steps, as in Mailman. The
//! answer is 201 with the member's `Location` when the address is subscribed at once, or 202
//! with the `token` and its `token_owner` when someone must still confirm or approve. Owners,
//! moderators and non-members are added at once.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mailcast_model::{DeliveryMode, DeliveryStatus, EmailAddress, ListAddress, MemberRole};
use mailcast_store::Member;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::backend::{Backend, MemberFilter, Progress, Vouch};
use crate::body::{Params, invalid};
use crate::error::{ApiError, ApiResult};
use crate::page::{Page, collection};
use crate::resource::{Links, created, etagged, hex_id, json, no_content, ok, timestamp};
use crate::resources::lists;

/// The routes of this resource.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/3.1/members", get(all::<B>).post(subscribe::<B>))
        .route("/3.1/members/find", get(find::<B>).post(find::<B>))
        .route(
            "/3.1/members/{id}",
            get(one::<B>).patch(change::<B>).delete(end::<B>),
        )
}

/// A membership's JSON (Mailman leaves out what is unset).
pub fn member_json(links: &Links, list: &ListAddress, m: &Member) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "address".into(),
        links
            .to(&format!("addresses/{}", m.address.as_str()))
            .into(),
    );
    map.insert(
        "bounce_score".into(),
        (m.bounce.score.round() as i64).into(),
    );
    if let Some(at) = m.bounce.last_bounce_received {
        map.insert("last_bounce_received".into(), timestamp(at).into());
    }
    if let Some(at) = m.bounce.last_warning_sent {
        map.insert("last_warning_sent".into(), timestamp(at).into());
    }
    map.insert(
        "total_warnings_sent".into(),
        m.bounce.total_warnings_sent.into(),
    );
    map.insert("delivery_mode".into(), m.delivery_mode.as_str().into());
    map.insert("delivery_status".into(), m.delivery_status.as_str().into());
    map.insert("email".into(), m.address.as_str().into());
    map.insert("list_id".into(), list.list_id().into());
    map.insert(
        "subscription_mode".into(),
        if m.user_id.is_some() {
            "as_user"
        } else {
            "as_address"
        }
        .into(),
    );
    map.insert("role".into(), m.role.as_str().into());
    if let Some(user) = m.user_id {
        map.insert(
            "user".into(),
            links.to(&format!("users/{}", hex_id(user))).into(),
        );
    }
    if let Some(action) = m.moderation_action {
        map.insert("moderation_action".into(), action.as_str().into());
    }
    if let Some(name) = m.display_name.as_ref().filter(|n| !n.is_empty()) {
        map.insert("display_name".into(), name.clone().into());
    }
    map.insert("member_id".into(), hex_id(m.id).into());
    map.insert(
        "self_link".into(),
        links.to(&format!("members/{}", hex_id(m.id))).into(),
    );
    map
}

/// Keeps only `fields` (Mailman's `fields` parameter), then tags the entry.
pub fn entry(mut map: Map<String, Value>, fields: &[String]) -> Map<String, Value> {
    if !fields.is_empty() {
        map.retain(|k, _| fields.iter().any(|f| f == k));
    }
    etagged(map)
}

/// A member id in a path: hex (3.1) UUIDs; anything else is not found.
pub fn member_id(segment: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(segment).map_err(|_| ApiError::no_resource())
}

/// The membership a path segment names; 404 for a malformed or unknown id.
pub async fn existing<B: Backend>(backend: &B, segment: &str) -> ApiResult<(ListAddress, Member)> {
    backend
        .member(member_id(segment)?)
        .await
        .map_err(|_| ApiError::no_resource())
}

/// Reads an optional vocabulary parameter.
pub fn word<T>(
    params: &Params,
    key: &str,
    parse: fn(&str) -> Result<T, mailcast_model::vocab::UnknownWord>,
) -> ApiResult<Option<T>> {
    match params.text(key).filter(|t| !t.is_empty()) {
        Some(text) => parse(&text)
            .map(Some)
            .map_err(|e| invalid(key, &e.to_string())),
        None => Ok(None),
    }
}

async fn page_of<B: Backend>(
    backend: &B,
    links: &Links,
    page: &Page,
    filter: &MemberFilter,
    fields: &[String],
) -> ApiResult<Response> {
    let (offset, limit) = page.offset_limit();
    let (rows, total) = backend.members(filter, offset, limit).await?;
    let entries = rows
        .iter()
        .map(|(list, m)| entry(member_json(links, list, m), fields))
        .collect();
    Ok(ok(collection(offset.min(total), total, entries)))
}

/// Every membership of every list.
#[utoipa::path(get, path = "/3.1/members", tag = "members",
    params(("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of members")))]
pub async fn all<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
) -> ApiResult<Response> {
    page_of(&backend, &links, &page, &MemberFilter::default(), &[]).await
}

/// Memberships by `list_id`, `subscriber` (an address, `*` as a wildcard) and `role`.
#[utoipa::path(get, path = "/3.1/members/find", tag = "members",
    params(("list_id" = Option<String>, Query), ("subscriber" = Option<String>, Query), ("role" = Option<String>, Query),
        ("fields" = Option<Vec<String>>, Query), ("count" = Option<u64>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, description = "A collection of members")))]
pub async fn find<B: Backend>(
    State(backend): State<B>,
    links: Links,
    page: Page,
    params: Params,
) -> ApiResult<Response> {
    params.check(
        &[],
        &[
            "list_id",
            "subscriber",
            "role",
            "fields",
            "moderation_action",
            "delivery_mode",
            "delivery_status",
        ],
    )?;
    let list = match params.text("list_id") {
        Some(id) => match lists::find(&backend, &id).await {
            Ok(view) => Some(view.list.address),
            Err(_) => return Ok(ok(collection(0, 0, Vec::new()))),
        },
        None => None,
    };
    let filter = MemberFilter {
        list,
        subscriber: params.text("subscriber"),
        role: word(&params, "role", MemberRole::parse)?,
    };
    if filter == MemberFilter::default() {
        return Ok(ok(collection(0, 0, Vec::new())));
    }
    let fields = params.texts("fields");
    let moderation = params.text("moderation_action");
    let mode = word(&params, "delivery_mode", DeliveryMode::parse)?;
    let status = word(&params, "delivery_status", DeliveryStatus::parse)?;
    if moderation.is_none() && mode.is_none() && status.is_none() {
        return page_of(&backend, &links, &page, &filter, &fields).await;
    }
    let (rows, _) = backend.members(&filter, 0, u64::MAX).await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|(_, m)| {
            moderation
                .as_ref()
                .is_none_or(|a| m.moderation_action.map(|x| x.as_str()).unwrap_or("") == a)
                && mode.is_none_or(|d| m.delivery_mode == d)
                && status.is_none_or(|s| m.delivery_status == s)
        })
        .collect();
    let (start, total, rows) = page.slice(rows);
    let entries = rows
        .iter()
        .map(|(list, m)| entry(member_json(&links, list, m), &fields))
        .collect();
    Ok(ok(collection(start, total, entries)))
}

/// Subscribes an address (or adds an owner, moderator or non-member).
#[utoipa::path(post, path = "/3.1/members", tag = "members",
    responses((status = 201, description = "Subscribed; `Location` names the member"),
        (status = 202, description = "Pending: `token` and `token_owner`"),
        (status = 400, description = "Invalid, banned, or no such list"), (status = 409, description = "Already subscribed or pending")))]
pub async fn subscribe<B: Backend>(
    State(backend): State<B>,
    links: Links,
    params: Params,
) -> ApiResult<Response> {
    params.check(
        &["list_id", "subscriber"],
        &[
            "display_name",
            "delivery_mode",
            "delivery_status",
            "role",
            "pre_verified",
            "pre_confirmed",
            "pre_approved",
            "invitation",
            "send_welcome_message",
        ],
    )?;
    let list_id = params.text("list_id").unwrap_or_default();
    let view = lists::find(&backend, &list_id)
        .await
        .map_err(|_| ApiError::bad_request("No such list"))?;
    let list = view.list.address;
    let subscriber = params.text("subscriber").unwrap_or_default();
    let email = subscriber_email(&backend, &subscriber).await?;
    if params.flag("invitation")?.unwrap_or(false) {
        return Err(invalid(
            "invitation",
            "invitations are not supported by mailcast",
        ));
    }
    let role = word(&params, "role", MemberRole::parse)?.unwrap_or(MemberRole::Member);
    let mode =
        word(&params, "delivery_mode", DeliveryMode::parse)?.unwrap_or(DeliveryMode::Regular);
    let status = word(&params, "delivery_status", DeliveryStatus::parse)?;
    let vouch = Vouch {
        pre_verified: params.flag("pre_verified")?.unwrap_or(false),
        pre_confirmed: params.flag("pre_confirmed")?.unwrap_or(false),
        pre_approved: params.flag("pre_approved")?.unwrap_or(false),
        send_welcome_message: params.flag("send_welcome_message")?,
    };
    // mailmanclient sends a missing name as the text "None".
    let name = params
        .text("display_name")
        .filter(|n| !n.is_empty() && n != "None");
    let progress = backend
        .subscribe(&list, &email, name.as_deref(), role, mode, vouch)
        .await?;
    if let Some(response) = waiting(&progress) {
        return Ok(response);
    }
    let filter = MemberFilter {
        list: Some(list.clone()),
        subscriber: Some(email.as_str().to_string()),
        role: Some(role),
    };
    let (rows, _) = backend.members(&filter, 0, 1).await?;
    let (_, member) = rows.into_iter().next().ok_or_else(ApiError::no_resource)?;
    if let Some(status) = status {
        backend
            .set_member(
                member.id,
                &[("delivery_status".into(), status.as_str().into())],
            )
            .await?;
    }
    Ok(created(
        &links.to(&format!("members/{}", hex_id(member.id))),
    ))
}

/// The address a subscription is for: `subscriber` is an address, or a user's hex id (as
/// Postorius sends for "subscribe with my primary address"): then the user's preferred
/// address. Unlike Mailman, the membership is the address's, and does not follow a later
/// change of the preferred address.
async fn subscriber_email<B: Backend>(backend: &B, subscriber: &str) -> ApiResult<EmailAddress> {
    if !subscriber.contains('@')
        && let Ok(id) = Uuid::try_parse(subscriber)
    {
        let user = backend
            .user(id)
            .await?
            .ok_or_else(|| ApiError::bad_request("No such user"))?;
        return user
            .preferred_address
            .ok_or_else(|| ApiError::bad_request("User has no preferred address"));
    }
    EmailAddress::parse(subscriber).map_err(|e| invalid("subscriber", &e.to_string()))
}

/// 202 with the token and its owner when a request waits for someone; `None` when done.
fn waiting(progress: &Progress) -> Option<Response> {
    let (token, owner) = match progress {
        Progress::Done => return None,
        Progress::AwaitingSubscriber(token) => (token, "subscriber"),
        Progress::AwaitingModerator(token) => (token, "moderator"),
    };
    let mut map = Map::new();
    map.insert("token".into(), token.as_str().into());
    map.insert("token_owner".into(), owner.into());
    Some(json(StatusCode::ACCEPTED, &Value::Object(etagged(map))))
}

/// One membership.
#[utoipa::path(get, path = "/3.1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member id (hex)")),
    responses((status = 200, description = "The member"), (status = 404, description = "No such member")))]
pub async fn one<B: Backend>(
    State(backend): State<B>,
    links: Links,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (list, member) = existing(&backend, &id).await?;
    Ok(ok(etagged(member_json(&links, &list, &member))))
}

/// Changes `delivery_mode` or `moderation_action` (blank: the list's default).
#[utoipa::path(patch, path = "/3.1/members/{id}", tag = "members",
    params(("id" = String, Path)),
    responses((status = 204, description = "Changed"), (status = 400, description = "Invalid"), (status = 404, description = "No such member")))]
pub async fn change<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let id = existing(&backend, &id).await?.1.id;
    params.check(&[], &["delivery_mode", "moderation_action", "address"])?;
    if params.has("address") {
        return Err(invalid(
            "address",
            "changing a member's address is not supported by mailcast; unsubscribe and subscribe the new address",
        ));
    }
    word(&params, "delivery_mode", DeliveryMode::parse)?;
    if let Some(action) = params.text("moderation_action").filter(|a| !a.is_empty()) {
        mailcast_model::Action::parse(&action)
            .map_err(|e| invalid("moderation_action", &e.to_string()))?;
    }
    let pairs: Vec<(String, String)> = params
        .pairs()
        .iter()
        .map(|(k, _)| (k.clone(), params.text(k).unwrap_or_default()))
        .collect();
    backend.set_member(id, &pairs).await?;
    Ok(no_content())
}

/// Ends a membership; `pre_approved` and `pre_confirmed` (true unless given) skip the list's
/// unsubscription policy. 202 with a token when someone must still confirm or approve.
#[utoipa::path(delete, path = "/3.1/members/{id}", tag = "members",
    params(("id" = String, Path), ("pre_approved" = Option<bool>, Query), ("pre_confirmed" = Option<bool>, Query)),
    responses((status = 204, description = "Removed"), (status = 202, description = "Pending"), (status = 404, description = "No such member")))]
pub async fn end<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    let id = existing(&backend, &id).await?.1.id;
    end_membership(&backend, id, &params).await
}

/// Ends membership `id` as `params` say.
pub async fn end_membership<B: Backend>(
    backend: &B,
    id: Uuid,
    params: &Params,
) -> ApiResult<Response> {
    params.check(&[], &["pre_approved", "pre_confirmed"])?;
    let approved = params.flag("pre_approved")?.unwrap_or(false);
    // Mailman takes an operator's DELETE as the member's confirmation unless told otherwise.
    let confirmed = params.flag("pre_confirmed")?.unwrap_or(true);
    let progress = backend.unsubscribe(id, approved, confirmed).await?;
    Ok(waiting(&progress).unwrap_or_else(no_content))
}
