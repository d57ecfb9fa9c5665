//! Bounce-processing benchmark: 10,000 bounces over LMTP on 16 connections to the `-bounces`
//! addresses of one list of 2,000 members, on SQLite and on PostgreSQL.
//!
//! The real `mailcast serve` (release build) runs with the in-process SMTP sink as the
//! members' mail server. The bounces are a mix of nine formats generated here from templates:
//! an RFC 3464 DSN to the plain `-bounces` address, the same naming three recipients (two
//! failed, one delayed), a qmail text bounce, an Exim text bounce, a Gmail text bounce, a VERP
//! bounce (`LIST-bounces+local=domain@host`) whose body says nothing, a delayed (4.4.7) DSN, a
//! DMARC (5.7.26) rejection and an auto-reply at a VERP address. Each template's reading is
//! checked once with `mailcast_bounce::analyse` before the daemon starts.
//!
//! Three quarters of the members get only counted failures (several each); the others only
//! delays, DMARC rejections and auto-replies. The rate is bounces per second from the first
//! LMTP 250 to the moment the last one was scored, which is when the daemon's
//! `mailcast_bounces_total` counters (read from `/metrics`, every 10 ms) add up to what the
//! bounces contain: one per address a bounce names, one per auto-reply. The counter moves just
//! before the address's scoring transaction, so the end is early by at most one transaction;
//! the checks below wait for the `bounces` stage to be empty before they read anything. The
//! LMTP intake alone (first transaction to last 250) is printed beside it.
//!
//! The end state is checked exactly, from the database: all bounces arrive on the same UTC
//! day, so a member with a counted failure has score 1 and one event per address the bounces
//! named it at; a member with only delays, DMARC rejections and auto-replies has score 0 and
//! its events; the counters per class match; nothing was mailed. A mismatch fails the
//! benchmark. The daemon's CPU time (from `/proc/<pid>/stat`, per thread name too), the
//! PostgreSQL server processes' CPU time and the load average are printed for each run.
//!
//! `cargo bench -p mailcast --bench bounces` (`BOUNCES_COUNT=n`, default 10,000;
//! `BOUNCES_MEMBERS=n`, default 2,000; `BOUNCES_RUNS=n`, default 1, prints medians;
//! `BOUNCES_CONCURRENCY=n` sets `[runner] concurrency` (default: the daemon's);
//! `BOUNCES_DIR=path` puts the site elsewhere; `BOUNCES_BACKENDS=sqlite,postgres`, default
//! both; PostgreSQL from `MAILCAST_TEST_POSTGRES_URL`, as the store tests, started by
//! `scripts/postgres-up.sh`). Runs on the real disk under the target directory, because the
//! spool's fsyncs are part of the cost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod support;

use mailcast_bounce::{Class, Format, NotABounce, PolicyCause, Verdict};
use mailcast_model::{EmailAddress, ListAddress};
use mailcast_outbound::sink::{Sink, SinkConfig};
use mailcast_store::testing::TestDb;
use mailcast_store::{Backend, Store};
use support::{Site, clock_ticks, loadavg, send_all};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIST: &str = "crowd@bench.example";
const BOUNCES: &str = "crowd-bounces@bench.example";
const MEMBER_DOMAIN: &str = "members.example";
const CONNECTIONS: usize = 16;
const PATIENCE: Duration = Duration::from_secs(900);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let count = env_usize("BOUNCES_COUNT", 10_000);
    let members = env_usize("BOUNCES_MEMBERS", 2_000).max(8);
    let runs = env_usize("BOUNCES_RUNS", 1).max(1);
    let backends = std::env::var("BOUNCES_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    check_templates();
    let load = Load::generate(count, members);
    println!(
        "{count} bounces for {members} members: {} addresses named ({} permanent, {} temporary, {} policy), {} auto-replies; {} members with counted failures",
        load.findings(),
        load.classes["permanent"],
        load.classes["temporary"],
        load.classes["policy"],
        load.classes["not_a_bounce"],
        load.counted.len()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut table = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if !backends.split(',').any(|b| b.trim() == backend.as_str()) {
            continue;
        }
        let mut rows = Vec::new();
        for n in 0..runs {
            println!();
            println!("{} run {}/{runs}", backend.as_str(), n + 1);
            rows.push(runtime.block_on(run(backend, &load)));
        }
        table.push((backend, Row::median(&rows), rows.len()));
    }
    println!();
    println!(
        "| back end | runs | LMTP intake, DSN/s | first 250 to last scored, DSN/s | daemon CPU, µs/DSN | PostgreSQL CPU, µs/DSN | max 1-min load |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (backend, r, n) in table {
        println!(
            "| {} | {n} | {:.0} | {:.0} | {:.0} | {} | {:.2} |",
            backend.as_str(),
            r.intake,
            r.rate,
            r.daemon_cpu_us,
            if backend == Backend::Postgres {
                format!("{:.0}", r.postgres_cpu_us)
            } else {
                "-".into()
            },
            r.load1
        );
    }
}

