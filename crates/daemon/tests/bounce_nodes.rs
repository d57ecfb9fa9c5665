//! Two nodes on one PostgreSQL database, black box: two `mailcast serve` processes, each with
//! its own var dir, spool, LMTP and REST ports, share one database and one clock (one
//! libfaketime offset file) and deliver to one in-process SMTP sink.
//!
//! Twenty members bounce on five fake days. Each day every member's DSN arrives through node A
//! and through node B at the same time (several LMTP connections per node), with extra
//! same-day duplicates on top: the same-day rule makes each day count once, so a score of
//! exactly `day + 1` proves that no increment was lost and none was counted twice while the
//! two nodes scored the same rows. After the fifth day every member is disabled. Both nodes
//! run the scheduled bounce pass every second; each member must get each owner notice, each
//! of the three weekly warnings and the removal exactly once (`FOR UPDATE SKIP LOCKED`
//! claims), checked again a few seconds after every step.
//!
//! Needs PostgreSQL (`scripts/postgres-up.sh`, or `MAILCAST_TEST_POSTGRES_URL`): under
//! `CI=true` a missing server fails the test, elsewhere the test is skipped with a message.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mailcast_model::ListAddress;
use mailcast_outbound::sink::{Sink, SinkConfig};
use mailcast_store::Backend;
use mailcast_store::testing::TestDb;
use support::{Daemon, Lmtp, Site, TestClock, header, metric, sink_port, start_sink, wait_until};

const LIST: &str = "ant@example.org";
const BOUNCES: &str = "ant-bounces@example.org";
const OWNER: &str = "owner@example.com";
const MEMBERS: usize = 20;
const DAYS: u32 = 5;
/// LMTP connections per node and day.
const CONNECTIONS: usize = 4;
/// How long the test waits after each step for a duplicate that must not come.
const HOLD: Duration = Duration::from_secs(3);

fn member(i: usize) -> String {
    format!("member{i:02}@example.com")
}

/// A DSN from `mx.example.com`: `rcpt` failed for good (5.1.1).
fn dsn(rcpt: &str, n: u64) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n\
         To: {BOUNCES}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn-{n}-{rcpt}>\r\n\
         Date: Mon, 2 Mar 2026 12:00:00 +0000\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
         \r\n\
         --B\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         This is the mail system at host mx.example.com.\r\n\
         \r\n\
         --B\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.example.com\r\n\
         \r\n\
         Final-Recipient: rfc822; {rcpt}\r\n\
         Action: failed\r\n\
         Status: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\
         \r\n\
         --B\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: poster@example.net\r\n\
         To: {LIST}\r\n\
         Subject: hello\r\n\
         \r\n\
         --B--\r\n"
    )
    .into_bytes()
}

/// How many DSNs naming member `i` arrive on day `d` through each node: (A, B). Always at
/// least one through each; the extra ones are same-day duplicates.
fn per_day(i: usize, d: u32) -> (usize, usize) {
    let extra = (i + d as usize) % 3;
    (1 + extra, 1 + (i % 2))
}

/// Sends one DSN for each of `jobs` over [`CONNECTIONS`] LMTP connections to `site`, every
/// reply a 250.
async fn deliver(site: &Site, jobs: Vec<(String, u64)>) {
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let mine: Vec<(String, u64)> = jobs.iter().skip(c).step_by(CONNECTIONS).cloned().collect();
        let addr = site.lmtp;
        tasks.push(tokio::spawn(async move {
            let mut lmtp = Lmtp::connect(addr).await;
            for (rcpt, n) in mine {
                let delivery = lmtp.send("", &[BOUNCES], &dsn(&rcpt, n)).await;
                assert_eq!(delivery.rcpt[0].code, 250, "{rcpt}: {delivery:?}");
                assert_eq!(delivery.data.len(), 1, "{rcpt}: {delivery:?}");
                assert_eq!(delivery.data[0].code, 250, "{rcpt}: {delivery:?}");
            }
            lmtp.quit().await;
        }));
    }
    for task in tasks {
        task.await.expect("an LMTP connection finished");
    }
}

/// `mailcast bounces LIST`: address → (score, delivery, warnings).
fn records(site: &Site) -> HashMap<String, (String, String, u64)> {
    site.ok(&["bounces", LIST])
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // ADDRESS SCORE LAST-BOUNCE DELIVERY WARNINGS LAST-WARNING
            Some((
                f.first()?.to_string(),
                (
                    f.get(1)?.to_string(),
                    f.get(3)?.to_string(),
                    f.get(4)?.parse().ok()?,
                ),
            ))
        })
        .collect()
}

/// How many mails to `rcpt` have a Subject containing `subject`.
fn count_to(sink: &Sink, rcpt: &str, subject: &str) -> usize {
    sink.received()
        .iter()
        .filter(|r| r.rcpts.iter().any(|x| x.eq_ignore_ascii_case(rcpt)))
        .filter(|r| header(&r.data, "Subject").is_some_and(|s| s.contains(subject)))
        .count()
}

