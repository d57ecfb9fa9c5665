//! The generator against the outbound crate's scripted LMTP sink: what it counts, retries and
//! logs when the server accepts, defers, refuses, hangs up after the data, or is not there.

use std::collections::HashSet;
use std::time::Duration;

use mailcast_loadgen::{ClientKind, LoadConfig, MessageSpec, Outcome, Retry, Target};
use mailcast_outbound::sink::{Action, Sink, SinkConfig, When, reply};

fn config(target: Target, connections: usize, messages: u64, rcpt: &str) -> LoadConfig {
    LoadConfig {
        target,
        client: ClientKind::Lean,
        connections,
        messages_per_connection: messages,
        mail_from: "poster@example.net".into(),
        rcpts: vec![rcpt.into()],
        message: MessageSpec {
            size: 4096,
            from: "poster@example.net".into(),
            to: rcpt.into(),
            date: "Sat, 30 Nov 2026 02:15:57 +0000".into(),
            run_token: "test".into(),
        },
        helo_name: "loadgen.test".into(),
        io_timeout: Duration::from_secs(10),
        retry: None,
        deadline: Duration::from_secs(60),
        record_acks: true,
    }
}

fn retry(attempts: u32) -> Option<Retry> {
    Some(Retry {
        attempts,
        pause: Duration::from_millis(1),
    })
}

fn code_count(outcome: &Outcome, code: &str) -> u64 {
    outcome.report.codes.get(code).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_willing_server_acknowledges_every_message_on_reused_connections() {
    for client in [ClientKind::Lean, ClientKind::Outbound] {
        let sink = Sink::start(SinkConfig::lmtp()).await.expect("sink starts");
        let mut config = config(sink.target(), 4, 25, "bench@lists.example.org");
        config.client = client;
        let outcome = mailcast_loadgen::run(config).await;

        assert_eq!(outcome.report.durable, 100, "{client:?}");
        assert_eq!(outcome.report.codes.len(), 1, "{client:?}");
        assert_eq!(code_count(&outcome, "250"), 100);
        assert!(outcome.report.latency_ms.max > 0.0);
        let counters = sink.counters();
        assert_eq!(counters.connections, 4, "one connection per worker");
        assert_eq!(counters.transactions, 100);
        let received = sink.received();
        assert!(
            received
                .iter()
                .all(|r| r.size == 4096 && r.command_reads == 1)
        );

        let ids: HashSet<_> = outcome.acks.iter().map(|a| &a.message_id).collect();
        assert_eq!(ids.len(), 100, "Message-IDs are unique");
        // The sink's LMTP 250 (`<rcpt> Delivered`) names no queue id.
        assert!(
            outcome.acks.iter().all(|a| a.queue_ids == ["-"]),
            "{client:?}"
        );
        assert!(outcome.uncertain.is_empty());
    }
}

#[tokio::test]
async fn temporary_refusals_are_sent_again_only_when_retrying() {
    for (attempts, durable, failed, retried) in [(1, 17, 3, 0), (2, 20, 0, 3)] {
        let deferring = SinkConfig::lmtp().rule(
            When::DataEnd,
            "",
            Action::ReplyTimes(3, reply("451 4.3.0 Try again later")),
        );
        let sink = Sink::start(deferring).await.expect("sink starts");
        let mut config = config(sink.target(), 1, 20, "bench@lists.example.org");
        if attempts > 1 {
            config.retry = retry(attempts);
        }
        let outcome = mailcast_loadgen::run(config).await;
        assert_eq!(outcome.report.durable, durable, "attempts {attempts}");
        assert_eq!(outcome.report.failed, failed);
        assert_eq!(outcome.report.retried, retried);
        assert_eq!(code_count(&outcome, "451"), 3);
        assert_eq!(
            outcome.report.refusals.get("451 4.3.0 Try again later"),
            Some(&3)
        );
        assert_eq!(code_count(&outcome, "250"), durable);
        assert_eq!(outcome.acks.len() as u64, durable);
    }
}

#[tokio::test]
async fn permanent_refusals_are_final() {
    let refusing = SinkConfig::lmtp().rule(
        When::Rcpt,
        "nosuch",
        Action::Reply(reply("550 5.1.1 No such list")),
    );
    let sink = Sink::start(refusing).await.expect("sink starts");
    let mut config = config(sink.target(), 2, 5, "nosuch@lists.example.org");
    config.retry = retry(5);
    let outcome = mailcast_loadgen::run(config).await;
    assert_eq!(outcome.report.durable, 0);
    assert_eq!(outcome.report.failed, 10);
    assert_eq!(outcome.report.retried, 0);
    assert_eq!(code_count(&outcome, "550"), 10);
    assert_eq!(sink.counters().rcpt_refused, 10);
    assert_eq!(
        outcome.report.broken, 0,
        "a refused DATA leaves the session usable"
    );
}

#[tokio::test]
async fn a_hang_up_after_the_end_of_data_leaves_the_message_uncertain() {
    let hanging = SinkConfig::lmtp().rule(When::DataEnd, "hangup", Action::Drop);
    let sink = Sink::start(hanging).await.expect("sink starts");
    let mut config = config(sink.target(), 1, 2, "hangup@lists.example.org");
    config.retry = retry(2);
    let outcome = mailcast_loadgen::run(config).await;
    assert_eq!(outcome.report.durable, 0);
    assert_eq!(outcome.report.broken, 4);
    assert_eq!(outcome.report.failed, 2);
    assert_eq!(outcome.report.retried, 2);
    assert_eq!(
        outcome.uncertain.len(),
        4,
        "every attempt may have been committed"
    );
    let distinct: HashSet<_> = outcome.uncertain.iter().collect();
    assert_eq!(distinct.len(), 2, "a resend keeps its Message-ID");
    let log = mailcast_loadgen::ack_log(&outcome);
    assert_eq!(
        log.lines().filter(|l| l.starts_with("uncertain\t")).count(),
        4
    );
    assert_eq!(
        sink.counters().connections,
        4,
        "a reconnect after each hang-up"
    );
}

#[tokio::test]
async fn an_absent_server_leaves_every_message_unsent() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let outcome = mailcast_loadgen::run(config(target, 3, 4, "bench@lists.example.org")).await;
    assert_eq!(outcome.report.durable, 0);
    assert_eq!(outcome.report.unsent, 12);
    assert!(outcome.report.connect_failures >= 3);
    assert!(!outcome.report.errors.is_empty());
}
