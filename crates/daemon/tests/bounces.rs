//! Bounce processing end to end and black box: the real `mailcast serve` on a clock the test
//! moves (libfaketime), DSNs in over LMTP, an SMTP sink as everybody's mail server, and what
//! the CLI, the metrics and the people show at each step.
//!
//! Anne's address bounces on five separate days: she is disabled, warned three times a week
//! apart, then removed. Bob only ever gets delayed notices and DMARC-caused rejections: never
//! disabled. Carol bounces five times in one day, by VERP with a useless body: one increment.

mod support;

use jiff::{SignedDuration, Timestamp};
use mailcast_outbound::sink::{Action, Sink, SinkConfig, When, reply};
use support::{
    Daemon, Site, TestClock, header, message, metric, post, sink_port, start_sink, wait_until,
};

const LIST: &str = "ant@example.org";
const BOUNCES: &str = "ant-bounces@example.org";
const OWNER: &str = "owner@example.com";
const ANNE: &str = "anne@example.com";
const BOB: &str = "bob@example.net";
const CAROL: &str = "carol@example.com";

/// A DSN from `mx.example.com` for one recipient.
fn dsn(rcpt: &str, action: &str, status: &str, diagnostic: &str, n: u32) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n\
         To: {BOUNCES}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn-{n}-{rcpt}@mx.example.com>\r\n\
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
         Action: {action}\r\n\
         Status: {status}\r\n\
         Diagnostic-Code: smtp; {diagnostic}\r\n\
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

/// Five bounces that say nothing, at Carol's VERP address.
fn useless(n: u32) -> Vec<u8> {
    format!(
        "From: postmaster@example.com\r\nTo: {BOUNCES}\r\nSubject: Returned mail\r\n\
         Message-ID: <useless-{n}@example.com>\r\n\r\nSorry, it did not work out.\r\n"
    )
    .into_bytes()
}

async fn bounce(site: &Site, to: &str, message: &[u8]) {
    let reply = post(site.lmtp, "", to, message).await;
    assert_eq!(reply.code, 250, "{to}: {reply:?}");
}

/// Waits until the runners have taken every bounce.
async fn settled(site: &Site) {
    wait_until("the bounces are processed", || {
        site.queue_count("bounces") == 0
    })
    .await;
}

/// One member's line of `mailcast bounces LIST`: (score, delivery, warnings).
fn record_of(site: &Site, address: &str) -> Option<(String, String, String)> {
    let out = site.ok(&["bounces", LIST]);
    out.lines().find(|l| l.starts_with(address)).map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // ADDRESS SCORE LAST-BOUNCE DELIVERY WARNINGS LAST-WARNING
        (f[1].to_string(), f[3].to_string(), f[4].to_string())
    })
}

fn count_to(sink: &Sink, rcpt: &str, subject: &str) -> usize {
    sink.received()
        .iter()
        .filter(|r| r.rcpts.iter().any(|x| x.eq_ignore_ascii_case(rcpt)))
        .filter(|r| header(&r.data, "Subject").is_some_and(|s| s.contains(subject)))
        .count()
}

async fn wait_count(sink: &Sink, rcpt: &str, subject: &str, n: usize) {
    wait_until(&format!("{rcpt} has {n} x {subject:?}"), || {
        count_to(sink, rcpt, subject) >= n
    })
    .await;
    assert_eq!(count_to(sink, rcpt, subject), n, "{rcpt}: {subject}");
}

fn is_member(site: &Site, address: &str) -> bool {
    site.ok(&["members", "list", LIST, "--role", "member"])
        .lines()
        .any(|l| l.contains(address))
}

async fn running(clock: &TestClock) -> (Sink, Site, Daemon) {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    site.set("site.maintenance_interval", 1);
    site.create_list(LIST, &[ANNE, BOB, CAROL], &[OWNER], &[]);
    site.ok(&[
        "lists",
        "set",
        LIST,
        "bounce_notify_owner_on_bounce_increment=true",
    ]);
    let daemon = site.start_with_env(&clock.env()).await;
    (sink, site, daemon)
}