#[derive(Debug, Clone, Copy)]
struct Row {
    intake: f64,
    rate: f64,
    daemon_cpu_us: f64,
    postgres_cpu_us: f64,
    /// The 1-minute load average when the run ended (the machine is shared).
    load1: f64,
}

impl Row {
    fn median(rows: &[Row]) -> Row {
        let med = |f: fn(&Row) -> f64| {
            let mut v: Vec<f64> = rows.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        Row {
            intake: med(|r| r.intake),
            rate: med(|r| r.rate),
            daemon_cpu_us: med(|r| r.daemon_cpu_us),
            postgres_cpu_us: med(|r| r.postgres_cpu_us),
            load1: rows.iter().map(|r| r.load1).fold(0.0, f64::max),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bounces.

/// The nine templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dsn,
    DsnMulti,
    Qmail,
    Exim,
    Gmail,
    Verp,
    Delayed,
    Dmarc,
    AutoReply,
}

const KINDS: [Kind; 9] = [
    Kind::Dsn,
    Kind::DsnMulti,
    Kind::Qmail,
    Kind::Exim,
    Kind::Gmail,
    Kind::Verp,
    Kind::Delayed,
    Kind::Dmarc,
    Kind::AutoReply,
];

fn member(n: usize) -> String {
    format!("m{n}@{MEMBER_DOMAIN}")
}

fn list() -> ListAddress {
    ListAddress::parse(LIST).expect("the list address")
}

fn verp_address(rcpt: &str) -> String {
    mailcast_bounce::verp::encode(&list(), rcpt).expect("a VERP address for a plain address")
}

/// One delivery-status block.
fn block(rcpt: &str, action: &str, status: &str, diagnostic: &str) -> String {
    format!(
        "Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; {diagnostic}\r\n"
    )
}

/// An RFC 3464 report with these blocks.
fn report(n: usize, blocks: &[String]) -> String {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.members.example>\r\n\
         To: {BOUNCES}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn-{n}@mx.members.example>\r\n\
         Date: Mon, 2 Mar 2026 12:00:00 +0000\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"=B{n}\"\r\n\
         \r\n\
         --=B{n}\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         This is the mail system at host mx.members.example.\r\n\
         \r\n\
         I'm sorry to have to inform you that your message could not\r\n\
         be delivered to one or more recipients.\r\n\
         \r\n\
         --=B{n}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.members.example\r\n\
         Arrival-Date: Mon, 2 Mar 2026 11:59:58 +0000\r\n\
         \r\n\
         {}\
         \r\n\
         --=B{n}\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: Paul Poster <paul@poster.example>\r\n\
         To: {LIST}\r\n\
         Subject: [crowd] Minutes\r\n\
         Message-ID: <post-{n}@poster.example>\r\n\
         \r\n\
         --=B{n}--\r\n",
        blocks.join("\r\n")
    )
}

fn user_unknown(rcpt: &str) -> String {
    format!("550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table")
}

fn dsn(n: usize, rcpt: &str) -> String {
    report(n, &[block(rcpt, "failed", "5.1.1", &user_unknown(rcpt))])
}

fn dsn_multi(n: usize, failed: [&str; 2], delayed: &str) -> String {
    report(
        n,
        &[
            block(failed[0], "failed", "5.1.1", &user_unknown(failed[0])),
            block(
                failed[1],
                "failed",
                "5.2.1",
                &format!(
                    "550 5.2.1 <{}>: mailbox disabled, not accepting messages",
                    failed[1]
                ),
            ),
            block(
                delayed,
                "delayed",
                "4.2.2",
                "452 4.2.2 mailbox full, will retry",
            ),
        ],
    )
}

fn delayed(n: usize, rcpt: &str) -> String {
    report(
        n,
        &[block(
            rcpt,
            "delayed",
            "4.4.7",
            "451 4.4.7 mailbox busy, still trying",
        )],
    )
}

fn dmarc(n: usize, rcpt: &str) -> String {
    report(
        n,
        &[block(
            rcpt,
            "failed",
            "5.7.26",
            "550 5.7.26 Unauthenticated email from poster.example is not accepted due to domain's DMARC policy",
        )],
    )
}

fn qmail(n: usize, rcpt: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mail.members.example\r\n\
         To: {BOUNCES}\r\n\
         Subject: failure notice\r\n\
         Message-ID: <qmail-{n}@mail.members.example>\r\n\
         Date: 2 Mar 2026 12:00:00 -0000\r\n\
         \r\n\
         Hi. This is the qmail-send program at mail.members.example.\r\n\
         I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\
         This is a permanent error; I've given up. Sorry it didn't work out.\r\n\
         \r\n\
         <{rcpt}>:\r\n\
         198.51.100.91 does not like recipient.\r\n\
         Remote host said: 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\
         Giving up on 198.51.100.91.\r\n\
         \r\n\
         --- Below this line is a copy of the message.\r\n\
         \r\n\
         Return-Path: <{BOUNCES}>\r\n\
         From: Paul Poster <paul@poster.example>\r\n\
         To: {LIST}\r\n\
         Cc: other@members.example\r\n\
         Subject: [crowd] Minutes\r\n\
         \r\n\
         Minutes attached.\r\n"
    )
}

fn exim(n: usize, rcpt: &str) -> String {
    format!(
        "X-Failed-Recipients: {rcpt}\r\n\
         Auto-Submitted: auto-replied\r\n\
         From: Mail Delivery System <Mailer-Daemon@mx.members.example>\r\n\
         To: {BOUNCES}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         Subject: Mail delivery failed: returning message to sender\r\n\
         Message-Id: <E1txYz1-{n}@mx.members.example>\r\n\
         Date: Mon, 2 Mar 2026 12:00:00 +0000\r\n\
         \r\n\
         This message was created automatically by mail delivery software.\r\n\
         \r\n\
         A message that you sent could not be delivered to one or more of its\r\n\
         recipients. This is a permanent error. The following address(es) failed:\r\n\
         \r\n\
         \x20 {rcpt}\r\n\
         \x20   host mailstore.members.example [198.51.100.41]\r\n\
         \x20   SMTP error from remote mail server after RCPT TO:<{rcpt}>:\r\n\
         \x20   550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\
         \r\n\
         ------ This is a copy of the message, including all the headers. ------\r\n\
         \r\n\
         From: Paul Poster <paul@poster.example>\r\n\
         To: {LIST}\r\n\
         Cc: other@members.example\r\n\
         Subject: [crowd] Agenda\r\n\
         \r\n\
         Write to paul@poster.example.\r\n"
    )
}

fn gmail(n: usize, rcpt: &str) -> String {
    format!(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\r\n\
         To: {BOUNCES}\r\n\
         Auto-Submitted: auto-replied\r\n\
         Subject: Delivery Status Notification (Failure)\r\n\
         Message-ID: <gmail-{n}@mx.google.example>\r\n\
         Date: Mon, 2 Mar 2026 04:00:00 -0800 (PST)\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"=G{n}\"\r\n\
         \r\n\
         --=G{n}\r\n\
         Content-Type: text/plain; charset=\"UTF-8\"\r\n\
         \r\n\
         \r\n\
         ** Address not found **\r\n\
         \r\n\
         Your message wasn't delivered to {rcpt} because the address couldn't be found, or is unable to receive mail.\r\n\
         \r\n\
         The response from the remote server was:\r\n\
         550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\
         \r\n\
         --=G{n}\r\n\
         Content-Type: text/html; charset=\"UTF-8\"\r\n\
         \r\n\
         <html><body><h2>Address not found</h2><p>Your message wasn't delivered to <b>{rcpt}</b>.</p></body></html>\r\n\
         \r\n\
         --=G{n}--\r\n"
    )
}

/// A bounce that says nothing; it comes to the member's VERP address.
fn useless(n: usize) -> String {
    format!(
        "From: postmaster@members.example\r\nTo: {BOUNCES}\r\nSubject: Returned mail\r\n\
         Message-ID: <useless-{n}@members.example>\r\n\r\nSorry, it did not work out.\r\n"
    )
}

/// A vacation notice from the member, to its VERP address.
fn auto_reply(n: usize, rcpt: &str) -> String {
    format!(
        "From: {rcpt}\r\nTo: {}\r\nSubject: Out of Office: [crowd] Minutes\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <oof-{n}@members.example>\r\n\
         Date: Mon, 2 Mar 2026 12:00:00 +0000\r\n\r\n\
         I am away until next week with no access to e-mail.\r\n",
        verp_address(rcpt)
    )
}

/// Checks once that each template reads as intended.
fn check_templates() {
    let (p1, p2, s) = (
        "p1@members.example",
        "p2@members.example",
        "s1@members.example",
    );
    type Expect = (Verdict, Vec<(&'static str, Class, Option<PolicyCause>)>);
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "dsn",
            dsn(0, p1),
            (
                Verdict::Bounce(Format::Dsn),
                vec![(p1, Class::Permanent, None)],
            ),
        ),
        (
            "dsn, three recipients",
            dsn_multi(0, [p1, p2], s),
            (
                Verdict::Bounce(Format::Dsn),
                vec![
                    (p1, Class::Permanent, None),
                    (p2, Class::Permanent, None),
                    (s, Class::Temporary, None),
                ],
            ),
        ),
        (
            "qmail",
            qmail(0, p1),
            (
                Verdict::Bounce(Format::Qmail),
                vec![(p1, Class::Permanent, None)],
            ),
        ),
        (
            "exim",
            exim(0, p1),
            (
                Verdict::Bounce(Format::Exim),
                vec![(p1, Class::Permanent, None)],
            ),
        ),
        (
            "gmail",
            gmail(0, p1),
            (
                Verdict::Bounce(Format::Gmail),
                vec![(p1, Class::Permanent, None)],
            ),
        ),
        (
            "verp, useless body",
            useless(0),
            (Verdict::Unrecognized, vec![]),
        ),
        (
            "delayed",
            delayed(0, s),
            (
                Verdict::Bounce(Format::Dsn),
                vec![(s, Class::Temporary, None)],
            ),
        ),
        (
            "dmarc",
            dmarc(0, s),
            (
                Verdict::Bounce(Format::Dsn),
                vec![(s, Class::Permanent, Some(PolicyCause::Dmarc))],
            ),
        ),
        (
            "auto-reply",
            auto_reply(0, s),
            (Verdict::NotABounce(NotABounce::AutoReply), vec![]),
        ),
    ];
    for (name, text, (verdict, recipients)) in cases {
        let report = mailcast_bounce::analyse(text.as_bytes());
        let got: Vec<(String, Class, Option<PolicyCause>)> = report
            .recipients
            .iter()
            .map(|r| (r.address.clone(), r.class, r.poster_policy))
            .collect();
        let want: Vec<(String, Class, Option<PolicyCause>)> = recipients
            .into_iter()
            .map(|(a, c, p)| (a.to_string(), c, p))
            .collect();
        assert_eq!(
            (report.verdict, &got),
            (verdict, &want),
            "template {name:?} is not read as intended:\n{text}"
        );
    }
    println!("templates: each of the 9 is read as intended by mailcast_bounce::analyse");
}

/// The messages to send and what they must do.
struct Load {
    /// (envelope recipient, message).
    messages: Vec<(String, Vec<u8>)>,
    /// Events expected per member address.
    events: HashMap<String, u64>,
    /// Members with at least one counted failure.
    counted: HashSet<String>,
    /// `mailcast_bounces_total` expected per class.
    classes: BTreeMap<&'static str, u64>,
    members: Vec<String>,
}

impl Load {
    fn generate(count: usize, members: usize) -> Load {
        let all: Vec<String> = (0..members).map(member).collect();
        let permanent = members * 3 / 4;
        let (hard, soft) = all.split_at(permanent);
        let mut load = Load {
            messages: Vec::with_capacity(count),
            events: HashMap::new(),
            counted: HashSet::new(),
            classes: ["permanent", "temporary", "policy", "not_a_bounce"]
                .into_iter()
                .map(|c| (c, 0))
                .collect(),
            members: all.clone(),
        };
        let (mut h, mut s) = (0usize, 0usize);
        let mut next_hard = || {
            h += 1;
            hard[(h * 7) % hard.len()].clone()
        };
        let mut next_soft = || {
            s += 1;
            soft[(s * 3) % soft.len()].clone()
        };
        for n in 0..count {
            let kind = KINDS[n % KINDS.len()];
            let mut named: Vec<(String, &'static str)> = Vec::new();
            let (to, text) = match kind {
                Kind::Dsn | Kind::Qmail | Kind::Exim | Kind::Gmail => {
                    let m = next_hard();
                    let text = match kind {
                        Kind::Dsn => dsn(n, &m),
                        Kind::Qmail => qmail(n, &m),
                        Kind::Exim => exim(n, &m),
                        _ => gmail(n, &m),
                    };
                    named.push((m, "permanent"));
                    (BOUNCES.to_string(), text)
                }
                Kind::DsnMulti => {
                    let (a, b, c) = (next_hard(), next_hard(), next_soft());
                    let text = dsn_multi(n, [&a, &b], &c);
                    named.extend([(a, "permanent"), (b, "permanent"), (c, "temporary")]);
                    (BOUNCES.to_string(), text)
                }
                Kind::Verp => {
                    let m = next_hard();
                    let to = verp_address(&m);
                    named.push((m, "permanent"));
                    (to, useless(n))
                }
                Kind::Delayed => {
                    let m = next_soft();
                    let text = delayed(n, &m);
                    named.push((m, "temporary"));
                    (BOUNCES.to_string(), text)
                }
                Kind::Dmarc => {
                    let m = next_soft();
                    let text = dmarc(n, &m);
                    named.push((m, "policy"));
                    (BOUNCES.to_string(), text)
                }
                Kind::AutoReply => {
                    let m = next_soft();
                    *load.classes.get_mut("not_a_bounce").unwrap() += 1;
                    (verp_address(&m), auto_reply(n, &m))
                }
            };
            for (m, class) in named {
                *load.events.entry(m.clone()).or_default() += 1;
                *load.classes.get_mut(class).unwrap() += 1;
                if class == "permanent" {
                    load.counted.insert(m);
                }
            }
            load.messages.push((to, text.into_bytes()));
        }
        load
    }

    /// Addresses named, all classes (one `mailcast_bounces_total` each).
    fn findings(&self) -> u64 {
        self.classes
            .iter()
            .filter(|(c, _)| **c != "not_a_bounce")
            .map(|(_, n)| n)
            .sum()
    }

    /// What `mailcast_bounces_total` adds up to once everything is scored.
    fn total(&self) -> u64 {
        self.classes.values().sum()
    }
}

// ---------------------------------------------------------------------------------------------
// One run.

async fn run(backend: Backend, load: &Load) -> Row {
    let count = load.messages.len();
    let db = TestDb::new(backend)
        .await
        .unwrap_or_else(|| panic!("no {} database for the benchmark", backend.as_str()));
    let sink = Sink::start(SinkConfig::smtp())
        .await
        .expect("the sink starts");
    let site = create_site(&sink, db.url(), &load.members);
    let daemon = site.serve().await;
    // Let the start-up work (first maintenance pass, directory load) pass.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let day = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();

    // The database's name, as PostgreSQL backends show it in their process title.
    let database = (backend == Backend::Postgres)
        .then(|| {
            db.url()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
        })
        .map(str::to_string);
    let cpu_before = Cpu::sample(daemon.pid(), database.as_deref());
    let load_before = loadavg();
    let machine_before = machine();
    let started = Instant::now();
    let messages = load
        .messages
        .iter()
        .map(|(to, data)| (String::new(), to.clone(), data.clone()))
        .collect();
    let (intake, first) = send_all(site.lmtp, messages, CONNECTIONS).await;
    let intake_rate = count as f64 / intake.as_secs_f64();
    let after_intake = Instant::now();
    let total = load.total();
    let mut seen = 0;
    let deadline = Instant::now() + PATIENCE;
    while seen < total {
        seen = bounces_total(&site).await.values().sum::<u64>();
        assert!(
            Instant::now() < deadline,
            "only {seen} of {total} bounces scored"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let scored = Instant::now();
    let cpu_after = Cpu::sample(daemon.pid(), database.as_deref());
    let load_after = loadavg();
    let machine_after = machine();
    let rate = count as f64 / (scored - first).as_secs_f64();
    let name = backend.as_str();
    println!(
        "{name}: {count} bounces: LMTP intake {intake_rate:.0}/s ({:.2} s), first 250 to last scored {rate:.0}/s ({:.2} s; {:.2} s after the last 250)",
        intake.as_secs_f64(),
        (scored - first).as_secs_f64(),
        (scored - after_intake).as_secs_f64(),
    );
    let wall = (scored - started).as_secs_f64();
    let daemon_cpu = cpu_after.process - cpu_before.process;
    let postgres_cpu = cpu_after.backends - cpu_before.backends;
    let postgres_other = cpu_after.postgres_other - cpu_before.postgres_other;
    let bench_cpu = cpu_after.own - cpu_before.own;
    println!(
        "{name}: CPU over {wall:.2} s wall: daemon {daemon_cpu:.2} s ({:.0} µs per bounce), PostgreSQL backends of this database {postgres_cpu:.2} s, other postgres processes {postgres_other:.2} s, this process (LMTP clients, sink, polling) {bench_cpu:.2} s; load average {load_before} -> {load_after}",
        daemon_cpu * 1e6 / count as f64
    );
    let [busy, iowait, steal, idle] = std::array::from_fn(|i| machine_after[i] - machine_before[i]);
    println!(
        "{name}: whole machine ({} CPUs) over the run: busy {busy:.2} s, iowait {iowait:.2} s, steal {steal:.2} s, idle {idle:.2} s",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut threads: Vec<(String, f64)> = cpu_after
        .threads
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                t - cpu_before.threads.get(name).unwrap_or(&0.0),
            )
        })
        .filter(|(_, t)| *t > 0.0)
        .collect();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    let shown: Vec<String> = threads
        .iter()
        .take(8)
        .map(|(n, t)| format!("{n} {t:.2} s"))
        .collect();
    println!(
        "{name}: daemon CPU by thread name (live threads only): {}",
        shown.join(", ")
    );

    check(&site, &sink, &db, load, &day).await;
    daemon.stop();
    Row {
        intake: intake_rate,
        rate,
        daemon_cpu_us: daemon_cpu * 1e6 / count as f64,
        postgres_cpu_us: postgres_cpu * 1e6 / count as f64,
        load1: load_after
            .split_whitespace()
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or(0.0),
    }
}

/// Checks the end state exactly; panics (the benchmark fails) on any mismatch.
async fn check(site: &Site, sink: &Sink, db: &TestDb, load: &Load, day: &str) {
    let started = Instant::now();
    loop {
        let stages = site.cli(&["queue", "list"]);
        let count = |stage: &str| {
            stages
                .lines()
                .find_map(|l| {
                    let mut f = l.split_whitespace();
                    (f.next()? == stage).then(|| f.next()?.parse::<u64>().ok())?
                })
                .unwrap_or(0)
        };
        assert_eq!(count("shunt"), 0, "nothing shunted:\n{stages}");
        if count("bounces") == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the bounces stage empties:\n{stages}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let classes = bounces_total(site).await;
    for (class, want) in &load.classes {
        assert_eq!(
            classes.get(*class).copied().unwrap_or(0),
            *want,
            "mailcast_bounces_total{{class=\"{class}\"}}: {classes:?}"
        );
    }
    assert_eq!(
        classes.values().sum::<u64>(),
        load.total(),
        "no other class: {classes:?}"
    );
    // Crossing midnight UTC during the run lets a score reach 2: said, and allowed.
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let max_score = if today == day {
        1.0
    } else {
        println!("note: the run crossed midnight UTC ({day} -> {today}); scores of 2 allowed");
        2.0
    };
    let store = Store::open(db.url()).await.expect("open the database");
    let list = list();
    let summaries = store
        .bounce_summaries(&list)
        .await
        .expect("bounce summaries");
    let by_address: HashMap<String, _> = summaries
        .iter()
        .map(|s| (s.state.email.as_str().to_string(), s))
        .collect();
    let mut mismatches = Vec::new();
    let (mut scored_1, mut scored_0) = (0, 0);
    for m in &load.members {
        let want_events = load.events.get(m).copied().unwrap_or(0);
        let (score, events, delivery) = match by_address.get(m) {
            Some(s) => (
                s.state.score,
                s.events,
                s.state.delivery_status.as_str().to_string(),
            ),
            None => {
                let address = EmailAddress::parse(m).unwrap();
                let events = store
                    .bounce_event_count(&list, &address)
                    .await
                    .expect("event count");
                (0.0, events, "enabled".to_string())
            }
        };
        let score_ok = if load.counted.contains(m) {
            score >= 1.0 && score <= max_score
        } else {
            score == 0.0
        };
        if score_ok {
            if score > 0.0 {
                scored_1 += 1;
            } else {
                scored_0 += 1;
            }
        }
        if !score_ok || events != want_events || delivery != "enabled" {
            mismatches.push(format!(
                "{m}: score {score} (want {}), {events} events (want {want_events}), {delivery}",
                if load.counted.contains(m) { "1" } else { "0" }
            ));
        }
    }
    store.close().await;
    let mailed = sink.received().len();
    println!(
        "check: {scored_1} members at score 1 and {scored_0} at 0 as expected, {} mismatches; {} events; {mailed} mails sent",
        mismatches.len(),
        load.events.values().sum::<u64>()
    );
    if !mismatches.is_empty() || mailed != 0 {
        for line in mismatches.iter().take(20) {
            eprintln!("mismatch: {line}");
        }
        eprintln!(
            "{} members do not have the exact score and event count, {mailed} mails were sent (want 0)",
            mismatches.len()
        );
        std::process::exit(1);
    }
}

/// `mailcast_bounces_total` by class, from `/metrics`.
async fn bounces_total(site: &Site) -> HashMap<String, u64> {
    let mut stream = TcpStream::connect(site.rest)
        .await
        .expect("connect to /metrics");
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", site.rest).as_bytes())
        .await
        .expect("send the request");
    let mut page = String::new();
    stream
        .read_to_string(&mut page)
        .await
        .expect("read /metrics");
    page.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("mailcast_bounces_total{class=\"")?;
            let (class, value) = rest.split_once("\"}")?;
            Some((class.to_string(), value.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Where the time goes.

/// CPU seconds used so far: the daemon (whole process, and per live thread name), the
/// PostgreSQL backends serving `database` (their process title names it), the other
/// PostgreSQL server processes (shared by everything on the machine), this process.
struct Cpu {
    process: f64,
    threads: HashMap<String, f64>,
    backends: f64,
    postgres_other: f64,
    own: f64,
}

impl Cpu {
    fn sample(pid: u32, database: Option<&str>) -> Cpu {
        let mut threads = HashMap::new();
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in dir.flatten() {
                if let Some((name, t)) = stat(&task.path().join("stat")) {
                    *threads.entry(name).or_insert(0.0) += t;
                }
            }
        }
        let (mut backends, mut postgres_other) = (0.0, 0.0);
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for p in dir.flatten() {
                let Some((name, t)) = stat(&p.path().join("stat")) else {
                    continue;
                };
                if name != "postgres" {
                    continue;
                }
                let title = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                let title = String::from_utf8_lossy(&title);
                match database {
                    Some(db) if title.split_whitespace().any(|w| w == db) => backends += t,
                    _ => postgres_other += t,
                }
            }
        }
        Cpu {
            process: stat(&PathBuf::from(format!("/proc/{pid}/stat"))).map_or(0.0, |s| s.1),
            threads,
            backends,
            postgres_other,
            own: stat(&PathBuf::from("/proc/self/stat")).map_or(0.0, |s| s.1),
        }
    }
}

/// (comm, utime + stime in seconds) of a `/proc/.../stat` file.
fn stat(path: &std::path::Path) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_string();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After the comm: state is field 3; utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / clock_ticks()))
}

/// The machine's CPU time so far, from the `cpu` line of `/proc/stat`, in seconds:
/// (busy: user, nice, system, irq and softirq; iowait; steal; idle).
fn machine() -> [f64; 4] {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse::<f64>().unwrap_or(0.0) / clock_ticks())
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
    [at(0) + at(1) + at(2) + at(5) + at(6), at(4), at(7), at(3)]
}

// ---------------------------------------------------------------------------------------------
// The site and the daemon.

/// The benchmark's site: one list with `members` and an owner.
fn create_site(sink: &Sink, database_url: &str, members: &[String]) -> Site {
    let root = std::env::var_os("BOUNCES_DIR").map(PathBuf::from);
    let runner = std::env::var("BOUNCES_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(String::new(), |n| format!("[runner]\nconcurrency = {n}\n"));
    let extra = format!(
        "[site]\nhostname = \"bench.example\"\nsite_owner = \"postmaster@bench.example\"\n{runner}"
    );
    let site = Site::create("bounces", root, sink, database_url, &extra);
    site.cli(&["domains", "add", "bench.example"]);
    site.cli(&["lists", "create", LIST]);
    let file = site.dir.join("members.txt");
    std::fs::write(&file, members.join("\n") + "\n").expect("the member file");
    site.cli(&[
        "members",
        "add",
        LIST,
        "--file",
        file.to_str().expect("a UTF-8 path"),
    ]);
    // An owner, so that a bounce nobody can read would be mailed (and fail the check).
    site.cli(&[
        "members",
        "add",
        LIST,
        "--role",
        "owner",
        "owner@bench.example",
    ]);
    site
}