/// The mail each member has received, and the owner about each member, per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tally {
    increments: Vec<usize>,
    disabled: Vec<usize>,
    warnings: Vec<usize>,
    removed: Vec<usize>,
    goodbyes: Vec<usize>,
}

fn tally(sink: &Sink) -> Tally {
    let per = |f: &dyn Fn(&str) -> usize| (0..MEMBERS).map(|i| f(&member(i))).collect();
    Tally {
        increments: per(&|m| count_to(sink, OWNER, &format!("{m}'s bounce score incremented"))),
        disabled: per(&|m| count_to(sink, OWNER, &format!("{m}'s subscription disabled"))),
        warnings: per(&|m| {
            count_to(
                sink,
                m,
                "Your subscription for Ant mailing list has been disabled",
            )
        }),
        removed: per(&|m| {
            count_to(
                sink,
                OWNER,
                &format!("{m} unsubscribed from Ant mailing list due to bounces"),
            )
        }),
        goodbyes: per(&|m| {
            count_to(
                sink,
                m,
                "You have been unsubscribed from the Ant mailing list",
            )
        }),
    }
}

fn all(n: usize) -> Vec<usize> {
    vec![n; MEMBERS]
}

/// Waits until the sink shows `want`, then `HOLD` longer, and checks nothing more came.
async fn expect_exactly(sink: &Sink, want: &Tally, step: &str) {
    wait_until(&format!("{step}: {want:?}"), || {
        let got = tally(sink);
        got.increments
            .iter()
            .zip(&want.increments)
            .all(|(g, w)| g >= w)
            && got.disabled.iter().zip(&want.disabled).all(|(g, w)| g >= w)
            && got.warnings.iter().zip(&want.warnings).all(|(g, w)| g >= w)
            && got.removed.iter().zip(&want.removed).all(|(g, w)| g >= w)
            && got.goodbyes.iter().zip(&want.goodbyes).all(|(g, w)| g >= w)
    })
    .await;
    tokio::time::sleep(HOLD).await;
    let got = tally(sink);
    assert_eq!(&got, want, "{step}: the counts grew beyond exact");
    println!(
        "{step}: per member: {} increment notices, {} disable notices, {} warnings, {} removal notices, {} goodbyes (sink total {} mails)",
        got.increments[0],
        got.disabled[0],
        got.warnings[0],
        got.removed[0],
        got.goodbyes[0],
        sink.received().len()
    );
}

/// A metric summed over both nodes, and each node's share.
async fn both(a: &Site, b: &Site, series: &str) -> (f64, f64, f64) {
    let (x, y) = (metric(a, series).await, metric(b, series).await);
    (x + y, x, y)
}

