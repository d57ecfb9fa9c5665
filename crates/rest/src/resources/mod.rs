//! One module per resource of Mailman's API 3.1, each with its routes. A module knows its
//! paths, its parameters and its JSON; it asks the [`Backend`] for everything else.

pub mod addresses;
pub mod archivers;
pub mod bans;
pub mod config;
pub mod digest;
pub mod domain_owners;
pub mod domains;
pub mod header_matches;
pub mod held;
pub mod lists;
pub mod members;
pub mod preferences;
pub mod queues;
pub mod requests;
pub mod rosters;
pub mod system;
pub mod uris;
pub mod users;

use axum::Router;

use crate::backend::Backend;

/// Every resource's routes.
pub fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .merge(system::routes::<B>())
        .merge(domains::routes::<B>())
        .merge(domain_owners::routes::<B>())
        .merge(users::routes::<B>())
        .merge(addresses::routes::<B>())
        .merge(lists::routes::<B>())
        .merge(config::routes::<B>())
        .merge(members::routes::<B>())
        .merge(rosters::routes::<B>())
        .merge(preferences::routes::<B>())
        .merge(held::routes::<B>())
        .merge(requests::routes::<B>())
        .merge(bans::routes::<B>())
        .merge(header_matches::routes::<B>())
        .merge(uris::routes::<B>())
        .merge(queues::routes::<B>())
        .merge(archivers::routes::<B>())
        .merge(digest::routes::<B>())
}
