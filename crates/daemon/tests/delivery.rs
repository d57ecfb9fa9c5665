//! Delivery to the members end to end, black box: the real `mailcast serve`, the in-process
//! SMTP sink as the members' server, lists made with the CLI, posts over LMTP, and exactly
//! what each member received: once, with the list's headers and footer, in the expected
//! transactions, from the expected envelope sender; and what happens to 4xx and 5xx refusals
//! (retry jobs, bounce scores in the store, giving up at the deadline).
//!
//! "Nothing more will arrive" is asserted after the spool has no work left (`incoming`,
//! `outgoing` and `deferred` are empty): every delivery job has then finished.

mod support;

use mailcast_model::{EmailAddress, ListAddress, MemberRole};
use mailcast_outbound::sink::{Action, Received, Rule, SinkConfig, When, reply};
use mailcast_store::Store;
use support::{
    Site, body, header, message, metric, post, received_by, sink_port, start_sink, wait_until,
};

const LIST: &str = "ant@example.org";

/// Posts a message from `from` to the list and checks the LMTP server took it.
async fn post_to_list(site: &Site, from: &str, subject: &str, text: &str) {
    let reply = post(site.lmtp, from, LIST, &message(from, LIST, subject, text)).await;
    assert_eq!(reply.code, 250, "{reply:?}");
}

/// Waits until the daemon has no post or delivery job left in the spool.
async fn wait_for_idle_spool(site: &Site) {
    wait_until("the spool has no work left", || {
        let counts = site.queue_counts();
        ["incoming", "outgoing", "deferred"]
            .iter()
            .all(|stage| counts.iter().any(|(s, n)| s == stage && *n == 0))
    })
    .await;
}

/// Every recipient the sink delivered to, lower-cased, with repetitions, sorted.
fn delivered_recipients(received: &[Received]) -> Vec<String> {
    let mut all: Vec<String> = received
        .iter()
        .flat_map(|r| r.rcpts.iter().map(|x| x.to_ascii_lowercase()))
        .collect();
    all.sort();
    all
}

/// The list member's bounce score, read from the database.
async fn bounce_score(site: &Site, address: &str) -> f64 {
    let store = Store::open(&site.database_url())
        .await
        .expect("open the store");
    let list = ListAddress::parse(LIST).expect("a list address");
    let address = EmailAddress::parse(address).expect("an address");
    let memberships = store
        .member(&list, &address)
        .await
        .expect("read the member");
    let member = memberships
        .iter()
        .find(|m| m.role == MemberRole::Member)
        .expect("a list member");
    let score = member.bounce.score;
    store.close().await;
    score
}

