//! One connection against the sink: outcomes per recipient, refusals at each stage, lost
//! connections, pipelining, body encoding, LMTP, BDAT and timeouts.

use std::time::Duration;

use mailcast_outbound::protocol::SessionConfig;
use mailcast_outbound::sink::{Action, Sink, SinkConfig, When, reply};
use mailcast_outbound::{
    Connection, EnhancedCode, Envelope, RcptOutcome, SessionErrorKind, Stage, Timeouts,
};

const BODY: &[u8] = b"Subject: test\r\n\r\nHello.\r\n";

fn session_config(sink_is_lmtp: bool, use_chunking: bool) -> SessionConfig {
    SessionConfig {
        helo_name: "client.test".into(),
        lmtp: sink_is_lmtp,
        use_chunking,
    }
}

async fn connect(sink: &Sink, lmtp: bool, use_chunking: bool) -> Connection {
    Connection::connect(
        &sink.target(),
        session_config(lmtp, use_chunking),
        Timeouts::default(),
    )
    .await
    .expect("the sink accepts connections")
}

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope::new("list-bounces@lists.example", rcpts.iter().copied())
}

fn summary(outcomes: &[RcptOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            RcptOutcome::Delivered => "delivered".to_string(),
            RcptOutcome::Deferred { code, enhanced, .. } => {
                format!(
                    "deferred {code} {}",
                    enhanced.map(|e| e.to_string()).unwrap_or_default()
                )
            }
            RcptOutcome::Failed { code, enhanced, .. } => {
                format!(
                    "failed {code} {}",
                    enhanced.map(|e| e.to_string()).unwrap_or_default()
                )
            }
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"))
}

#[tokio::test]
async fn mixed_replies_give_one_outcome_per_recipient() {
    let config = SinkConfig::smtp()
        .rule(
            When::Rcpt,
            "temp@",
            Action::Reply(reply("451 4.3.0 Try again later")),
        )
        .rule(
            When::Rcpt,
            "gone@",
            Action::Reply(reply("550 5.1.1 No such user")),
        )
        .rule(
            When::Rcpt,
            "full@",
            Action::Reply(reply("552 5.2.2 Mailbox full")),
        );
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let rcpts = [
        "one@x.example",
        "temp@x.example",
        "gone@x.example",
        "full@x.example",
        "two@x.example",
    ];
    let outcomes = connection.send(&envelope(&rcpts), BODY).await.unwrap();
    assert_eq!(
        summary(&outcomes),
        [
            "delivered",
            "deferred 451 4.3.0",
            "failed 550 5.1.1",
            "deferred 552 5.2.2",
            "delivered"
        ]
    );
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpts, ["one@x.example", "two@x.example"]);
    assert_eq!(received[0].data, BODY);
    assert_eq!(received[0].mail_from, "list-bounces@lists.example");
    assert!(connection.is_usable());
}

#[tokio::test]
async fn refused_mail_applies_to_every_recipient_and_the_session_goes_on() {
    let config = SinkConfig::smtp()
        .rule(
            When::Mail,
            "blocked@",
            Action::Reply(reply("550 5.7.1 Sender blocked")),
        )
        .rule(
            When::Mail,
            "later@",
            Action::Reply(reply("451 4.7.1 Greylisted")),
        );
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let rcpts = vec!["a@x.example".to_string(), "b@x.example".to_string()];

    let outcomes = connection
        .send_parts("blocked@lists.example", &rcpts, BODY)
        .await
        .unwrap();
    assert_eq!(summary(&outcomes), ["failed 550 5.7.1", "failed 550 5.7.1"]);
    let outcomes = connection
        .send_parts("later@lists.example", &rcpts, BODY)
        .await
        .unwrap();
    assert_eq!(
        summary(&outcomes),
        ["deferred 451 4.7.1", "deferred 451 4.7.1"]
    );
    let outcomes = connection
        .send_parts("fine@lists.example", &rcpts, BODY)
        .await
        .unwrap();
    assert_eq!(summary(&outcomes), ["delivered", "delivered"]);

    let counters = sink.counters();
    assert_eq!(counters.mail_refused, 2);
    assert_eq!(counters.transactions, 1);
    assert_eq!(
        counters.bad_commands, 0,
        "the pipelined RCPTs and DATA got 503, not garbage"
    );
    assert_eq!(counters.connections, 1);
}