#[tokio::test]
async fn scores_warnings_and_removal_follow_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(dir.path().join("clock"));
    let day0: Timestamp = "2026-03-02T12:00:00Z".parse().unwrap();
    let day = |n: i64| day0 + SignedDuration::from_hours(24 * n);
    clock.set(day(0)).await;
    let (sink, site, daemon) = running(&clock).await;

    for d in 0..5u32 {
        clock.set(day(d.into())).await;
        bounce(
            &site,
            BOUNCES,
            &dsn(
                ANNE,
                "failed",
                "5.1.1",
                "550 5.1.1 <anne@example.com>: user unknown",
                d,
            ),
        )
        .await;
        bounce(
            &site,
            BOUNCES,
            &dsn(
                BOB,
                "delayed",
                "4.4.7",
                "451 4.4.7 mailbox busy, still trying",
                d,
            ),
        )
        .await;
        bounce(
            &site,
            BOUNCES,
            &dsn(
                BOB,
                "failed",
                "5.7.26",
                "550 5.7.26 Unauthenticated email from example.net is not accepted due to domain's DMARC policy",
                100 + d,
            ),
        )
        .await;
        if d == 0 {
            for n in 0..5 {
                bounce(
                    &site,
                    "ant-bounces+carol=example.com@example.org",
                    &useless(n),
                )
                .await;
            }
        }
        settled(&site).await;
        let anne = record_of(&site, ANNE).expect("anne has a bounce record");
        if d < 4 {
            assert_eq!(
                anne,
                ((d + 1).to_string(), "enabled".into(), "0".into()),
                "day {d}:\n{}",
                site.ok(&["bounces", "show", LIST, ANNE])
            );
        }
    }
    // The fifth day's bounce disabled Anne; the first warning goes out at once.
    let anne = record_of(&site, ANNE).unwrap();
    assert_eq!((anne.0.as_str(), anne.1.as_str()), ("0", "by_bounces"));
    wait_count(
        &sink,
        OWNER,
        "anne@example.com's subscription disabled on Ant",
        1,
    )
    .await;
    wait_count(
        &sink,
        ANNE,
        "Your subscription for Ant mailing list has been disabled",
        1,
    )
    .await;
    assert_eq!(
        metric(&site, "mailcast_bounce_members_disabled_total").await,
        1.0
    );

    // Bob: never counted. Carol: one increment for five bounces on one day.
    let bob = record_of(&site, BOB);
    assert!(bob.is_none() || bob.as_ref().unwrap().0 == "0", "{bob:?}");
    assert!(is_member(&site, BOB));
    let carol = record_of(&site, CAROL).expect("carol has a bounce record");
    assert_eq!(carol, ("1".into(), "enabled".into(), "0".into()));
    assert_eq!(
        count_to(&sink, OWNER, "carol@example.com's bounce score incremented"),
        1
    );
    assert_eq!(
        count_to(&sink, OWNER, "anne@example.com's bounce score incremented"),
        5
    );
    assert_eq!(count_to(&sink, OWNER, "bob@example.net"), 0);
    let shown = site.ok(&["bounces", "show", LIST, BOB]);
    assert!(
        shown.contains("policy") && shown.contains("outcome=not_counted"),
        "{shown}"
    );
    assert!(
        shown.contains("temporary") && shown.contains("DMARC"),
        "{shown}"
    );

    // Warnings a week apart, then removal a week after the third.
    for (week, warnings) in [(1, 2), (2, 3)] {
        clock
            .set(day(4 + 7 * week) + SignedDuration::from_mins(1))
            .await;
        wait_count(&sink, ANNE, "has been disabled", warnings).await;
        let anne = record_of(&site, ANNE).unwrap();
        assert_eq!(anne.2, warnings.to_string());
    }
    assert!(is_member(&site, ANNE));
    assert_eq!(metric(&site, "mailcast_bounce_warnings_total").await, 3.0);
    clock.set(day(4 + 21) + SignedDuration::from_mins(1)).await;
    wait_count(
        &sink,
        OWNER,
        "anne@example.com unsubscribed from Ant mailing list due to bounces",
        1,
    )
    .await;
    wait_count(
        &sink,
        ANNE,
        "You have been unsubscribed from the Ant mailing list",
        1,
    )
    .await;
    assert!(!is_member(&site, ANNE));
    assert!(is_member(&site, BOB) && is_member(&site, CAROL));
    assert_eq!(
        metric(&site, "mailcast_bounce_members_removed_total").await,
        1.0
    );
    // No fourth warning, and nothing more once she is gone.
    clock.set(day(40)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(count_to(&sink, ANNE, "has been disabled"), 3);
    daemon.stop().await;
}

