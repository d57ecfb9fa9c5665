//! The relay pool against the sink: batching and order, connection reuse and limits, stale
//! pooled connections, an unreachable relay, idle expiry.

use std::sync::Arc;
use std::time::Duration;

use mailcast_outbound::sink::{Action, Sink, SinkConfig, When, reply};
use mailcast_outbound::{EnhancedCode, Envelope, RcptOutcome, Relay, RelayConfig};

const BODY: &[u8] = b"Subject: relay\r\n\r\nHello, members.\r\n";

fn members(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("member{i}@example.org")).collect()
}

#[tokio::test]
async fn deliver_batches_by_max_recipients_and_keeps_input_order() {
    let config = SinkConfig::smtp()
        .rule(
            When::Rcpt,
            "member13@",
            Action::Reply(reply("550 5.1.1 No such user")),
        )
        .rule(
            When::Rcpt,
            "member1500@",
            Action::Reply(reply("451 4.3.0 Later")),
        );
    let sink = Sink::start(config).await.unwrap();
    let relay = Relay::new(RelayConfig {
        max_recipients: 1000,
        max_connections: 2,
        ..sink.relay_config()
    });
    let rcpts = members(2500);
    let delivered = relay
        .deliver("list-bounces@lists.example", &rcpts, BODY)
        .await;

    assert_eq!(delivered.len(), rcpts.len());
    for (i, (rcpt, outcome)) in delivered.iter().enumerate() {
        assert_eq!(rcpt, &rcpts[i], "outcomes come back in input order");
        match i {
            13 => assert_eq!(outcome.code(), Some(550)),
            1500 => assert!(outcome.is_temporary()),
            _ => assert!(outcome.is_delivered(), "{rcpt}: {outcome:?}"),
        }
    }
    let received = sink.received();
    let mut sizes: Vec<usize> = received.iter().map(|r| r.rcpts.len()).collect();
    sizes.sort_unstable();
    assert_eq!(
        sizes,
        [500, 999, 999],
        "three batches, one refusal in each of the first two"
    );
    assert!(received.iter().all(|r| r.data == BODY));
    assert!(sink.counters().connections <= 2);
}

#[tokio::test]
async fn zero_max_recipients_means_one_transaction() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let relay = Relay::new(RelayConfig {
        max_recipients: 0,
        ..sink.relay_config()
    });
    let delivered = relay.deliver("s@lists.example", &members(1200), BODY).await;
    assert!(delivered.iter().all(|(_, outcome)| outcome.is_delivered()));
    assert_eq!(sink.counters().transactions, 1);
}

#[tokio::test]
async fn an_empty_recipient_list_sends_nothing() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let relay = Relay::new(sink.relay_config());
    assert!(relay.deliver("s@x", &[], BODY).await.is_empty());
    assert!(
        relay
            .transaction(&Envelope::new("s@x", Vec::<String>::new()), BODY)
            .await
            .is_empty()
    );
    assert_eq!(sink.counters().connections, 0);
}

#[tokio::test]
async fn concurrent_transactions_share_at_most_max_connections() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let relay = Relay::new(RelayConfig {
        max_connections: 3,
        ..sink.relay_config()
    });
    let body = Arc::new(BODY.to_vec());
    let mut tasks = Vec::new();
    for i in 0..60 {
        let relay = relay.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let envelope = Envelope::new(
                format!("list-bounces+m{i}@lists.example"),
                [format!("m{i}@x")],
            );
            relay.transaction(&envelope, &body).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), [RcptOutcome::Delivered]);
    }
    assert_eq!(sink.counters().delivered, 60);
    assert!(sink.counters().connections <= 3);
    let stats = relay.stats();
    assert_eq!(stats.transactions, 60);
    assert!(stats.connections_opened <= 3);
    assert!(stats.idle_connections <= 3);
}

#[tokio::test]
async fn connections_retire_after_max_transactions() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let relay = Relay::new(RelayConfig {
        max_connections: 1,
        max_transactions_per_connection: 5,
        ..sink.relay_config()
    });
    for i in 0..20 {
        let envelope = Envelope::new("s@lists.example", [format!("m{i}@x")]);
        assert_eq!(
            relay.transaction(&envelope, BODY).await,
            [RcptOutcome::Delivered]
        );
    }
    assert_eq!(sink.counters().connections, 4);
    let per_connection = |id: u64| {
        sink.received()
            .iter()
            .filter(|r| r.connection == id)
            .count()
    };
    assert_eq!(
        (1..=4).map(per_connection).collect::<Vec<_>>(),
        [5, 5, 5, 5]
    );
}

