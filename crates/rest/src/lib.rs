//! Mailman 3's REST API (version 3.1) and the public one-click unsubscribe endpoint
//! (RFC 8058), as an axum [`Router`](axum::Router) over a [`Backend`].
//!
//! This crate is the only place that knows HTTP and JSON shapes. It calls the admin layer
//! through [`Backend`], which the daemon implements; it never sees the runners, the spool or
//! the MTA files. One module per resource lives under [`resources`]; what every resource
//! shares is here: [`resource`] (`self_link`, `http_etag`, status codes), [`page`]
//! (`count`/`page`), [`body`] (JSON and form parameters with Mailman's validation texts),
//! [`error`] (Mailman's error bodies) and [`auth`] (HTTP basic authentication).

pub mod auth;
pub mod backend;
pub mod body;
pub mod error;
pub mod oneclick;
pub mod openapi;
pub mod page;
pub mod password;
pub mod resource;
pub mod resources;
mod router;

pub use auth::Credentials;
pub use backend::Backend;
pub use router::{REQUEST_TIMEOUT, router};