fn sink_with(rules: Vec<Rule>) -> SinkConfig {
    SinkConfig {
        script: rules,
        ..SinkConfig::smtp()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_reaches_every_member_once_in_batches_with_the_list_headers() {
    let members = [
        "anne@example.com",
        "bart@example.net",
        "cat@example.com",
        "dan@example.org",
        "eve@example.net",
    ];
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    site.set("smtp.max_recipients", 2i64);
    site.create_list(LIST, &members, &["owner@example.com"], &[]);
    let daemon = site.start().await;

    post_to_list(&site, members[0], "Hello ants", "First line.\n").await;
    sink.wait_for_recipients(5, support::DEADLINE)
        .await
        .expect("every member receives the post");
    wait_for_idle_spool(&site).await;

    let received = sink.received();
    let mut expected: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    expected.sort();
    assert_eq!(
        delivered_recipients(&received),
        expected,
        "each member exactly once"
    );
    let mut sizes: Vec<usize> = received.iter().map(|r| r.rcpts.len()).collect();
    sizes.sort();
    assert_eq!(
        sizes,
        [1, 2, 2],
        "max_recipients = 2: five members in three transactions"
    );
    for transaction in &received {
        assert_eq!(transaction.mail_from, "ant-bounces@example.org");
        let data = &transaction.data;
        assert_eq!(header(data, "Subject").as_deref(), Some("[Ant] Hello ants"));
        assert_eq!(
            header(data, "List-Id").as_deref(),
            Some("Ant <ant.example.org>")
        );
        assert_eq!(
            header(data, "List-Post").as_deref(),
            Some("<mailto:ant@example.org>")
        );
        assert_eq!(header(data, "X-BeenThere").as_deref(), Some(LIST));
        assert_eq!(header(data, "Precedence").as_deref(), Some("list"));
        let text = body(data);
        assert!(text.starts_with("First line.\r\n"), "{text}");
        assert!(
            text.contains("Ant mailing list -- ant@example.org"),
            "the footer: {}\n{}",
            String::from_utf8_lossy(data),
            daemon.log()
        );
    }
    // Sorted by domain: the two example.com members share a transaction.
    let anne = received_by(&received, "anne@example.com");
    assert!(
        anne[0].rcpts.iter().any(|r| r == "cat@example.com"),
        "{received:#?}"
    );
    assert_eq!(
        metric(&site, "mailcast_recipients_total{result=\"delivered\"}").await,
        5.0
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_that_limits_recipients_gets_the_rest_in_another_transaction() {
    let members = [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
    ];
    let sink = start_sink(SinkConfig {
        max_recipients: 2,
        ..SinkConfig::smtp()
    })
    .await;
    let site = Site::new(sink_port(&sink));
    site.create_list(LIST, &members, &[], &[]);
    let daemon = site.start().await;

    post_to_list(&site, members[0], "Limits", "Hi.\n").await;
    sink.wait_for_recipients(5, support::DEADLINE)
        .await
        .expect("everyone receives the post");
    wait_for_idle_spool(&site).await;

    let received = sink.received();
    assert_eq!(
        received.len(),
        3,
        "452 4.5.3 splits the batch: {received:#?}"
    );
    assert_eq!(delivered_recipients(&received), members);
    assert_eq!(
        sink.counters().rcpt_refused,
        3 + 1,
        "refused: 3 in the first, 1 in the second"
    );
    assert!(
        !daemon.log().contains("scheduled for retry"),
        "nothing was deferred"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personalized_copies_carry_each_members_footer_and_a_verp_sender() {
    let members = [
        "Anne Ant <anne@example.com>",
        "bart@example.net",
        "cat@example.com",
    ];
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    site.set("smtp.verp_personalized_deliveries", true);
    site.create_list(LIST, &members, &[], &[]);
    site.ok(&[
        "lists",
        "set",
        LIST,
        "personalize=full",
        "footer_text=Sent to $user_address ($user_name_or_address)",
    ]);
    let daemon = site.start().await;

    post_to_list(&site, "bart@example.net", "Personal", "Hello you.\n").await;
    sink.wait_for_recipients(3, support::DEADLINE)
        .await
        .expect("every member receives a copy");
    wait_for_idle_spool(&site).await;

    let received = sink.received();
    assert_eq!(
        received.len(),
        3,
        "one transaction per member: {received:#?}"
    );
    for (address, name, local, domain) in [
        ("anne@example.com", "Anne Ant", "anne", "example.com"),
        (
            "bart@example.net",
            "bart@example.net",
            "bart",
            "example.net",
        ),
        ("cat@example.com", "cat@example.com", "cat", "example.com"),
    ] {
        let copies = received_by(&received, address);
        assert_eq!(copies.len(), 1, "{address}: {received:#?}");
        let copy = copies[0];
        assert_eq!(copy.rcpts, [address]);
        assert_eq!(
            copy.mail_from,
            format!("ant-bounces+{local}={domain}@example.org")
        );
        let text = body(&copy.data);
        assert!(text.starts_with("Hello you.\r\n"), "{text}");
        assert!(
            text.contains(&format!("Sent to {address} ({name})")),
            "{address}: {text}"
        );
        assert_eq!(
            header(&copy.data, "Subject").as_deref(),
            Some("[Ant] Personal")
        );
        let to = header(&copy.data, "To").expect("a To field");
        assert!(to.contains(address), "full personalization sets To: {to}");
    }
    assert_eq!(
        header(&received_by(&received, "anne@example.com")[0].data, "To").as_deref(),
        Some("Anne Ant <anne@example.com>")
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deferred_members_are_retried_and_refused_ones_get_a_bounce_score() {
    let members = [
        "ok1@example.com",
        "soft1@example.net",
        "soft2@example.com",
        "hard1@example.net",
        "ok2@example.org",
    ];
    let sink = start_sink(sink_with(vec![
        Rule::new(
            When::Rcpt,
            "soft",
            Action::ReplyTimes(1, reply("451 4.3.0 Try again later")),
        ),
        Rule::new(
            When::Rcpt,
            "hard",
            Action::Reply(reply("550 5.1.1 No such user")),
        ),
    ]))
    .await;
    let site = Site::new(sink_port(&sink));
    site.create_list(LIST, &members, &[], &[]);
    let daemon = site.start().await;

    post_to_list(&site, "ok1@example.com", "Try, try again", "Persistence.\n").await;
    sink.wait_for_recipients(4, support::DEADLINE)
        .await
        .expect("the retry reaches the deferred members");
    wait_for_idle_spool(&site).await;

    let received = sink.received();
    assert_eq!(
        delivered_recipients(&received),
        [
            "ok1@example.com",
            "ok2@example.org",
            "soft1@example.net",
            "soft2@example.com"
        ],
        "delivered once each, the refused member never: {received:#?}"
    );
    let retry = received_by(&received, "soft1@example.net")[0];
    assert_eq!(
        retry.rcpts.len(),
        2,
        "the retry job carries just the two deferred members"
    );
    assert!(retry.rcpts.iter().any(|r| r == "soft2@example.com"));
    assert_eq!(
        header(&retry.data, "Subject").as_deref(),
        Some("[Ant] Try, try again")
    );
    assert_eq!(
        sink.counters().rcpt_refused,
        3,
        "two 451s and one 550, nothing else"
    );

    assert_eq!(bounce_score(&site, "hard1@example.net").await, 1.0);
    for member in ["ok1@example.com", "soft1@example.net", "soft2@example.com"] {
        assert_eq!(bounce_score(&site, member).await, 0.0, "{member}");
    }
    assert_eq!(
        metric(&site, "mailcast_recipients_total{result=\"deferred\"}").await,
        2.0
    );
    assert_eq!(
        metric(&site, "mailcast_recipients_total{result=\"failed\"}").await,
        1.0
    );
    assert_eq!(
        metric(&site, "mailcast_recipients_total{result=\"delivered\"}").await,
        4.0
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_deferred_past_the_retry_period_is_given_up_as_a_bounce() {
    let members = ["ok@example.com", "stuck@example.net"];
    let sink = start_sink(sink_with(vec![Rule::new(
        When::Rcpt,
        "stuck",
        Action::Reply(reply("451 4.4.1 Mailbox temporarily unavailable")),
    )]))
    .await;
    let mut site = Site::new(sink_port(&sink));
    site.set("smtp.delivery_retry_period", "3s");
    site.create_list(LIST, &members, &[], &[]);
    let daemon = site.start().await;

    post_to_list(&site, "ok@example.com", "Deadline", "Tick tock.\n").await;
    wait_until("the stuck member is given up", || {
        daemon.log().contains("delivery failed permanently")
    })
    .await;
    wait_for_idle_spool(&site).await;

    let received = sink.received();
    assert_eq!(delivered_recipients(&received), ["ok@example.com"]);
    let attempts = sink.counters().rcpt_refused;
    assert!(
        attempts >= 2,
        "tried at least once more before the deadline ({attempts} attempts)"
    );
    assert_eq!(bounce_score(&site, "stuck@example.net").await, 1.0);
    daemon.stop().await;
}