#[tokio::test]
async fn refused_data_applies_to_the_accepted_recipients() {
    let config = SinkConfig::smtp()
        .rule(
            When::Rcpt,
            "gone@",
            Action::Reply(reply("550 5.1.1 No such user")),
        )
        .rule(
            When::Data,
            "spam@",
            Action::Reply(reply("554 5.7.0 Message refused")),
        );
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let rcpts = vec!["a@x.example".to_string(), "gone@x.example".to_string()];

    let outcomes = connection
        .send_parts("spam@lists.example", &rcpts, BODY)
        .await
        .unwrap();
    assert_eq!(summary(&outcomes), ["failed 554 5.7.0", "failed 550 5.1.1"]);
    assert_eq!(
        sink.counters().rsets,
        1,
        "the half-open transaction is reset"
    );

    let outcomes = connection
        .send_parts("ham@lists.example", &rcpts, BODY)
        .await
        .unwrap();
    assert_eq!(summary(&outcomes), ["delivered", "failed 550 5.1.1"]);
    assert_eq!(sink.counters().bad_commands, 0);
}

#[tokio::test]
async fn all_recipients_refused_sends_no_body() {
    let config = SinkConfig::smtp().rule(When::Rcpt, "", Action::Reply(reply("550 5.1.1 No")));
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let body = b"RSET\r\nQUIT\r\n";
    let outcomes = connection
        .send(&envelope(&["a@x", "b@x"]), body)
        .await
        .unwrap();
    assert_eq!(summary(&outcomes), ["failed 550 5.1.1", "failed 550 5.1.1"]);
    let counters = sink.counters();
    // A body sent anyway would have been read as commands: one more RSET, and a QUIT.
    assert_eq!(counters.rsets, 1);
    assert_eq!(counters.quits, 0);
    assert_eq!(counters.transactions, 0);
    assert!(connection.is_usable());
}

#[tokio::test]
async fn connection_dropped_at_the_end_of_data_defers_the_unanswered() {
    let config = SinkConfig::smtp()
        .rule(
            When::Rcpt,
            "gone@",
            Action::Reply(reply("550 5.1.1 No such user")),
        )
        .rule(When::DataEnd, "", Action::Drop);
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let error = connection
        .send(&envelope(&["a@x", "gone@x", "b@x"]), BODY)
        .await
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        SessionErrorKind::Closed | SessionErrorKind::Io(_)
    ));
    assert_eq!(error.stage(), Stage::EndOfData);
    assert!(error.may_have_delivered());
    assert_eq!(
        summary(error.outcomes()),
        [
            "deferred 444 4.4.2",
            "failed 550 5.1.1",
            "deferred 444 4.4.2"
        ]
    );
    assert!(!connection.is_usable());
    assert_eq!(sink.counters().dropped, 1);
}

#[tokio::test]
async fn connection_dropped_at_rcpt_has_delivered_nothing() {
    let config = SinkConfig::smtp().rule(When::Rcpt, "b@", Action::Drop);
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let error = connection
        .send(&envelope(&["a@x", "b@x"]), BODY)
        .await
        .unwrap_err();
    assert!(!error.may_have_delivered());
    assert_eq!(
        summary(error.outcomes()),
        ["deferred 444 4.4.2", "deferred 444 4.4.2"]
    );
}

#[tokio::test]
async fn pipelining_sends_the_envelope_in_one_write() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let rcpts: Vec<String> = (0..50).map(|i| format!("member{i}@x.example")).collect();
    let outcomes = connection
        .send_parts("list-bounces@lists.example", &rcpts, BODY)
        .await
        .unwrap();
    assert!(outcomes.iter().all(RcptOutcome::is_delivered));
    let received = sink.received();
    assert_eq!(received[0].rcpts.len(), 50);
    assert_eq!(
        received[0].command_reads, 1,
        "MAIL, 50 RCPTs and DATA arrived in one read"
    );
}

#[tokio::test]
async fn thousands_of_recipients_in_one_transaction() {
    let config = SinkConfig::smtp().rule(
        When::Rcpt,
        "member2222@",
        Action::Reply(reply("550 5.1.1 No")),
    );
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let rcpts: Vec<String> = (0..5000).map(|i| format!("member{i}@x.example")).collect();
    let outcomes = connection
        .send_parts("list-bounces@lists.example", &rcpts, BODY)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 5000);
    assert!(outcomes[2222].is_permanent());
    assert_eq!(outcomes.iter().filter(|o| o.is_delivered()).count(), 4999);
    let received = sink.received();
    assert_eq!(received[0].rcpts.len(), 4999);
    assert!(
        received[0].command_reads > 1,
        "sent in windows, not all at once"
    );
}