#[tokio::test]
async fn delivery_failures_and_unrecognized_bounces_take_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(dir.path().join("clock"));
    let (sink, site, daemon) = running(&clock).await;
    // Mail that is no bounce: dropped, nobody told.
    let vacation = format!(
        "From: {CAROL}\r\nTo: {BOUNCES}\r\nSubject: Out of Office: hello\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <oof@example.com>\r\n\r\nI am away.\r\n"
    );
    bounce(
        &site,
        "ant-bounces+carol=example.com@example.org",
        vacation.as_bytes(),
    )
    .await;
    // Nothing anyone can read, without VERP: forwarded to the owner.
    bounce(&site, BOUNCES, &useless(9)).await;
    settled(&site).await;
    wait_count(&sink, OWNER, "Uncaught bounce notification", 1).await;
    assert!(record_of(&site, CAROL).is_none());
    // Re-enabling clears a disabled member.
    for d in 0..5 {
        clock
            .set(Timestamp::now() + SignedDuration::from_hours(24 * (d + 1)))
            .await;
        bounce(
            &site,
            BOUNCES,
            &dsn(ANNE, "failed", "5.1.1", "550 5.1.1 user unknown", d as u32),
        )
        .await;
        settled(&site).await;
    }
    assert_eq!(record_of(&site, ANNE).unwrap().1, "by_bounces");
    let out = site.ok(&["members", "reenable", LIST, ANNE]);
    assert!(out.contains("re-enabled"), "{out}");
    assert_eq!(
        record_of(&site, ANNE).unwrap(),
        ("0".into(), "enabled".into(), "0".into())
    );
    let err = site.fails(&["members", "reenable", LIST, "nobody@example.com"]);
    assert!(err.contains("not a member"), "{err}");
    daemon.stop().await;
}