/// Warnings and errors either daemon logged.
fn complaints(daemons: &[(&str, &Daemon)]) -> Vec<String> {
    daemons
        .iter()
        .flat_map(|(name, d)| {
            d.log()
                .lines()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                .map(|l| format!("{name}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_score_warn_and_remove_each_member_exactly_once() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("bounce_nodes: no PostgreSQL reachable; test skipped (CI=true makes this fail)");
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(dir.path().join("clock"));
    let day0: Timestamp = "2026-03-02T12:00:00Z".parse().unwrap();
    let day = |n: i64| day0 + SignedDuration::from_hours(24 * n);
    clock.set(day(0)).await;

    let sink = start_sink(SinkConfig::smtp()).await;
    let mut a = Site::new(sink_port(&sink));
    let mut b = Site::new(sink_port(&sink));
    for (site, node) in [(&mut a, "node-a"), (&mut b, "node-b")] {
        site.set("database.url", db.url());
        site.set("site.maintenance_interval", 1);
        site.set("site.node", node);
    }
    let members: Vec<String> = (0..MEMBERS).map(member).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    a.create_list(LIST, &refs, &[OWNER], &[]);
    a.ok(&[
        "lists",
        "set",
        LIST,
        "bounce_notify_owner_on_bounce_increment=true",
    ]);
    let node_a = a.start_with_env(&clock.env()).await;
    let node_b = b.start_with_env(&clock.env()).await;
    let store = db.open().await;
    let list = ListAddress::parse(LIST).unwrap();

    let mut n = 0u64;
    let mut sent: Vec<u64> = vec![0; MEMBERS];
    let mut total = 0usize;
    for d in 0..DAYS {
        clock.set(day(d.into())).await;
        let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
        for (i, m) in members.iter().enumerate() {
            let (on_a, on_b) = per_day(i, d);
            for _ in 0..on_a {
                n += 1;
                to_a.push((m.clone(), n));
            }
            for _ in 0..on_b {
                n += 1;
                to_b.push((m.clone(), n));
            }
            sent[i] += (on_a + on_b) as u64;
        }
        let today = to_a.len() + to_b.len();
        total += today;
        // Both nodes at once; each node's connections take the members in the same order, so
        // a member's DSNs reach the two nodes at about the same moment.
        tokio::join!(deliver(&a, to_a), deliver(&b, to_b));
        wait_until("both nodes took every bounce", || {
            a.queue_count("bounces") == 0 && b.queue_count("bounces") == 0
        })
        .await;
        // Read through either node's CLI (they share the database).
        let reader = if d % 2 == 0 { &a } else { &b };
        let shown = records(reader);
        let summaries = store
            .bounce_summaries(&list)
            .await
            .expect("bounce summaries");
        for (i, m) in members.iter().enumerate() {
            let (score, delivery, _) = shown
                .get(m)
                .unwrap_or_else(|| panic!("day {d}: {m} has no bounce record:\n{shown:?}"));
            if d + 1 < DAYS {
                assert_eq!(
                    (score.as_str(), delivery.as_str()),
                    ((d + 1).to_string().as_str(), "enabled"),
                    "day {d}: {m}:\n{}",
                    reader.ok(&["bounces", "show", LIST, m])
                );
            } else {
                assert_eq!(
                    (score.as_str(), delivery.as_str()),
                    ("0", "by_bounces"),
                    "day {d}: {m}"
                );
            }
            let events = summaries
                .iter()
                .find(|s| s.state.email.as_str() == m)
                .map_or(0, |s| s.events);
            assert_eq!(events, sent[i], "day {d}: {m}: one event per DSN");
        }
        println!(
            "day {}: {today} DSNs ({} members, 2 to 4 each through both nodes); every member at score {} after {:.1?}",
            d + 1,
            MEMBERS,
            if d + 1 < DAYS {
                (d + 1).to_string()
            } else {
                "0, by_bounces".into()
            },
            started.elapsed()
        );
    }
    let (bounces, on_a, on_b) = both(&a, &b, "mailcast_bounces_total{class=\"permanent\"}").await;
    println!(
        "{total} DSNs: {bounces} permanent findings scored ({on_a} on node A, {on_b} on node B)"
    );
    assert_eq!(bounces as usize, total);

    // Disabled on day 5: the owner heard of every increment (4 counted + the disabling one)
    // and of the disabling once; the first warning goes out at the next pass of either node.
    let mut want = Tally {
        increments: all(5),
        disabled: all(1),
        warnings: all(1),
        removed: all(0),
        goodbyes: all(0),
    };
    expect_exactly(&sink, &want, "disabled").await;
    let (disabled, on_a, on_b) = both(&a, &b, "mailcast_bounce_members_disabled_total").await;
    println!("members disabled: {disabled} ({on_a} on node A, {on_b} on node B)");
    assert_eq!(disabled as usize, MEMBERS);

    // The second and third warnings, a week apart.
    for week in 1..=2i64 {
        clock
            .set(day(4 + 7 * week) + SignedDuration::from_mins(week))
            .await;
        want.warnings = all(1 + week as usize);
        expect_exactly(&sink, &want, &format!("week {week}")).await;
        let shown = records(&b);
        for m in &members {
            assert_eq!(
                shown[m].2,
                1 + week as u64,
                "week {week}: {m}'s warning count"
            );
        }
    }
    let (warnings, on_a, on_b) = both(&a, &b, "mailcast_bounce_warnings_total").await;
    println!("warnings sent: {warnings} ({on_a} on node A, {on_b} on node B)");
    assert_eq!(warnings as usize, 3 * MEMBERS);

    // A week after the third warning: removed, with one goodbye and one owner notice each.
    clock.set(day(4 + 21) + SignedDuration::from_mins(3)).await;
    want.removed = all(1);
    want.goodbyes = all(1);
    expect_exactly(&sink, &want, "removed").await;
    let left = a.ok(&["members", "list", LIST, "--role", "member"]);
    assert!(left.trim().is_empty(), "members left: {left}");
    let (removed, on_a, on_b) = both(&a, &b, "mailcast_bounce_members_removed_total").await;
    println!("members removed: {removed} ({on_a} on node A, {on_b} on node B)");
    assert_eq!(removed as usize, MEMBERS);

    // Nothing more, ever: no fourth warning, no second removal.
    clock.set(day(60)).await;
    expect_exactly(&sink, &want, "day 60").await;
    for (name, site) in [("A", &a), ("B", &b)] {
        for stage in ["bounces", "shunt", "corrupt"] {
            assert_eq!(site.queue_count(stage), 0, "node {name}: stage {stage}");
        }
    }
    let complaints = complaints(&[("A", &node_a), ("B", &node_b)]);
    for line in &complaints {
        println!("logged: {line}");
    }
    println!(
        "sink: {} mails in all; {} warnings or errors logged; {:.1?}",
        sink.received().len(),
        complaints.len(),
        started.elapsed()
    );
    store.close().await;
    node_a.stop().await;
    node_b.stop().await;
}
