//! `kill -9` in the middle of a large fan-out, black box: a list of 20,000 members, a sink
//! slowed down per transaction so that the delivery takes a few seconds, the daemon killed
//! once about a third of the members have the post, then restarted.
//!
//! Afterwards every member must have the post, and the duplicates must be within the
//! documented window: the batches in flight at the crash, at most one per connection
//! (`[smtp] max_connections` × the batch size). A graceful stop (SIGTERM) in the middle of
//! the fan-out finishes the batches it started, so its restart sends nothing twice. The counts
//! are printed (run with `--nocapture` to see them).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use mailcast_outbound::sink::{Action, Received, Rule, Sink, SinkConfig, When};
use support::{Site, message, post, sink_port, start_sink, wait_until};

const LIST: &str = "big@example.org";
const MEMBERS: usize = 20_000;
const CONNECTIONS: i64 = 4;

/// A sink that records no message octets and waits `delay` before answering each end of data.
async fn slow_sink(delay: Duration) -> Sink {
    start_sink(SinkConfig {
        record_data: false,
        script: vec![Rule::new(When::DataEnd, "", Action::Delay(delay))],
        ..SinkConfig::smtp()
    })
    .await
}

/// A site with the big list; `settings` are extra `[smtp]` keys.
fn big_site(sink: &Sink, settings: &[(&str, i64)]) -> Site {
    let mut site = Site::new(sink_port(sink));
    site.set("smtp.max_connections", CONNECTIONS);
    for (key, value) in settings {
        site.set(key, *value);
    }
    site.ok(&["domains", "add", "example.org"]);
    site.ok(&["lists", "create", LIST]);
    let roster: String = (0..MEMBERS)
        .map(|i| format!("member{i:05}@d{}.example\n", i % 97))
        .collect();
    let file = site.path("members.txt");
    std::fs::write(&file, roster).expect("write the roster");
    site.ok(&[
        "members",
        "add",
        LIST,
        "--file",
        file.to_str().expect("a UTF-8 path"),
    ]);
    site.ok(&["lists", "set", LIST, "default_nonmember_action=accept"]);
    site
}

/// How often each recipient got the post.
fn copies_per_member(received: &[Received]) -> HashMap<String, usize> {
    let mut copies = HashMap::new();
    for transaction in received {
        for rcpt in &transaction.rcpts {
            *copies.entry(rcpt.to_ascii_lowercase()).or_insert(0) += 1;
        }
    }
    copies
}

/// How the daemon is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: a graceful shutdown.
    Term,
}

/// Posts to the big list, interrupts the daemon once `kill_at` recipients have the post,
/// restarts it, and checks that everyone got it with at most `max_duplicates` extra copies.
async fn crash_and_resume(
    site: &Site,
    sink: &Sink,
    how: Interruption,
    kill_at: u64,
    max_duplicates: usize,
) {
    let daemon = site.start().await;
    let reply = post(
        site.lmtp,
        "poster@example.net",
        LIST,
        &message("poster@example.net", LIST, "Big news", "For all of you.\n"),
    )
    .await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(kill_at, support::DEADLINE)
        .await
        .expect("the fan-out starts");
    match how {
        Interruption::Kill => daemon.kill(),
        Interruption::Term => daemon.stop().await,
    }
    let at_kill = sink.counters().delivered;
    assert!(
        at_kill < MEMBERS as u64,
        "the interruption came after the fan-out ended ({at_kill} delivered)"
    );

    let daemon = site.start().await;
    wait_until("every member has the post", || {
        copies_per_member(&sink.received()).len() == MEMBERS
    })
    .await;
    wait_until("the delivery job is finished", || {
        site.queue_count("outgoing") == 0 && site.queue_count("deferred") == 0
    })
    .await;
    daemon.stop().await;

    let received = sink.received();
    let copies = copies_per_member(&received);
    assert_eq!(copies.len(), MEMBERS, "every member has the post");
    let total: usize = copies.values().sum();
    let duplicates = total - MEMBERS;
    let twice = copies.values().filter(|&&n| n == 2).count();
    assert!(
        copies.values().all(|&n| n <= 2),
        "nobody gets the post three times"
    );
    println!(
        "{how:?} after {at_kill} of {MEMBERS} recipients: {duplicates} duplicate copies ({twice} members twice) \
         in {} transactions; the window allows {max_duplicates}",
        received.len()
    );
    assert!(
        duplicates <= max_duplicates,
        "{duplicates} duplicates exceed the window of {max_duplicates} (one batch per connection)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_fanout_resumes_after_kill_9_with_at_most_one_batch_per_connection_again() {
    const BATCH: i64 = 100;
    // 200 transactions over 4 connections, 40 ms each: about two seconds of fan-out.
    let sink = slow_sink(Duration::from_millis(40)).await;
    let site = big_site(&sink, &[("smtp.max_recipients", BATCH)]);
    crash_and_resume(
        &site,
        &sink,
        Interruption::Kill,
        6_000,
        (CONNECTIONS * BATCH) as usize,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personalized_fanout_resumes_after_kill_9_with_at_most_one_batch_per_connection_again() {
    const BATCH: i64 = 50;
    // 20,000 one-recipient transactions over 4 connections, 1 ms each: a few seconds.
    let sink = slow_sink(Duration::from_millis(1)).await;
    let site = big_site(&sink, &[("smtp.personalized_batch_size", BATCH)]);
    site.ok(&["lists", "set", LIST, "personalize=individual"]);
    crash_and_resume(
        &site,
        &sink,
        Interruption::Kill,
        6_000,
        (CONNECTIONS * BATCH) as usize,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_in_the_middle_of_a_fanout_sends_nothing_twice() {
    const BATCH: i64 = 50;
    let sink = slow_sink(Duration::from_millis(1)).await;
    let site = big_site(&sink, &[("smtp.personalized_batch_size", BATCH)]);
    site.ok(&["lists", "set", LIST, "personalize=individual"]);
    crash_and_resume(&site, &sink, Interruption::Term, 6_000, 0).await;
}
