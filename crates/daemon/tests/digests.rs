//! Digests end to end: members on digest modes are left out of each post and get the MIME or
//! plain digest instead, when the size threshold fills it, on `mailcast digests --send`, on
//! REST `POST …/digest`, and from the built-in daily schedule; a member who leaves digest
//! delivery while posts wait gets one last digest; numbering follows Mailman's.

mod support;

use mailcast_outbound::sink::{Received, SinkConfig};
use support::{
    Site, TestClock, body, header, http, message, post, sink_port, start_sink, wait_until,
};

const LIST: &str = "ant@example.org";
const ANNE: &str = "anne@example.com"; // regular
const BART: &str = "bart@example.net"; // MIME digests
const CY: &str = "cy@example.net"; // plain digests

fn digests_to<'a>(received: &'a [Received], rcpt: &str) -> Vec<&'a Received> {
    support::received_by(received, rcpt)
        .into_iter()
        .filter(|r| header(&r.data, "Subject").is_some_and(|s| s.contains(" Digest, Vol ")))
        .collect()
}

fn posts_to<'a>(received: &'a [Received], rcpt: &str) -> Vec<&'a Received> {
    support::received_by(received, rcpt)
        .into_iter()
        .filter(|r| header(&r.data, "Subject").is_some_and(|s| !s.contains(" Digest, Vol ")))
        .collect()
}