#[tokio::test]
async fn without_pipelining_the_client_waits_for_every_reply() {
    let config = SinkConfig {
        pipelining: false,
        ..SinkConfig::smtp()
    };
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let outcomes = connection
        .send(&envelope(&["a@x", "b@x", "c@x"]), BODY)
        .await
        .unwrap();
    assert_eq!(outcomes, vec![RcptOutcome::Delivered; 3]);
    assert_eq!(
        sink.received()[0].command_reads,
        5,
        "MAIL, 3 RCPTs, DATA: one read each"
    );
    assert_eq!(sink.counters().pipelining_violations, 0);
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo_without_extensions() {
    let config = SinkConfig {
        ehlo: false,
        pipelining: false,
        ..SinkConfig::smtp()
    };
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    assert!(!connection.capabilities().extended);
    let outcomes = connection.send(&envelope(&["a@x"]), BODY).await.unwrap();
    assert_eq!(outcomes, [RcptOutcome::Delivered]);
    assert_eq!(sink.counters().pipelining_violations, 0);
}

#[tokio::test]
async fn bodies_arrive_dot_stuffed_and_crlf_normalised() {
    let body = fixture("tricky-body.eml");
    let expected = fixture("tricky-body.expected");
    for chunking in [false, true] {
        let config = SinkConfig {
            chunking,
            ..SinkConfig::smtp()
        };
        let sink = Sink::start(config).await.unwrap();
        let mut connection = connect(&sink, false, chunking).await;
        let outcomes = connection.send(&envelope(&["a@x"]), &body).await.unwrap();
        assert_eq!(outcomes, [RcptOutcome::Delivered]);
        let received = sink.received();
        assert_eq!(
            received.len(),
            1,
            "the smuggled MAIL FROM is no new transaction"
        );
        assert_eq!(received[0].bdat, chunking);
        assert_eq!(
            String::from_utf8_lossy(&received[0].data),
            String::from_utf8_lossy(&expected),
            "chunking: {chunking}"
        );
        assert_eq!(sink.counters().bad_commands, 0);
    }
}

#[tokio::test]
async fn several_transactions_on_one_connection() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    for i in 0..5 {
        let body = format!("Subject: {i}\r\n\r\nbody {i}\r\n");
        let outcomes = connection
            .send(&envelope(&["a@x"]), body.as_bytes())
            .await
            .unwrap();
        assert_eq!(outcomes, [RcptOutcome::Delivered]);
    }
    assert_eq!(connection.transactions(), 5);
    connection.quit().await;
    let received = sink.received();
    assert_eq!(received.len(), 5);
    assert_eq!(received[3].data, b"Subject: 3\r\n\r\nbody 3\r\n");
    assert!(received.iter().all(|r| r.connection == 1));
    assert_eq!(sink.counters().quits, 1);
}

#[tokio::test]
async fn lmtp_gets_one_reply_per_accepted_recipient() {
    let config = SinkConfig::lmtp()
        .rule(
            When::Rcpt,
            "unknown@",
            Action::Reply(reply("550 5.1.1 No such list")),
        )
        .rule(
            When::DataEnd,
            "quota@",
            Action::Reply(reply("452 4.2.2 Over quota")),
        )
        .rule(
            When::DataEnd,
            "banned@",
            Action::Reply(reply("550 5.7.1 Banned sender")),
        );
    for chunking in [false, true] {
        let config = SinkConfig {
            chunking,
            ..config.clone()
        };
        let sink = Sink::start(config).await.unwrap();
        let mut connection = connect(&sink, true, chunking).await;
        let rcpts = ["a@l", "unknown@l", "quota@l", "banned@l", "b@l"];
        let outcomes = connection.send(&envelope(&rcpts), BODY).await.unwrap();
        assert_eq!(
            summary(&outcomes),
            [
                "delivered",
                "failed 550 5.1.1",
                "deferred 452 4.2.2",
                "failed 550 5.7.1",
                "delivered"
            ],
            "chunking: {chunking}"
        );
        let received = sink.received();
        assert_eq!(received[0].rcpts, ["a@l", "b@l"]);
        assert_eq!(received[0].bdat, chunking);
        assert_eq!(received[0].data, BODY);
    }
}

#[tokio::test]
async fn lmtp_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp.sock");
    let sink = Sink::start_unix(&path, SinkConfig::lmtp()).await.unwrap();
    let mut connection = connect(&sink, true, false).await;
    let outcomes = connection
        .send(&envelope(&["a@l", "b@l"]), BODY)
        .await
        .unwrap();
    assert_eq!(outcomes, vec![RcptOutcome::Delivered; 2]);
    assert_eq!(sink.counters().delivered, 2);
}

