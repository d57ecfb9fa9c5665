//! Golden transcripts of the REST API: each `tests/rest/golden/<name>.http` is a list of
//! requests; the test replays it against a running `mailcast serve` and compares the
//! normalized transcript with `<name>.golden`. `UPDATE_GOLDEN=1` rewrites the golden files
//! (review the diff: the shapes are checked against Mailman 3.3.10's REST doctests, and every
//! deliberate difference is listed in `tests/rest/golden/README.md`).
//!
//! A request block is `METHOD /path`, then an optional body line (a form, or JSON when it
//! starts with `{`), then a blank line. Lines starting with `#` are comments. Normalization
//! replaces what changes from run to run: the host and port, ids, tokens, etags and times.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mailcast_outbound::sink::SinkConfig;
use regex::Regex;
use support::{Site, http, sink_port, start_sink};

struct Request {
    method: String,
    path: String,
    body: Option<String>,
}

fn parse(text: &str) -> Vec<Request> {
    let mut requests = Vec::new();
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let Some(first) = lines.first() else { continue };
        let (method, path) = first.split_once(' ').expect("METHOD /path");
        requests.push(Request {
            method: method.to_string(),
            path: path.trim().to_string(),
            body: lines.get(1).map(|b| b.to_string()),
        });
    }
    requests
}

/// One exchange with the REST API: the status, the headers worth showing and the body.
fn exchange(addr: SocketAddr, request: &Request) -> (u16, Vec<String>, String) {
    let body = request.body.clone().unwrap_or_default();
    let content_type = if body.starts_with('{') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let (status, headers, body) = http(
        addr,
        &request.method,
        &request.path,
        true,
        content_type,
        &body,
    );
    let headers = headers
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k == "location" || k == "content-type" || k.starts_with("x-mailcast-"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    (status, headers, body)
}

fn normalize(text: &str) -> String {
    let rules = [
        (
            r"\$pbkdf2-sha256\$\d+\$[A-Za-z0-9./]+\$[A-Za-z0-9./]+",
            "<password hash>",
        ),
        (
            r#""http_etag": "\\"[0-9a-f]{40}\\"""#,
            r#""http_etag": "<etag>""#,
        ),
        (r"\b[0-9a-f]{40}\b", "<token>"),
        (r"\b[0-9a-f]{32}\b", "<id>"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", "<time>"),
        (r"/tmp/[^\s\x22]*/var/", "<var>/"),
        (r"\b[0-9a-f]{12,16}-[0-9a-f]{8}\b", "<entry>"),
    ];
    let mut out = text.to_string();
    for (pattern, replacement) in rules {
        out = Regex::new(pattern)
            .expect("a valid pattern")
            .replace_all(&out, replacement)
            .into_owned();
    }
    out
}

fn transcript(addr: SocketAddr, requests: &[Request]) -> String {
    let mut out = String::new();
    for request in requests {
        out.push_str(&format!("> {} {}\n", request.method, request.path));
        if request.method == "WAIT" {
            // `WAIT /path` then the text the compact JSON body must come to contain.
            let want = request.body.clone().unwrap_or_default();
            out.push_str(&format!("> {want}\n\n"));
            wait_for(addr, &request.path, &want);
            continue;
        }
        if let Some(body) = &request.body {
            out.push_str(&format!("> {body}\n"));
        }
        let (status, headers, body) = exchange(addr, request);
        out.push_str(&format!("< {status}\n"));
        for h in headers {
            out.push_str(&format!("< {}\n", normalize(&h)));
        }
        if !body.is_empty() {
            let pretty = match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(value) => serde_json::to_string_pretty(&value).expect("JSON prints"),
                Err(_) => body,
            };
            out.push_str(&normalize(&pretty));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Polls `GET path` until its body contains `want` (the runners work asynchronously).
fn wait_for(addr: SocketAddr, path: &str, want: &str) {
    let get = Request {
        method: "GET".into(),
        path: path.into(),
        body: None,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, _, body) = exchange(addr, &get);
        let compact = body.replace([' ', '\n'], "");
        if compact.contains(want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "GET {path} never showed {want}: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rest/golden")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_transcripts_match_their_golden_files() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    // The mbox archiver on for the site, prototype off: `/lists/<id>/archivers` shows both.
    let mut mbox = toml::Table::new();
    mbox.insert("enable".into(), true.into());
    site.set("archiver.mbox", mbox);
    let daemon = site.start().await;
    let mut names: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("the golden directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no transcripts in {}",
        golden_dir().display()
    );
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for path in names {
        let requests = parse(&std::fs::read_to_string(&path).expect("read a transcript"));
        let addr = site.rest;
        let got = tokio::task::spawn_blocking(move || transcript(addr, &requests))
            .await
            .expect("transcript");
        let golden = path.with_extension("golden");
        if update {
            std::fs::write(&golden, &got).expect("write a golden file");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            let out = path.with_extension("actual");
            std::fs::write(&out, &got).expect("write the actual transcript");
            failures.push(format!(
                "{} differs from {} (see {})",
                path.display(),
                golden.display(),
                out.display()
            ));
        }
    }
    daemon.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
