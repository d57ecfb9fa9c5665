//! Bulk member import throughput: 100,000 generated members (`Name N <userN@example.org>`)
//! into a fresh list, several runs per back end, median members per second; and the time to
//! read that list's recipients once.
//!
//! Run with `cargo bench -p mailcast-store --bench import` (PostgreSQL from
//! `scripts/postgres-up.sh` or `MAILCAST_TEST_POSTGRES_URL`; skipped if unreachable).
//! `IMPORT_MEMBERS`, `IMPORT_RUNS` and `IMPORT_BACKENDS` (`sqlite,postgres`) override the
//! size, the number of runs and the back ends. The SQLite
//! file lives under the target directory (on disk, not tmpfs), as a real deployment's would.

use std::time::Instant;

use mailcast_model::{ListAddress, Mailbox, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{Backend, Store};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) this process has used so far, from `/proc/self/stat` (Linux;
/// `None` elsewhere). The machine may be shared, so CPU time per member is printed beside the
/// wall-clock rate: it does not depend on what else is running. PostgreSQL's own CPU time is
/// not included.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

async fn one_run(store: &Store, mailboxes: &[Mailbox]) -> (f64, Option<f64>) {
    let list = ListAddress::parse("bench@example.org").unwrap();
    store.add_domain(list.domain(), None, "").await.unwrap();
    store.create_list(&list).await.unwrap();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let report = store
        .add_members(&list, MemberRole::Member, mailboxes, &mut |_| {})
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_before.zip(cpu_seconds()).map(|(a, b)| b - a);
    assert_eq!(report.added, mailboxes.len());
    // What the delivery path pays per post on such a list.
    let started = Instant::now();
    let recipients = store.recipients(&list).await.unwrap();
    assert_eq!(recipients.len(), mailboxes.len());
    println!(
        "    recipients() of {} members: {:.0} ms",
        recipients.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    (
        mailboxes.len() as f64 / seconds,
        cpu.map(|c| c * 1e6 / mailboxes.len() as f64),
    )
}

async fn bench(backend: Backend, mailboxes: &[Mailbox], runs: usize) {
    let mut rates = Vec::new();
    for _ in 0..runs {
        let rate = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
                let url = format!("sqlite:{}", dir.path().join("mailcast.db").display());
                let store = Store::open(&url).await.unwrap();
                let rate = one_run(&store, mailboxes).await;
                store.close().await;
                rate
            }
            Backend::Postgres => {
                let Some(db) = TestDb::new(Backend::Postgres).await else {
                    println!("postgres: skipped (server not reachable)");
                    return;
                };
                let store = db.open().await;
                let rate = one_run(&store, mailboxes).await;
                store.close().await;
                rate
            }
        };
        let (rate, cpu_us) = rate;
        match cpu_us {
            Some(us) => println!(
                "{}: {rate:>9.0} members/s, {us:.1} µs CPU per member in this process",
                backend.as_str()
            ),
            None => println!("{}: {rate:>9.0} members/s", backend.as_str()),
        }
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{}: median {:.0} members/s over {} runs of {} members (min {:.0}, max {:.0})",
        backend.as_str(),
        rates[rates.len() / 2],
        rates.len(),
        mailboxes.len(),
        rates[0],
        rates[rates.len() - 1],
    );
}

fn main() {
    let members = env_number("IMPORT_MEMBERS", 100_000);
    let runs = env_number("IMPORT_RUNS", 5);
    let backends = std::env::var("IMPORT_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mailboxes: Vec<Mailbox> = (0..members)
        .map(|n| Mailbox::parse(&format!("Name {n} <user{n}@example.org>")).unwrap())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for backend in Backend::ALL {
            if backends.split(',').any(|b| b == backend.as_str()) {
                bench(backend, &mailboxes, runs).await;
            }
        }
    });
}
