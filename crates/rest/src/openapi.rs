//! The OpenAPI document of the API, generated from the handlers' annotations and served at
//! `/3.1/openapi.json` (without authentication: it describes, it does not reveal).

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

use crate::backend::Backend;
use crate::resources::{
    addresses, archivers, bans, config, digest, domain_owners, domains, header_matches, held,
    lists, members, preferences, queues, requests, rosters, system, uris, users,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "mailcast REST API (Mailman 3.1 compatible)", description = "Mailman 3's REST API, version 3.1, as mailcast serves it. HTTP basic authentication with `[rest] admin_user` and `admin_pass`; JSON or form bodies; collections page with `count` and `page`."),
    paths(
        system::versions, system::preferences, system::pipelines, system::chains,
        domains::all, domains::create, domains::one, domains::patch, domains::remove, domains::domain_lists,
        domain_owners::all, domain_owners::add, domain_owners::remove_all, domain_owners::remove,
        users::all, users::find_users, users::create, users::one, users::patch, users::put, users::remove,
        users::user_addresses, users::add_address, users::preferred, users::set_preferred, users::clear_preferred,
        users::user_preferences, users::patch_preferences, users::put_preferences, users::clear_preferences, users::login,
        addresses::all, addresses::one, addresses::rename, addresses::remove,
        addresses::user, addresses::link, addresses::relink, addresses::unlink, addresses::verify, addresses::unverify,
        addresses::memberships, addresses::address_preferences, addresses::patch_preferences, addresses::put_preferences, addresses::clear_preferences,
        lists::all, lists::create, lists::one, lists::remove, lists::styles, lists::find_lists,
        config::all, config::one, config::patch, config::put, config::patch_one,
        members::all, members::find, members::subscribe, members::one, members::change, members::end,
        rosters::roster, rosters::membership, rosters::remove, rosters::mass_unsubscribe,
        preferences::member_preferences, preferences::all_preferences, preferences::change,
        held::all, held::count, held::one, held::decide,
        requests::all, requests::count, requests::one, requests::decide,
        bans::site, bans::add_site, bans::one_site, bans::remove_site, bans::list_bans, bans::add_list, bans::one_list, bans::remove_list,
        header_matches::all, header_matches::add, header_matches::one, header_matches::change, header_matches::remove,
        uris::all, uris::one, uris::patch,
        queues::all, queues::one, queues::inject,
        archivers::all,
        digest::numbers,
        digest::act,
    ),
    tags(
        (name = "system"), (name = "domains"), (name = "lists"), (name = "members"), (name = "users"), (name = "addresses"),
        (name = "moderation"), (name = "bans"), (name = "templates"), (name = "queues"),
    )
)]
pub struct ApiDoc;

/// The document as JSON text.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}

/// The route serving it.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new().route("/3.1/openapi.json", get(serve))
}

async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}
