//! Digests and archiving, end to end: POSTS posts (4 KB, default 10,000) over LMTP to a list
//! with 1,000 regular members and 1,000 digest members (500 MIME, 500 plain), the real
//! `mailcast serve` (release build) and the in-process SMTP sink as the members' servers.
//!
//! One invocation runs the same load with archiving off, with the mbox archiver, and (when
//! `HYPERKITTY_URL` and `HYPERKITTY_KEY` name a running HyperKitty) with HyperKitty, REPS
//! times each (default 1), alternating, and prints per configuration the medians of:
//! the daemon's CPU per post (from `/proc`, from the first post until the spool is empty), the
//! rate at which posts were archived (from the first post to the last archived), the digests
//! sent and the median time to build one (`mailcast_digest_build_seconds`), and the CPU
//! ratio against archiving off. Every post must reach every regular member and be in exactly
//! the digests' count; a mismatch fails the benchmark.
//!
//! `cargo bench -p mailcast --bench digests` (`POSTS=n`, `REPS=n`, `DIGESTS_DIR=path`).

mod support;

use std::time::{Duration, Instant};

use mailcast_outbound::sink::{Sink, SinkConfig};
use support::{Site, cpu_seconds, loadavg, send_all};

const LIST: &str = "ant@bench.example";
const REGULAR: usize = 1_000;
const DIGEST: usize = 1_000;
const CONNECTIONS: usize = 8;
const PATIENCE: Duration = Duration::from_secs(1800);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Archive {
    Off,
    Mbox,
    HyperKitty,
}

impl Archive {
    fn config(self) -> String {
        match self {
            Archive::Off => String::new(),
            Archive::Mbox => "[archiver.mbox]\nenable = true\n".into(),
            Archive::HyperKitty => format!(
                "[archiver.hyperkitty]\nenable = true\nbase_url = \"{}\"\napi_key = \"{}\"\n",
                std::env::var("HYPERKITTY_URL").unwrap_or_default(),
                std::env::var("HYPERKITTY_KEY").unwrap_or_default()
            ),
        }
    }

