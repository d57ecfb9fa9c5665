//! Fan-out throughput through the in-process sink (client and sink share the machine).
//!
//! 1. Bulk: one 4 KB message to 100,000 recipients, 1,000 recipients per transaction, over a
//!    few connections (`Relay::deliver`): recipients per second.
//! 2. Personalised: 20,000 one-recipient transactions of 4 KB each over N connections, driven
//!    concurrently (`Relay::transaction`): transactions per second, with DATA and with BDAT.
//!
//! Run: `cargo bench -p mailcast-outbound --bench fanout`. The full benchmark against
//! Postfix's smtp-sink is the lead's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mailcast_outbound::sink::{Sink, SinkConfig};
use mailcast_outbound::{Envelope, Relay, RelayConfig};

const BULK_RECIPIENTS: usize = 100_000;
const BULK_BATCH: usize = 1_000;
const PERSONAL_TRANSACTIONS: usize = 20_000;

/// A 4 KB message of 76-column lines, some starting with a dot.
fn message() -> Vec<u8> {
    let mut body =
        b"From: list@lists.example\r\nTo: list@lists.example\r\nSubject: benchmark\r\n\r\n"
            .to_vec();
    let mut line = 0;
    while body.len() < 4096 - 80 {
        let lead = if line % 10 == 0 { "." } else { "x" };
        body.extend_from_slice(format!("{lead}{:075}\r\n", line).as_bytes());
        line += 1;
    }
    body
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let body = message();
        println!(
            "message: {} octets; machine: client and sink on one 2-worker runtime",
            body.len()
        );
        for connections in [1, 4] {
            bulk(&body, connections).await;
        }
        for (connections, chunking) in [(1, false), (4, false), (16, false), (4, true)] {
            personalised(&body, connections, chunking).await;
        }
    });
}

fn sink_config(chunking: bool) -> SinkConfig {
    SinkConfig {
        record_data: false,
        chunking,
        ..SinkConfig::smtp()
    }
}

async fn bulk(body: &[u8], connections: usize) {
    let sink = Sink::start(sink_config(false)).await.expect("sink starts");
    let relay = Relay::new(RelayConfig {
        max_connections: connections,
        max_recipients: BULK_BATCH,
        ..sink.relay_config()
    });
    let rcpts: Vec<String> = (0..BULK_RECIPIENTS)
        .map(|i| format!("member{i}@example.org"))
        .collect();
    let started = Instant::now();
    let delivered = relay
        .deliver("list-bounces@lists.example", &rcpts, body)
        .await;
    let elapsed = started.elapsed();
    assert!(delivered.iter().all(|(_, outcome)| outcome.is_delivered()));
    assert_eq!(sink.counters().delivered, BULK_RECIPIENTS as u64);
    println!(
        "bulk:         {BULK_RECIPIENTS} recipients, {BULK_BATCH}/transaction, {connections} connection(s): {:.3} s, {:.0} recipients/s",
        elapsed.as_secs_f64(),
        BULK_RECIPIENTS as f64 / elapsed.as_secs_f64()
    );
}

async fn personalised(body: &[u8], connections: usize, chunking: bool) {
    let sink = Sink::start(sink_config(chunking))
        .await
        .expect("sink starts");
    let relay = Relay::new(RelayConfig {
        max_connections: connections,
        use_chunking: chunking,
        ..sink.relay_config()
    });
    let body = Arc::new(body.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    // More callers than connections, as the daemon's runner would have.
    for _ in 0..connections * 4 {
        let (relay, body, next) = (relay.clone(), body.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= PERSONAL_TRANSACTIONS {
                    break;
                }
                let envelope = Envelope::new(
                    format!("list-bounces+member{i}=example.org@lists.example"),
                    [format!("member{i}@example.org")],
                );
                let outcomes = relay.transaction(&envelope, &body).await;
                assert!(outcomes[0].is_delivered(), "{outcomes:?}");
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker finishes");
    }
    let elapsed = started.elapsed();
    assert_eq!(sink.counters().transactions, PERSONAL_TRANSACTIONS as u64);
    println!(
        "personalised: {PERSONAL_TRANSACTIONS} transactions, {connections} connection(s), {}: {:.3} s, {:.0} transactions/s (connections opened: {})",
        if chunking { "BDAT" } else { "DATA" },
        elapsed.as_secs_f64(),
        PERSONAL_TRANSACTIONS as f64 / elapsed.as_secs_f64(),
        relay.stats().connections_opened
    );
}