fn site(sink_port: u16) -> Site {
    let mut site = Site::new(sink_port);
    site.set("site.maintenance_interval", 1);
    site.create_list(LIST, &[ANNE, BART, CY], &["owner@example.com"], &[]);
    for (who, mode) in [(BART, "mime_digests"), (CY, "plaintext_digests")] {
        site.ok(&[
            "members",
            "set",
            LIST,
            who,
            &format!("delivery_mode={mode}"),
        ]);
    }
    site
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn digest_members_get_digests_instead_of_posts() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = site(sink_port(&sink));
    // Never on its own schedule in this test: the threshold and the commands send.
    site.set("digests.periodic", false);
    site.ok(&["lists", "set", LIST, "digest_size_threshold=3"]);
    let daemon = site.start().await;

    // Two posts pass 3 KiB: the digest closes with the second and goes out at once.
    let filler = "All work and no play makes a digest. ".repeat(30);
    for subject in ["first", "second"] {
        let reply = post(
            site.lmtp,
            ANNE,
            LIST,
            &message(ANNE, LIST, subject, &filler),
        )
        .await;
        assert_eq!(reply.code, 250, "{reply:?}");
    }
    wait_until("bart and cy get the first digest", || {
        let got = sink.received();
        if std::env::var_os("DEBUG_DIGESTS").is_some() {
            for r in &got {
                eprintln!("{:?} {:?}", r.rcpts, header(&r.data, "Subject"));
            }
        }
        digests_to(&got, BART).len() == 1
            && digests_to(&got, CY).len() == 1
            && posts_to(&got, ANNE).len() == 2
    })
    .await;
    let got = sink.received();
    assert!(posts_to(&got, BART).is_empty() && posts_to(&got, CY).is_empty());

    let mime = digests_to(&got, BART)[0];
    assert_eq!(
        mime.rcpts,
        [BART],
        "the MIME digest goes to the MIME member only"
    );
    assert_eq!(mime.mail_from, "ant-bounces@example.org");
    assert_eq!(
        header(&mime.data, "Subject").as_deref(),
        Some("Ant Digest, Vol 1, Issue 1")
    );
    assert_eq!(
        header(&mime.data, "From").as_deref(),
        Some("ant-request@example.org")
    );
    assert!(
        header(&mime.data, "List-Id").is_some(),
        "list headers on the digest"
    );
    assert!(header(&mime.data, "Archived-At").is_none());
    let text = body(&mime.data);
    assert!(text.contains("multipart/digest"), "{text}");
    assert!(text.contains("Today's Topics (2 messages)"), "{text}");
    assert!(
        text.contains("   1. [Ant] first (anne@example.com)")
            || text.contains("   1. first (anne@example.com)"),
        "{text}"
    );
    assert!(text.contains("End of Ant Digest, Vol 1, Issue 1"), "{text}");

    let plain = digests_to(&got, CY)[0];
    assert_eq!(plain.rcpts, [CY]);
    assert!(header(&plain.data, "Content-Type").is_some_and(|t| t.starts_with("text/plain")));
    let text = body(&plain.data);
    assert!(
        text.contains("Message: 1") && text.contains("Message: 2"),
        "{text}"
    );
    assert!(text.contains("All work and no play"), "{text}");

    // Below the threshold a post waits; `digests` shows it, `--send` sends it.
    let reply = post(
        site.lmtp,
        ANNE,
        LIST,
        &message(ANNE, LIST, "third", "short"),
    )
    .await;
    assert_eq!(reply.code, 250);
    sink.wait_for_recipients(5, support::DEADLINE)
        .await
        .expect("anne gets the third post");
    wait_until("the third post waits for the digest", || {
        site.ok(&["digests", "-l", LIST])
            .contains("1 post(s) waiting")
    })
    .await;
    let refused = site.fails(&["digests", "--send", "--periodic"]);
    assert!(
        refused.contains("--send and --periodic flags cannot be used together"),
        "{refused}"
    );

    // Bart leaves digest delivery while it waits: one last digest reaches him.
    site.ok(&["members", "set", LIST, BART, "delivery_mode=regular"]);
    let said = site.ok(&["digests", "--send", "-v", "-l", "ant.example.org"]);
    assert!(
        said.contains("ant.example.org sent volume 1, number 2"),
        "{said}"
    );
    wait_until("the second digest reaches bart and cy", || {
        let got = sink.received();
        digests_to(&got, BART).len() == 2 && digests_to(&got, CY).len() == 2
    })
    .await;
    let got = sink.received();
    let last = digests_to(&got, BART)[1];
    assert_eq!(
        header(&last.data, "Subject").as_deref(),
        Some("Ant Digest, Vol 1, Issue 2")
    );
    assert!(body(&last.data).contains("third"));

    // REST: the numbers, a bump, and a send with nothing waiting.
    let (status, _, json) = http(
        site.rest,
        "GET",
        "/3.1/lists/ant.example.org/digest",
        true,
        "application/json",
        "",
    );
    assert_eq!(status, 200, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["volume"].as_u64(), v["next_digest_number"].as_u64()),
        (Some(1), Some(3))
    );
    let form = "application/x-www-form-urlencoded";
    let (status, _, _) = http(
        site.rest,
        "POST",
        "/3.1/lists/ant.example.org/digest",
        true,
        form,
        "",
    );
    assert_eq!(status, 200, "nothing asked");
    let (status, _, text) = http(
        site.rest,
        "POST",
        "/3.1/lists/ant.example.org/digest",
        true,
        form,
        "send=true&periodic=true",
    );
    assert_eq!(status, 400);
    assert!(
        text.contains("send and periodic options are mutually exclusive"),
        "{text}"
    );
    let (status, _, _) = http(
        site.rest,
        "POST",
        "/3.1/lists/ant.example.org/digest",
        true,
        form,
        "bump=true&send=true",
    );
    assert_eq!(status, 202);
    let (_, _, json) = http(
        site.rest,
        "GET",
        "/3.1/lists/ant.example.org/digest",
        true,
        "application/json",
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["next_digest_number"].as_u64(),
        Some(4),
        "bumped once, nothing sent"
    );

    // Now bart is a regular member: the next post reaches him on its own.
    let reply = post(site.lmtp, ANNE, LIST, &message(ANNE, LIST, "fourth", "x")).await;
    assert_eq!(reply.code, 250);
    wait_until("bart gets the fourth post", || {
        posts_to(&sink.received(), BART).len() == 1
    })
    .await;
    assert_eq!(digests_to(&sink.received(), BART).len(), 2);
    daemon.stop().await;
}