    fn series(self) -> Option<&'static str> {
        match self {
            Archive::Off => None,
            Archive::Mbox => Some("mailcast_archived_total{archiver=\"mbox\"}"),
            Archive::HyperKitty => Some("mailcast_archived_total{archiver=\"hyperkitty\"}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Run {
    cpu_per_post_ms: f64,
    archived_per_second: Option<f64>,
    digests: f64,
    build_ms: f64,
}

fn main() {
    let posts = env("POSTS", 10_000);
    let reps = env("REPS", 1);
    let mut configs = vec![Archive::Off, Archive::Mbox];
    if std::env::var_os("HYPERKITTY_URL").is_some() {
        configs.push(Archive::HyperKitty);
    } else {
        println!("HYPERKITTY_URL not set: the HyperKitty row is left out");
    }
    println!("load average before: {}", loadavg());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut runs: Vec<(Archive, Run)> = Vec::new();
    for rep in 0..reps {
        for &archive in &configs {
            let run = runtime.block_on(run(archive, posts));
            println!("rep {rep} {archive:?}: {run:?}");
            runs.push((archive, run));
        }
    }
    println!("load average after: {}", loadavg());
    let median = |archive: Archive, f: &dyn Fn(&Run) -> Option<f64>| -> Option<f64> {
        let mut v: Vec<f64> = runs
            .iter()
            .filter(|(a, _)| *a == archive)
            .filter_map(|(_, r)| f(r))
            .collect();
        v.sort_by(f64::total_cmp);
        (!v.is_empty()).then(|| v[v.len() / 2])
    };
    let base = median(Archive::Off, &|r| Some(r.cpu_per_post_ms)).unwrap_or(f64::NAN);
    println!();
    println!(
        "{posts} posts, {REGULAR} regular and {DIGEST} digest members, medians of {reps} run(s)"
    );
    println!();
    println!(
        "| archiving | daemon CPU per post | vs off | posts archived/s | digests sent | digest build (median) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for &archive in &configs {
        let cpu = median(archive, &|r| Some(r.cpu_per_post_ms)).unwrap_or(f64::NAN);
        let rate = median(archive, &|r| r.archived_per_second)
            .map_or("–".to_string(), |r| format!("{r:.0}"));
        println!(
            "| {archive:?} | {cpu:.2} ms | {:+.1}% | {rate} | {:.0} | {:.2} ms |",
            (cpu / base - 1.0) * 100.0,
            median(archive, &|r| Some(r.digests)).unwrap_or(0.0),
            median(archive, &|r| Some(r.build_ms)).unwrap_or(0.0),
        );
    }
}

async fn run(archive: Archive, posts: usize) -> Run {
    let sink = Sink::start(SinkConfig {
        record_data: false,
        ..SinkConfig::smtp()
    })
    .await
    .expect("the sink starts");
    let root = std::env::var_os("DIGESTS_DIR").map(Into::into);
    let extra = format!(
        "[site]\nhostname = \"bench.example\"\nsite_owner = \"postmaster@bench.example\"\n\
         [digests]\nperiodic = false\n{}",
        archive.config()
    );
    let site = Site::create("digests", root, &sink, "sqlite:var/mailcast.db", &extra);
    site.cli(&["domains", "add", "bench.example"]);
    site.cli(&["lists", "create", LIST]);
    let regular: Vec<String> = (0..REGULAR)
        .map(|n| format!("r{n:04}@d{}.example", n % 31))
        .collect();
    let digest: Vec<String> = (0..DIGEST)
        .map(|n| format!("g{n:04}@d{}.example", n % 31))
        .collect();
    let file = site.dir.join("members.txt");
    std::fs::write(
        &file,
        [regular.join("\n"), digest.join("\n")].join("\n") + "\n",
    )
    .unwrap();
    site.cli(&["members", "add", LIST, "--file", file.to_str().unwrap()]);
    // Straight through the store: a thousand CLI runs would take longer than the load.
    let url = format!("sqlite:{}", site.dir.join("var/mailcast.db").display());
    let store = mailcast_store::Store::open(&url).await.expect("the store");
    let list = mailcast_model::ListAddress::parse(LIST).unwrap();
    for (n, who) in digest.iter().enumerate() {
        let mode = match n % 2 {
            0 => mailcast_model::DeliveryMode::MimeDigests,
            _ => mailcast_model::DeliveryMode::PlaintextDigests,
        };
        let address = mailcast_model::EmailAddress::parse(who).unwrap();
        store
            .set_delivery_mode(&list, &address, mailcast_model::MemberRole::Member, mode)
            .await
            .expect("a digest member");
    }
    store.close().await;
    site.cli(&["lists", "set", LIST, "default_nonmember_action=accept"]);
    let daemon = site.serve().await;
    let messages: Vec<(String, String, Vec<u8>)> = (0..posts)
        .map(|n| {
            let mut text = format!(
                "From: poster{}@senders.example\r\nTo: {LIST}\r\nSubject: post {n}\r\nMessage-ID: <p{n}@senders.example>\r\n\
                 Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n\r\n",
                n % 50
            );
            while text.len() < 4096 {
                text.push_str("A line of body text that is about as long as the lines people write.\r\n");
            }
            (format!("poster{}@senders.example", n % 50), LIST.to_string(), text.into_bytes())
        })
        .collect();
    let cpu_before = cpu_seconds(daemon.pid());
    let started = Instant::now();
    send_all(site.lmtp, messages, CONNECTIONS).await;
    sink.wait_for_recipients((posts * REGULAR) as u64, PATIENCE)
        .await
        .expect("every post reaches every regular member");
    let mut archived_at = None;
    if let Some(series) = archive.series() {
        while site.metric(series).await < posts as f64 {
            assert!(started.elapsed() < PATIENCE, "archiving did not finish");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        archived_at = Some(started.elapsed());
    }
    // The last, partial digest, then every digest delivered.
    site.cli(&["digests", "--send"]);
    let digests = loop {
        let counts = site.cli(&["queue", "list"]);
        let idle = counts.lines().all(|l| {
            let mut parts = l.split_whitespace();
            let stage = parts.next().unwrap_or("");
            let n: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            !["incoming", "outgoing", "deferred", "archive"].contains(&stage) || n == 0
        });
        if idle {
            // The daemon's count, plus the one `digests --send` (another process) sent.
            break site.metric("mailcast_digests_total").await;
        }
        assert!(started.elapsed() < PATIENCE, "the spool did not empty");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cpu = cpu_seconds(daemon.pid()) - cpu_before;
    let build = site
        .metric("mailcast_digest_build_seconds{quantile=\"0.5\"}")
        .await;
    let delivered = sink.counters().delivered - (posts * REGULAR) as u64;
    assert!(
        delivered.is_multiple_of(DIGEST as u64) && delivered / DIGEST as u64 >= digests as u64,
        "each post to each regular member once, each digest (MIME and plain) to its members \
         once: {delivered} digest copies for {digests} digests and a last one"
    );
    let digests = (delivered / DIGEST as u64) as f64;
    daemon.stop();
    Run {
        cpu_per_post_ms: cpu * 1000.0 / posts as f64,
        archived_per_second: archived_at.map(|t| posts as f64 / t.as_secs_f64()),
        digests,
        build_ms: build * 1000.0,
    }
}
