//! The HyperKitty archiver: the protocol of `mailman-hyperkitty` as HyperKitty 1.3.12 serves
//! it (mailman3-more.md §2.4).
//!
//! - **Archiving** is `POST <base_url>api/mailman/archive`, `multipart/form-data` with the
//!   field `mlist` (the list's posting address) and the file field `message`
//!   (`message.txt`, the post as archived, with Unix line ends like Mailman's `as_bytes()`),
//!   authenticated by `Authorization: Token <api_key>`. HyperKitty 1.3.12 reads only that
//!   header (`views/mailman.py`, `key_and_ip_auth`); a `key` query parameter is refused with
//!   401 when the header is missing and ignored otherwise, so it is not sent (it would put the
//!   key in access logs). 200 is success, also for a Message-ID it has already (a re-run).
//! - **One request at a time**, as Mailman's single archive runner sends them: HyperKitty
//!   threads a reply that arrives before its parent when the parent comes (its orphan
//!   check), but not two posts whose requests overlap (each misses the other's row).
//! - **Links need no request.** HyperKitty's `urls` endpoint only computes
//!   `…/list/<posting address>/` and `…/list/<posting address>/message/<Message-ID-Hash>/`;
//!   mailcast computes the same from `public_url` (`base_url` unless set), so `List-Archive`
//!   and `Archived-At` cost nothing per post and do not depend on HyperKitty being up.
//! - **`archive_rendering_mode`** is not in the protocol: HyperKitty reads it with the other
//!   list details from the REST API (`GET /3.1/lists/<list>`), not from the archiver.
//! - **Failures** are classified, not retried, here ([`Failure`]): the archive runner retries
//!   transient ones with backoff and gives permanent ones a few attempts only (`retry`).

use mailcast_pipeline::archive::{ArchiveLinks, Permalink};

use super::mboxrd;
use crate::config::HyperKittySettings;
use crate::http_client::{self as http, TransportError};

/// The most of an answer's body that is read (HyperKitty answers with a small JSON object).
const MAX_ANSWER: usize = 64 << 10;

/// What kind of failure it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No connection, a timeout, 5xx, 408 or 429: HyperKitty may take it later.
    Transient,
    /// Any other refusal (400 for a post it cannot parse, 401/403 for a key or address that
    /// does not match its settings): trying again without a change will not help.
    Permanent,
}

/// Why HyperKitty did not archive a post.
#[derive(Debug, Clone, thiserror::Error)]
#[error("HyperKitty: {reason}")]
pub struct Failure {
    /// Transient or permanent.
    pub kind: FailureKind,
    /// For the operator (`last_error`).
    pub reason: String,
}

/// The links HyperKitty gives for the list `posting_address`.
pub fn links(settings: &HyperKittySettings, posting_address: &str) -> ArchiveLinks {
    let list_url = format!("{}list/{posting_address}/", settings.public_url);
    ArchiveLinks {
        name: super::Archiver::HyperKitty.name().to_string(),
        permalink: Some(Permalink {
            prefix: format!("{list_url}message/"),
            suffix: "/".into(),
        }),
        list_url: Some(list_url),
    }
}

/// Sends the post `message` of the list `posting_address` to HyperKitty, one attempt.
pub async fn archive(
    settings: &HyperKittySettings,
    posting_address: &str,
    message: &[u8],
) -> Result<(), Failure> {
    let message = mboxrd::unix_lines(message);
    let boundary = boundary_for(&message);
    let body = multipart(&boundary, posting_address, &message);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let authorization = format!("Token {}", settings.api_key);
    let url = format!("{}api/mailman/archive", settings.base_url);
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let headers = [
        ("content-type", content_type.as_str()),
        ("authorization", authorization.as_str()),
        ("accept", "application/json"),
        (
            "user-agent",
            concat!("mailcast/", env!("CARGO_PKG_VERSION")),
        ),
    ];
    match http::post(&url, &headers, body, settings.timeout, MAX_ANSWER).await {
        Ok(answer) if answer.status.is_success() => Ok(()),
        Ok(answer) => Err(refused(answer.status.as_u16(), &answer.body)),
        Err(e @ TransportError::Request(_)) => Err(Failure {
            kind: FailureKind::Permanent,
            reason: e.to_string(),
        }),
        Err(e) => Err(Failure {
            kind: FailureKind::Transient,
            reason: format!("{url}: {e}"),
        }),
    }
}