#[tokio::test]
async fn bdat_sends_envelope_and_body_in_one_write() {
    let config = SinkConfig {
        chunking: true,
        ..SinkConfig::smtp()
    };
    let sink = Sink::start(config).await.unwrap();
    let mut connection = connect(&sink, false, true).await;
    let outcomes = connection
        .send(&envelope(&["a@x", "b@x"]), BODY)
        .await
        .unwrap();
    assert_eq!(outcomes, vec![RcptOutcome::Delivered; 2]);
    let received = sink.received();
    assert!(received[0].bdat);
    assert_eq!(received[0].command_reads, 1);
    assert_eq!(sink.counters().bdat_chunks, 1);
}

#[tokio::test]
async fn utf8_addresses_and_8bit_bodies_are_accepted() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let mut connection = connect(&sink, false, false).await;
    let body = "Subject: café\r\n\r\nżółw\r\n".as_bytes();
    let outcomes = connection
        .send(&envelope(&["jörg@bücher.example"]), body)
        .await
        .unwrap();
    assert_eq!(outcomes, [RcptOutcome::Delivered]);
    assert_eq!(sink.received()[0].data, body);
}

#[tokio::test]
async fn a_refused_greeting_is_a_session_error() {
    let config = SinkConfig::smtp().rule(
        When::Connect,
        "",
        Action::Reply(reply("421 4.3.2 Too busy")),
    );
    let sink = Sink::start(config).await.unwrap();
    let error = Connection::connect(
        &sink.target(),
        session_config(false, false),
        Timeouts::default(),
    )
    .await
    .err()
    .expect("the greeting is refused");
    assert_eq!(error.stage(), Stage::Greeting);
    assert_eq!(
        error.unanswered_outcome(),
        RcptOutcome::Deferred {
            code: 421,
            enhanced: Some(EnhancedCode::new(4, 3, 2)),
            text: "Too busy".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_rcpt_reply_times_out() {
    let config = SinkConfig::smtp().rule(
        When::Rcpt,
        "slow@",
        Action::Delay(Duration::from_secs(3600)),
    );
    let sink = Sink::start(config).await.unwrap();
    let timeouts = Timeouts {
        command: Duration::from_secs(30),
        ..Timeouts::default()
    };
    let mut connection =
        Connection::connect(&sink.target(), session_config(false, false), timeouts)
            .await
            .unwrap();
    let error = connection
        .send(&envelope(&["a@x", "slow@x"]), BODY)
        .await
        .unwrap_err();
    assert!(matches!(error.kind(), SessionErrorKind::Timeout));
    assert_eq!(error.stage(), Stage::Rcpt);
    assert_eq!(
        summary(error.outcomes()),
        ["deferred 444 4.4.2", "deferred 444 4.4.2"]
    );
    assert!(!connection.is_usable());
}

#[tokio::test(start_paused = true)]
async fn a_slow_end_of_data_reply_times_out_with_the_data_timeout() {
    let config =
        SinkConfig::smtp().rule(When::DataEnd, "", Action::Delay(Duration::from_secs(3600)));
    let sink = Sink::start(config).await.unwrap();
    let timeouts = Timeouts {
        command: Duration::from_secs(1),
        data: Duration::from_secs(600),
        ..Timeouts::default()
    };
    let mut connection =
        Connection::connect(&sink.target(), session_config(false, false), timeouts)
            .await
            .unwrap();
    let started = tokio::time::Instant::now();
    let error = connection
        .send(&envelope(&["a@x"]), BODY)
        .await
        .unwrap_err();
    assert!(matches!(error.kind(), SessionErrorKind::Timeout));
    assert_eq!(error.stage(), Stage::EndOfData);
    assert!(error.may_have_delivered());
    assert!(
        started.elapsed() >= Duration::from_secs(600),
        "the data timeout applied"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_at_the_greeting() {
    let config =
        SinkConfig::smtp().rule(When::Connect, "", Action::Delay(Duration::from_secs(3600)));
    let sink = Sink::start(config).await.unwrap();
    let timeouts = Timeouts {
        command: Duration::from_secs(10),
        ..Timeouts::default()
    };
    let error = Connection::connect(&sink.target(), session_config(false, false), timeouts)
        .await
        .err()
        .expect("times out");
    assert!(matches!(error.kind(), SessionErrorKind::Timeout));
    assert_eq!(error.stage(), Stage::Greeting);
}