fn subjects(received: &[Received], rcpt: &str) -> Vec<String> {
    digests_to(received, rcpt)
        .iter()
        .filter_map(|r| header(&r.data, "Subject"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daily_schedule_sends_what_waited_and_volumes_roll_over_by_period() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(dir.path().join("clock"));
    let mut site = site(sink_port(&sink));
    site.set("digests.send_time", "03:00");
    site.ok(&[
        "lists",
        "set",
        LIST,
        "digest_volume_frequency=daily",
        "digest_size_threshold=3",
    ]);
    // Day 0, noon (UTC).
    let day0: jiff::Timestamp = "2026-03-02T12:00:00Z".parse().unwrap();
    let at = |hours: i64| day0 + jiff::SignedDuration::from_hours(hours);
    clock.set(at(0)).await;
    let daemon = site.start_with_env(&clock.env()).await;
    let mut anne_has = 0;
    let mut send = async |subject: &str, body: &str| {
        let reply = post(site.lmtp, ANNE, LIST, &message(ANNE, LIST, subject, body)).await;
        assert_eq!(reply.code, 250);
        anne_has += 1;
        wait_until("anne gets the post", || {
            posts_to(&sink.received(), ANNE).len() == anne_has
        })
        .await;
    };
    send("waits", "for the schedule").await;
    wait_until("the post waits", || {
        site.ok(&["digests", "-l", LIST])
            .contains("1 post(s) waiting")
    })
    .await;
    // Day 1, 04:00: the 03:00 send time passed since the post came.
    clock.set(at(16)).await;
    wait_until("the periodic digest reaches bart and cy", || {
        let got = sink.received();
        digests_to(&got, BART).len() == 1 && digests_to(&got, CY).len() == 1
    })
    .await;
    // Mid-period, the size trigger: two posts pass 3 KiB the same day.
    let filler = "All work and no play makes a digest. ".repeat(30);
    send("big one", &filler).await;
    send("big two", &filler).await;
    wait_until("the size-triggered digest", || {
        digests_to(&sink.received(), BART).len() == 2
    })
    .await;
    // Day 2, 04:00: a post from day 1 waited over the send time. It carries the numbers from
    // before the bump (Vol 1, Issue 3); the bump sees a new day and rolls the volume.
    send("overnight", "x").await;
    clock.set(at(40)).await;
    wait_until("the second periodic digest", || {
        digests_to(&sink.received(), BART).len() == 3
    })
    .await;
    let said = site.ok(&["digests", "-l", LIST]);
    assert!(
        said.contains("volume 2, next number 1, 0 post(s) waiting"),
        "{said}"
    );
    send("new volume", "x").await;
    site.ok(&["digests", "--send"]);
    wait_until("the first digest of volume 2", || {
        digests_to(&sink.received(), BART).len() == 4
    })
    .await;
    assert_eq!(
        subjects(&sink.received(), BART),
        [
            "Ant Digest, Vol 1, Issue 1",
            "Ant Digest, Vol 1, Issue 2",
            "Ant Digest, Vol 1, Issue 3",
            "Ant Digest, Vol 2, Issue 1",
        ]
    );
    assert_eq!(
        subjects(&sink.received(), CY),
        subjects(&sink.received(), BART)
    );

    // A list with digest_send_periodic off is left alone by the schedule.
    site.ok(&["lists", "set", LIST, "digest_send_periodic=false"]);
    send("stays", "x").await;
    clock.set(at(64)).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(digests_to(&sink.received(), BART).len(), 4);
    assert!(
        site.ok(&["digests", "-l", LIST])
            .contains("1 post(s) waiting")
    );
    daemon.stop().await;
}