/// The failure an HTTP status other than 2xx means.
fn refused(status: u16, body: &[u8]) -> Failure {
    let kind = match status {
        408 | 429 | 500..=599 => FailureKind::Transient,
        _ => FailureKind::Permanent,
    };
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Failure {
        kind,
        reason: format!("answered {status}: {text}"),
    }
}

/// A multipart boundary that does not occur in `message`.
fn boundary_for(message: &[u8]) -> String {
    (0u64..)
        .map(|n| format!("mailcast-part-{n:08x}"))
        .find(|b| !contains(message, b.as_bytes()))
        .unwrap_or_default()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The `multipart/form-data` body: `mlist`, then the file `message`.
fn multipart(boundary: &str, posting_address: &str, message: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(message.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"mlist\"\r\n\r\n\
             {posting_address}\r\n--{boundary}\r\nContent-Disposition: form-data; \
             name=\"message\"; filename=\"message.txt\"\r\n\
             Content-Type: message/rfc822\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(message);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings() -> HyperKittySettings {
        HyperKittySettings {
            base_url: "http://127.0.0.1:1/hyperkitty/".into(),
            api_key: "k".into(),
            public_url: "https://lists.example.com/hyperkitty/".into(),
            timeout: Duration::from_secs(2),
            max_attempts: 3,
        }
    }

    #[test]
    fn links_follow_hyperkittys_urls() {
        let l = links(&settings(), "ant@example.com");
        assert_eq!(l.name, "hyperkitty");
        assert_eq!(
            l.list_url.as_deref(),
            Some("https://lists.example.com/hyperkitty/list/ant@example.com/")
        );
        assert_eq!(
            l.permalink.unwrap().of("5J5KTB364ZCCSIAFY5LMCNRUVZIAOXYV"),
            "https://lists.example.com/hyperkitty/list/ant@example.com/message/\
             5J5KTB364ZCCSIAFY5LMCNRUVZIAOXYV/"
        );
    }

    #[test]
    fn the_form_has_both_fields_and_a_fresh_boundary() {
        let message = b"Subject: s\n\n--mailcast-part-00000000\nbody\n";
        let boundary = boundary_for(message);
        assert_eq!(boundary, "mailcast-part-00000001");
        let body = String::from_utf8(multipart(&boundary, "ant@example.com", message)).unwrap();
        assert!(body.starts_with(&format!("--{boundary}\r\n")));
        assert!(body.contains("name=\"mlist\"\r\n\r\nant@example.com\r\n"));
        assert!(body.contains("name=\"message\"; filename=\"message.txt\""));
        assert!(body.ends_with(&format!("body\n\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn statuses_are_classified() {
        for (status, kind) in [
            (500, FailureKind::Transient),
            (503, FailureKind::Transient),
            (408, FailureKind::Transient),
            (429, FailureKind::Transient),
            (400, FailureKind::Permanent),
            (401, FailureKind::Permanent),
            (403, FailureKind::Permanent),
            (404, FailureKind::Permanent),
        ] {
            assert_eq!(refused(status, b"").kind, kind, "{status}");
        }
        let f = refused(400, b"{\"error\": \"No 'Message-Id'\n header\"}");
        assert_eq!(
            f.reason,
            "answered 400: {\"error\": \"No 'Message-Id' header\"}"
        );
    }

    #[tokio::test]
    async fn https_urls_speak_tls() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut hello = [0u8; 3];
            conn.read_exact(&mut hello).await.unwrap();
            hello
        });
        let mut s = settings();
        s.base_url = format!("https://127.0.0.1:{port}/hyperkitty/");
        let f = archive(&s, "ant@example.com", b"Subject: s\r\n\r\nb\r\n")
            .await
            .unwrap_err();
        assert_eq!(f.kind, FailureKind::Transient, "{f}");
        let hello = server.await.unwrap();
        assert_eq!(
            hello,
            [0x16, 0x03, 0x01],
            "a TLS handshake record (ClientHello)"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_transient() {
        let f = archive(&settings(), "ant@example.com", b"Subject: s\r\n\r\nb\r\n")
            .await
            .unwrap_err();
        assert_eq!(f.kind, FailureKind::Transient, "{f}");
        assert!(f.reason.contains("127.0.0.1:1"), "{f}");
    }
}
