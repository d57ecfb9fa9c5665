//! Template overrides from `http(s):` URIs, as Postorius sets them: `PATCH /uris` with the URL
//! of Postorius's template view (and, when the site needs them, HTTP Basic credentials). The
//! text is fetched when the override is set and kept in the store, so the next post's copies
//! carry the web server's footer even after the server is gone. Each way a fetch can fail is a
//! 400 that says why, and leaves the override as it was.
//!
//! The web server is a small one in this test (a thread on loopback), playing Postorius's
//! `api/templates/...` view.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};

use mailcast_outbound::sink::SinkConfig;
use support::{Site, body, http, message, post, received_by, sink_port, start_sink, wait_until};

const LIST: &str = "ant@example.com";
const FOOTER: &str = "list:member:regular:footer";
const MEMBERS: &[&str] = &["anne@example.org", "bart@example.org"];
/// `user:secret`, as an `Authorization` header carries it.
const CREDENTIALS: &str = "Basic dXNlcjpzZWNyZXQ=";

/// What the web server answers for a path (the request's `Authorization` header given).
fn answer(path: &str, authorization: Option<&str>) -> (u16, Vec<u8>) {
    match path {
        "/api/templates/list/ant.example.com/footer" if authorization == Some(CREDENTIALS) => {
            (200, b"-- \nFrom the web: the $display_name list\n".to_vec())
        }
        "/api/templates/list/ant.example.com/footer" => (401, b"who are you?".to_vec()),
        "/plain" => (200, b"-- \nA plain footer\n".to_vec()),
        "/big" => (200, vec![b'x'; 300 * 1024]),
        "/latin1" => (200, b"caf\xe9\n".to_vec()),
        _ => (404, b"Template is not defined.".to_vec()),
    }
}

/// Serves [`answer`] on a loopback port until the test ends.
fn web_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the web server");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
            let mut authorization = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(value.trim().to_string());
                }
            }
            let (status, body) = answer(&path, authorization.as_deref());
            let mut stream = reader.into_inner();
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    addr
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| -> String {
                s.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_template_uris_are_fetched_when_set_and_failures_say_why() {
    let web = web_server();
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = Site::new(sink_port(&sink));
    site.create_list(LIST, MEMBERS, &["owner@example.com"], &[]);
    let daemon = site.start().await;
    let uris = "/3.1/lists/ant.example.com/uris";
    let patch = |pairs: &[(&str, &str)]| {
        http(
            site.rest,
            "PATCH",
            uris,
            true,
            "application/x-www-form-urlencoded",
            &form(pairs),
        )
    };
    let footer_url = format!("http://{web}/api/templates/list/ant.example.com/footer");

    // Postorius's way: the URL of its template view, with credentials.
    let (status, _, text) = patch(&[
        (FOOTER, &footer_url),
        ("username", "user"),
        ("password", "secret"),
    ]);
    assert_eq!(status, 204, "{text}");
    let shown = site.ok(&["templates", "show", FOOTER, "--list", LIST]);
    assert_eq!(shown, "-- \nFrom the web: the $display_name list\n");
    // The collection shows the URI and its credentials, as Mailman's does.
    let (status, _, text) = http(site.rest, "GET", uris, true, "text/plain", "");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&footer_url), "{text}");
    assert!(text.contains("\"username\":\"user\""), "{text}");

    // Every failure is a 400 naming the URL and why; the override stays as it was.
    let refused = format!("http://127.0.0.1:{}/x", support::free_port());
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![
                (FOOTER, footer_url.clone()),
                ("username", "user".into()),
                ("password", "wrong".into()),
            ],
            "HTTP 401",
        ),
        (vec![(FOOTER, format!("http://{web}/nothing"))], "HTTP 404"),
        (
            vec![(FOOTER, format!("http://{web}/big"))],
            "larger than 262144 bytes",
        ),
        (vec![(FOOTER, format!("http://{web}/latin1"))], "not UTF-8"),
        (vec![(FOOTER, refused.clone())], "cannot fetch template"),
        (
            vec![(FOOTER, "gopher://example.com/x".into())],
            "file:, http: and https:",
        ),
        (
            vec![
                (FOOTER, "file:///etc/hostname".into()),
                ("username", "user".into()),
                ("password", "secret".into()),
            ],
            "credentials are for http: and https:",
        ),
    ];
    for (pairs, why) in &cases {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, text) = patch(&pairs);
        assert_eq!(status, 400, "{pairs:?}: {text}");
        assert!(text.contains(why), "{pairs:?}: {text}");
    }
    let still = site.ok(&["templates", "show", FOOTER, "--list", LIST]);
    assert_eq!(still, shown, "a failed fetch leaves the override alone");

    // The next post's copies carry the fetched footer, the web server no longer asked.
    let sent = message(MEMBERS[0], LIST, "Hello", "Hi all\n");
    assert_eq!(post(site.lmtp, MEMBERS[0], LIST, &sent).await.code, 250);
    wait_until("both copies", || {
        let received = sink.received();
        MEMBERS
            .iter()
            .all(|m| !received_by(&received, m).is_empty())
    })
    .await;
    let received = sink.received();
    for member in MEMBERS {
        let copy = &received_by(&received, member)[0];
        assert!(
            body(&copy.data).contains("From the web: the Ant list"),
            "{}",
            String::from_utf8_lossy(&copy.data)
        );
    }

    // The CLI takes an http: URL too (no credentials).
    site.ok(&[
        "templates",
        "set",
        FOOTER,
        &format!("http://{web}/plain"),
        "--list",
        LIST,
    ]);
    let plain = site.ok(&["templates", "show", FOOTER, "--list", LIST]);
    assert_eq!(plain, "-- \nA plain footer\n");
    let failed = site.fails(&["templates", "set", FOOTER, &refused, "--list", LIST]);
    assert!(failed.contains("cannot fetch template"), "{failed}");
    daemon.stop().await;
}