#[tokio::test]
async fn refusals_at_delivery_time_disable_but_dmarc_refusals_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(dir.path().join("clock"));
    let dead = "dead@example.com";
    let strict = "strict@example.net";
    let sink = start_sink(
        SinkConfig::smtp()
            .rule(When::Rcpt, dead, Action::Reply(reply("550 5.1.1 No such user")))
            .rule(
                When::Rcpt,
                strict,
                Action::Reply(reply(
                    "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
                )),
            ),
    )
    .await;
    let mut site = Site::new(sink_port(&sink));
    site.set("site.maintenance_interval", 1);
    site.create_list(LIST, &[ANNE, dead, strict], &[OWNER], &[]);
    let daemon = site.start_with_env(&clock.env()).await;
    let day0: Timestamp = "2026-04-06T12:00:00Z".parse().unwrap();
    for d in 0..5 {
        clock.set(day0 + SignedDuration::from_hours(24 * d)).await;
        let post_message = message(ANNE, LIST, &format!("post {d}"), "Hello.\n");
        assert_eq!(post(site.lmtp, ANNE, LIST, &post_message).await.code, 250);
        wait_until("the post reaches Anne", || {
            count_to(&sink, ANNE, &format!("post {d}")) == 1
        })
        .await;
        wait_until("the refusals are scored", || {
            site.ok(&["bounces", "show", LIST, strict])
                .lines()
                .filter(|l| l.contains("source=smtp"))
                .count()
                == d as usize + 1
        })
        .await;
    }
    wait_count(
        &sink,
        OWNER,
        "dead@example.com's subscription disabled on Ant",
        1,
    )
    .await;
    assert_eq!(record_of(&site, dead).unwrap().1, "by_bounces");
    assert!(
        record_of(&site, strict).is_none(),
        "a DMARC refusal never counts"
    );
    let shown = site.ok(&["bounces", "show", LIST, strict]);
    assert!(
        shown.contains("outcome=not_counted") && shown.contains("5.7.26"),
        "{shown}"
    );
    // Disabled: the next post no longer goes to the dead address.
    clock.set(day0 + SignedDuration::from_hours(24 * 5)).await;
    let refused = sink.counters().rcpt_refused;
    let last = message(ANNE, LIST, "post 5", "Hello.\n");
    assert_eq!(post(site.lmtp, ANNE, LIST, &last).await.code, 250);
    wait_until("the last post reaches Anne", || {
        count_to(&sink, ANNE, "post 5") == 1
    })
    .await;
    wait_until("the strict member is tried", || {
        sink.counters().rcpt_refused == refused + 1
    })
    .await;
    daemon.stop().await;
}

#[tokio::test]
async fn with_probes_only_the_probes_bounce_disables() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(dir.path().join("clock"));
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    site.set("site.maintenance_interval", 1);
    site.set("smtp.verp_probes", true);
    site.create_list(LIST, &[ANNE], &[OWNER], &[]);
    let daemon = site.start_with_env(&clock.env()).await;
    let day0: Timestamp = "2026-05-04T12:00:00Z".parse().unwrap();
    for d in 0..5u32 {
        clock
            .set(day0 + SignedDuration::from_hours(24 * i64::from(d)))
            .await;
        bounce(
            &site,
            BOUNCES,
            &dsn(ANNE, "failed", "5.1.1", "550 5.1.1 user unknown", d),
        )
        .await;
        settled(&site).await;
    }
    // The threshold sends a probe instead of disabling; the score starts again.
    wait_count(&sink, ANNE, "Ant mailing list probe message", 1).await;
    assert_eq!(
        record_of(&site, ANNE).unwrap(),
        ("0".into(), "enabled".into(), "0".into())
    );
    let probe = sink
        .received()
        .into_iter()
        .find(|r| header(&r.data, "Subject").is_some_and(|s| s.contains("probe message")))
        .unwrap();
    assert!(
        probe.mail_from.starts_with("ant-bounces+"),
        "{}",
        probe.mail_from
    );
    assert_eq!(count_to(&sink, OWNER, "subscription disabled"), 0);
    // A forged probe token changes nothing; the probe's own bounce disables.
    bounce(
        &site,
        "ant-bounces+0123456789abcdef0123456789abcdef01234567@example.org",
        &useless(1),
    )
    .await;
    settled(&site).await;
    assert_eq!(record_of(&site, ANNE).unwrap().1, "enabled");
    bounce(&site, &probe.mail_from, &useless(2)).await;
    settled(&site).await;
    assert_eq!(record_of(&site, ANNE).unwrap().1, "by_bounces");
    wait_count(
        &sink,
        OWNER,
        "anne@example.com's subscription disabled on Ant",
        1,
    )
    .await;
    // Used once: bouncing it again does nothing more.
    bounce(&site, &probe.mail_from, &useless(3)).await;
    settled(&site).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(count_to(&sink, OWNER, "subscription disabled"), 1);
    daemon.stop().await;
}
