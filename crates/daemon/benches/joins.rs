//! Membership-by-mail benchmark: 10,000 distinct `-join` requests over LMTP on 16
//! connections to a list under `subscription_policy = confirm`, then the 10,000 replies to
//! the confirmations, on SQLite and on PostgreSQL.
//!
//! The real `mailcast serve` (release build) runs with the in-process SMTP sink as the
//! members' mail server. A phase's rate is requests per second from its first LMTP
//! transaction to the moment the sink accepted the last mail the phase causes (the
//! confirmation for a join, the welcome message for a confirmation): intake, the command
//! runner, the store and the delivery of the answer, end to end. The LMTP intake alone is
//! printed beside it. The end state is checked exactly: 10,000 members, one confirmation and
//! one welcome per address, no duplicates; a mismatch fails the benchmark.
//!
//! `cargo bench -p mailcast --bench joins` (`JOINS_COUNT=n`, default 10,000;
//! `JOINS_CONCURRENCY=n` sets `[runner] concurrency`, default 8; `JOINS_DIR=path` puts the
//! site elsewhere (`/dev/shm` takes the disk's fsyncs out, to see what they cost);
//! `JOINS_BACKENDS=sqlite,postgres`, default both; PostgreSQL from
//! `MAILCAST_TEST_POSTGRES_URL`, as the store tests, started by `scripts/postgres-up.sh`).
//! Runs on the real disk under the target directory, because the spool's fsyncs are part of
//! the cost.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailcast_outbound::sink::{Sink, SinkConfig};
use mailcast_store::Backend;
use mailcast_store::testing::TestDb;
use support::{Site, send_all};

const LIST: &str = "join@bench.example";
const CONNECTIONS: usize = 16;
const PATIENCE: Duration = Duration::from_secs(900);

fn main() {
    let count: usize = std::env::var("JOINS_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let backends = std::env::var("JOINS_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut rows = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if !backends.split(',').any(|b| b.trim() == backend.as_str()) {
            continue;
        }
        let row = runtime.block_on(run(backend, count));
        rows.push((backend, row));
    }
    println!();
    println!(
        "| back end | joins: LMTP intake/s | joins: to last confirmation, req/s | confirmations: LMTP intake/s | confirmations: to last welcome, req/s |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (backend, r) in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            backend.as_str(),
            r.join_intake,
            r.join_rate,
            r.confirm_intake,
            r.confirm_rate
        );
    }
}

struct Row {
    join_intake: f64,
    join_rate: f64,
    confirm_intake: f64,
    confirm_rate: f64,
}

async fn run(backend: Backend, count: usize) -> Row {
    let db = TestDb::new(backend)
        .await
        .unwrap_or_else(|| panic!("no {} database for the benchmark", backend.as_str()));
    let sink = Sink::start(SinkConfig::smtp())
        .await
        .expect("the sink starts");
    let site = create_site(&sink, db.url());
    let daemon = site.serve().await;

    let joiners: Vec<String> = (0..count)
        .map(|n| format!("user{n}@members.example"))
        .collect();
    let messages: Vec<(String, String, Vec<u8>)> = joiners
        .iter()
        .map(|a| {
            let text = format!(
                "From: {a}\r\nTo: join-join@bench.example\r\nSubject: join\r\nMessage-ID: <j.{a}>\r\n\r\nplease\r\n"
            );
            (a.clone(), "join-join@bench.example".to_string(), text.into_bytes())
        })
        .collect();
    let started = Instant::now();
    let (intake, _) = send_all(site.lmtp, messages, CONNECTIONS).await;
    let join_intake = count as f64 / intake.as_secs_f64();
    sink.wait_for_recipients(count as u64, PATIENCE)
        .await
        .expect("every confirmation arrives");
    let join_rate = count as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}: {count} joins: intake {join_intake:.0}/s, confirmations {join_rate:.0}/s",
        backend.as_str()
    );

    let confirmations = by_subject(&sink, "Your confirmation is needed");
    assert_eq!(confirmations.len(), count, "one confirmation per address");
    let replies: Vec<(String, String, Vec<u8>)> = confirmations
        .iter()
        .map(|(rcpt, from)| {
            let text = format!(
                "From: {rcpt}\r\nTo: {from}\r\nSubject: Re: confirm\r\nMessage-ID: <c.{rcpt}>\r\n\r\nyes\r\n"
            );
            (rcpt.clone(), from.clone(), text.into_bytes())
        })
        .collect();
    let started = Instant::now();
    let (intake, _) = send_all(site.lmtp, replies, CONNECTIONS).await;
    let confirm_intake = count as f64 / intake.as_secs_f64();
    sink.wait_for_recipients(2 * count as u64, PATIENCE)
        .await
        .expect("every welcome arrives");
    let confirm_rate = count as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}: {count} confirmations: intake {confirm_intake:.0}/s, welcomes {confirm_rate:.0}/s",
        backend.as_str()
    );

    let welcomes = by_subject(&sink, "Welcome to the");
    assert_eq!(welcomes.len(), count, "one welcome per address");
    assert_eq!(
        sink.received().len(),
        2 * count,
        "nothing else was sent, nothing twice"
    );
    let members = site.cli(&["members", "list", LIST, "--role", "member"]);
    assert_eq!(members.lines().count(), count, "every address is a member");
    daemon.stop();
    Row {
        join_intake,
        join_rate,
        confirm_intake,
        confirm_rate,
    }
}

/// Recipient → From address of the mails whose Subject contains `subject`; each recipient
/// exactly once.
fn by_subject(sink: &Sink, subject: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for r in sink.received() {
        let text = String::from_utf8_lossy(&r.data);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let field = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().trim_matches(|c| c == '<' || c == '>').to_string())
        };
        if !field("Subject: ").is_some_and(|s| s.contains(subject)) {
            continue;
        }
        let from = field("From: ").unwrap_or_default();
        for rcpt in &r.rcpts {
            assert!(
                out.insert(rcpt.clone(), from.clone()).is_none(),
                "{rcpt} got {subject:?} twice"
            );
        }
    }
    out
}

/// The benchmark's site: one list under `subscription_policy = confirm`.
fn create_site(sink: &Sink, database_url: &str) -> Site {
    let root = std::env::var_os("JOINS_DIR").map(PathBuf::from);
    let concurrency: usize = std::env::var("JOINS_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let extra = format!(
        "[site]\nhostname = \"bench.example\"\nsite_owner = \"postmaster@bench.example\"\n\
         max_autoresponses_per_day = 0\n[runner]\nconcurrency = {concurrency}\n"
    );
    let site = Site::create("joins", root, sink, database_url, &extra);
    site.cli(&["domains", "add", "bench.example"]);
    site.cli(&["lists", "create", LIST]);
    site.cli(&[
        "lists",
        "set",
        LIST,
        "subscription_policy=confirm",
        "send_welcome_message=true",
    ]);
    site
}