#[tokio::test]
async fn a_pooled_connection_closed_by_the_server_is_replaced() {
    // The second transaction meets a 421 on its reused connection before anything was
    // delivered, so it runs again on a fresh connection.
    let config = SinkConfig::smtp().rule(
        When::Mail,
        "second@",
        Action::ReplyTimes(1, reply("421 4.4.2 Idle too long, closing")),
    );
    let sink = Sink::start(config).await.unwrap();
    let relay = Relay::new(sink.relay_config());
    let first = Envelope::new("first@lists.example", ["a@x"]);
    let second = Envelope::new("second@lists.example", ["b@x"]);
    assert_eq!(
        relay.transaction(&first, BODY).await,
        [RcptOutcome::Delivered]
    );
    assert_eq!(
        relay.transaction(&second, BODY).await,
        [RcptOutcome::Delivered]
    );
    let stats = relay.stats();
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(sink.counters().delivered, 2);
}

#[tokio::test]
async fn a_server_idle_timeout_is_noticed_before_reuse() {
    let config = SinkConfig {
        idle_timeout: Some(Duration::from_millis(20)),
        ..SinkConfig::smtp()
    };
    let sink = Sink::start(config).await.unwrap();
    let relay = Relay::new(sink.relay_config());
    let envelope = Envelope::new("s@lists.example", ["a@x"]);
    assert_eq!(
        relay.transaction(&envelope, BODY).await,
        [RcptOutcome::Delivered]
    );
    // Wait until the sink has closed the idle connection, then use the pool again.
    while sink.counters().idle_closed == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        relay.transaction(&envelope, BODY).await,
        [RcptOutcome::Delivered]
    );
    assert_eq!(relay.stats().connections_opened, 2);
    assert_eq!(sink.counters().delivered, 2);
}

#[tokio::test]
async fn temporary_refusals_then_acceptance() {
    let config = SinkConfig::smtp().rule(
        When::Rcpt,
        "flaky@",
        Action::ReplyTimes(2, reply("451 4.3.0 Try later")),
    );
    let sink = Sink::start(config).await.unwrap();
    let relay = Relay::new(sink.relay_config());
    let envelope = Envelope::new("s@lists.example", ["flaky@x", "steady@x"]);
    let mut flaky = Vec::new();
    for _ in 0..3 {
        let outcomes = relay.transaction(&envelope, BODY).await;
        assert!(outcomes[1].is_delivered());
        flaky.push(outcomes[0].code());
    }
    assert_eq!(flaky, [Some(451), Some(451), None]);
}

#[tokio::test]
async fn an_unreachable_relay_defers_everyone_without_trying_every_batch() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let relay = Relay::new(RelayConfig {
        host: "127.0.0.1".into(),
        port,
        max_recipients: 10,
        max_connections: 2,
        ..RelayConfig::default()
    });
    let delivered = relay.deliver("s@lists.example", &members(200), BODY).await;
    assert_eq!(delivered.len(), 200);
    for (_, outcome) in &delivered {
        match outcome {
            RcptOutcome::Deferred { code, enhanced, .. } => {
                assert_eq!(*code, 444);
                assert_eq!(*enhanced, Some(EnhancedCode::new(4, 4, 1)));
            }
            other => panic!("expected a deferral, got {other:?}"),
        }
    }
    assert!(relay.stats().connect_failures <= 2, "{:?}", relay.stats());
}

#[tokio::test(start_paused = true)]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let relay = Relay::new(RelayConfig {
        idle_timeout: Duration::from_secs(10),
        ..sink.relay_config()
    });
    let envelope = Envelope::new("s@lists.example", ["a@x"]);
    assert_eq!(
        relay.transaction(&envelope, BODY).await,
        [RcptOutcome::Delivered]
    );
    assert_eq!(relay.stats().idle_connections, 1);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(relay.stats().idle_connections, 0);
    // The reaper's QUIT reaches the sink.
    while sink.counters().quits == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn lmtp_relay_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let config = SinkConfig::lmtp().rule(
        When::DataEnd,
        "quota@",
        Action::Reply(reply("452 4.2.2 Over quota")),
    );
    let sink = Sink::start_unix(dir.path().join("lmtp.sock"), config)
        .await
        .unwrap();
    let relay = Relay::new(RelayConfig {
        max_recipients: 3,
        ..sink.relay_config()
    });
    let rcpts: Vec<String> = ["a@l", "quota@l", "b@l", "c@l", "d@l"]
        .map(String::from)
        .to_vec();
    let delivered = relay.deliver("s@l", &rcpts, BODY).await;
    let codes: Vec<Option<u16>> = delivered
        .iter()
        .map(|(_, outcome)| outcome.code())
        .collect();
    assert_eq!(codes, [None, Some(452), None, None, None]);
    sink.wait_for_recipients(4, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        sink.wait_for_recipients(5, Duration::from_millis(50))
            .await
            .is_err()
    );
}
