//! RFC 8058 one-click unsubscription on `[web] listen`: `POST /u/<token>` with the body
//! `List-Unsubscribe=One-Click` ends the membership the token names, with no login and no
//! further step. `GET /u/<token>` shows a page with one button that sends the same POST, and
//! changes nothing itself, because mail scanners follow links.
//!
//! A token names a list and an address and carries an HMAC-SHA256 tag (128 bits) over both
//! under the site's secret key, so it cannot be forged or moved to another address or list.
//! It does not expire: a mailbox provider may send the POST days after delivery.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use mailcast_model::{EmailAddress, ListAddress, MemberRole};
use sha2::Sha256;

use crate::backend::{Backend, MemberFilter, Progress};

/// The bytes of the tag kept in a token.
const TAG_LEN: usize = 16;

/// What the one-click POST body must hold (RFC 8058 §3.1).
pub const ONE_CLICK_BODY: &str = "List-Unsubscribe=One-Click";

/// Makes and checks one-click tokens.
#[derive(Clone)]
pub struct OneClick {
    key: Vec<u8>,
}

impl std::fmt::Debug for OneClick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneClick(..)")
    }
}

impl OneClick {
    /// Tokens under `key` (at least 32 random bytes).
    pub fn new(key: &[u8]) -> OneClick {
        OneClick { key: key.to_vec() }
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(b"mailcast one-click unsubscribe\0");
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// The token for `email` on `list`.
    pub fn token(&self, list: &ListAddress, email: &EmailAddress) -> String {
        let payload = format!("{}\n{}", list.posting_address(), email.as_str());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.tag(payload.as_bytes()))
        )
    }

    /// The list and address a genuine token names.
    pub fn verify(&self, token: &str) -> Option<(ListAddress, EmailAddress)> {
        if token.len() > 1024 {
            return None;
        }
        let (payload, tag) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let expected = self.tag(&payload);
        if tag.len() != TAG_LEN {
            return None;
        }
        let diff = expected
            .iter()
            .zip(&tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if std::hint::black_box(diff) != 0 {
            return None;
        }
        let text = String::from_utf8(payload).ok()?;
        let (list, email) = text.split_once('\n')?;
        Some((
            ListAddress::parse(list).ok()?,
            EmailAddress::parse(email).ok()?,
        ))
    }

    /// The URL of the token under the public base URL of `[web]`.
    pub fn url(&self, base: &str, list: &ListAddress, email: &EmailAddress) -> String {
        format!(
            "{}/u/{}",
            base.trim_end_matches('/'),
            self.token(list, email)
        )
    }
}

/// The routes of `[web] listen`.
pub fn router<B: Backend>(backend: B, tokens: OneClick) -> Router {
    Router::new()
        .route("/u/{token}", get(page::<B>).post(unsubscribe::<B>))
        .layer(DefaultBodyLimit::max(4096))
        .with_state((backend, tokens))
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let text = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        text,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn forged() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Unknown link",
        "<p>This unsubscribe link is not valid.</p>",
    )
}

async fn page<B: Backend>(
    State((_, tokens)): State<(B, OneClick)>,
    Path(token): Path<String>,
) -> Response {
    let Some((list, email)) = tokens.verify(&token) else {
        return forged();
    };
    html(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<p>Unsubscribe <b>{}</b> from <b>{}</b>?</p>\n<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>",
            escape(email.original()),
            escape(&list.posting_address())
        ),
    )
}

async fn unsubscribe<B: Backend>(
    State((backend, tokens)): State<(B, OneClick)>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let Some((list, email)) = tokens.verify(&token) else {
        tracing::info!(target: "http", "one-click unsubscribe with a forged or damaged token");
        return forged();
    };
    let one_click =
        form_urlencoded::parse(&body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click");
    if !one_click {
        return html(
            StatusCode::BAD_REQUEST,
            "Bad request",
            &format!("<p>The request body must be <code>{ONE_CLICK_BODY}</code>.</p>"),
        );
    }
    let filter = MemberFilter {
        list: Some(list.clone()),
        subscriber: Some(email.as_str().to_string()),
        role: Some(MemberRole::Member),
    };
    let member = match backend.members(&filter, 0, 1).await {
        Ok((rows, _)) => rows.into_iter().next(),
        Err(e) => return failed(&e),
    };
    let Some((_, member)) = member else {
        return html(
            StatusCode::OK,
            "Not subscribed",
            &format!(
                "<p>{} is not subscribed to {}.</p>",
                escape(email.original()),
                escape(&list.posting_address())
            ),
        );
    };
    match backend.unsubscribe(member.id, false, true).await {
        Ok(Progress::Done) => {
            tracing::info!(target: "http", list = %list, "one-click unsubscription");
            html(
                StatusCode::OK,
                "Unsubscribed",
                &format!(
                    "<p>{} has been unsubscribed from {}.</p>",
                    escape(email.original()),
                    escape(&list.posting_address())
                ),
            )
        }
        Ok(_) => html(
            StatusCode::ACCEPTED,
            "Awaiting approval",
            "<p>The list's moderators must approve unsubscriptions; your request is with them.</p>",
        ),
        Err(e) => failed(&e),
    }
}

fn failed(e: &crate::backend::Failure) -> Response {
    tracing::error!(target: "http", error = ?e, "one-click unsubscription failed");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        "<p>The unsubscription could not be completed now; please try again later.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_resist_forgery() {
        let tokens = OneClick::new(&[7u8; 32]);
        let list = ListAddress::parse("dev@lists.example").unwrap();
        let anne = EmailAddress::parse("Anne@Example.org").unwrap();
        let token = tokens.token(&list, &anne);
        let (l, e) = tokens.verify(&token).unwrap();
        assert_eq!(l, list);
        assert_eq!(e.as_str(), "anne@example.org");
        // Another key, another address, a damaged tag: all refused.
        assert!(OneClick::new(&[8u8; 32]).verify(&token).is_none());
        let bart = EmailAddress::parse("bart@example.org").unwrap();
        let (_, tag) = token.split_once('.').unwrap();
        let moved = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(format!("dev@lists.example\n{}", bart.as_str()))
        );
        assert!(tokens.verify(&moved).is_none());
        let mut damaged = token.clone();
        damaged.pop();
        assert!(tokens.verify(&damaged).is_none());
        assert!(tokens.verify("garbage").is_none());
        assert!(
            tokens
                .url("https://lists.example/", &list, &anne)
                .starts_with("https://lists.example/u/")
        );
    }
}
