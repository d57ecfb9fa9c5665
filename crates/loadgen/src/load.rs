//! A load run: N connections, each sending its M messages one transaction after another, with
//! optional retries, bounded by a deadline.
//!
//! Every connection is opened (greeting and LHLO) before the clock starts, so the rate
//! measures transactions, not connection set-up. A message counts as *durable* when every
//! recipient got a 2xx after the end of data. With [`Retry`], a message that got a 4xx or whose
//! connection broke is sent again later on the same worker (which reconnects as needed, also
//! across a server restart); a 5xx is final. Without it, every message is tried once and a
//! broken connection is reopened for the next message. A connection that broke after the end
//! of data was written leaves its message *uncertain*: the server may have committed it, so a
//! resend may store it twice. Those are listed, so that a crash test can tell such duplicates
//! from real ones.
//!
//! Nothing is printed here; see `report`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailcast_outbound::Target;
use tokio::sync::Barrier;
use tokio::time::sleep;

use crate::driver::{ClientKind, Driver};
use crate::message::{MessageFactory, MessageSpec};
use crate::report::{Report, Tally};
use crate::wire;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The LMTP server.
    pub target: Target,
    /// Which client sends.
    pub client: ClientKind,
    /// Concurrent connections.
    pub connections: usize,
    /// Messages each connection sends.
    pub messages_per_connection: u64,
    /// The envelope sender.
    pub mail_from: String,
    /// The envelope recipients of every message.
    pub rcpts: Vec<String>,
    /// What the messages look like.
    pub message: MessageSpec,
    /// The name sent in LHLO.
    pub helo_name: String,
    /// Bound on each connect, write and read.
    pub io_timeout: Duration,
    /// Send again what did not get a 2xx; `None` tries every message once.
    pub retry: Option<Retry>,
    /// The run stops sending new transactions after this long.
    pub deadline: Duration,
    /// Keep the Message-ID and queue ids of every durable message.
    pub record_acks: bool,
}

/// How messages that were not acknowledged are sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per message in all, the first included.
    pub attempts: u32,
    /// Pause before a message is sent again, and between two failed connects.
    pub pause: Duration,
}

/// A durable message, for the acknowledgement log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Its Message-ID, without angle brackets.
    pub message_id: String,
    /// The queue id named in each recipient's 250, in recipient order (`-` when none).
    pub queue_ids: Vec<String>,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Rates, latencies and counts.
    pub report: Report,
    /// Every durable message, when [`LoadConfig::record_acks`] was set.
    pub acks: Vec<Ack>,
    /// Message-IDs whose connection broke after the end of data (sent again if retrying).
    pub uncertain: Vec<String>,
}

/// A message still to send.
struct Pending {
    seq: u64,
    attempts: u32,
    not_before: Option<Instant>,
}

/// What one worker saw.
#[derive(Default)]
struct WorkerResult {
    tally: Tally,
    acks: Vec<Ack>,
    uncertain: Vec<String>,
}

/// Runs the load and waits for it to finish.
pub async fn run(config: LoadConfig) -> Outcome {
    let config = Arc::new(config);
    let factory = Arc::new(MessageFactory::new(&config.message));
    let barrier = Arc::new(Barrier::new(config.connections + 1));
    let deadline = Instant::now() + config.deadline;
    let workers: Vec<_> = (0..config.connections)
        .map(|index| {
            let (config, factory, barrier) = (config.clone(), factory.clone(), barrier.clone());
            tokio::spawn(worker(index, config, factory, barrier, deadline))
        })
        .collect();
    barrier.wait().await;
    let started = Instant::now();
    let mut total = WorkerResult::default();
    for worker in workers {
        match worker.await {
            Ok(result) => {
                total.tally.merge(result.tally);
                total.acks.extend(result.acks);
                total.uncertain.extend(result.uncertain);
            }
            Err(error) => total.tally.errors.push(format!("worker panicked: {error}")),
        }
    }
    let elapsed = started.elapsed();
    Outcome {
        report: Report::new(&config, total.tally, elapsed),
        acks: total.acks,
        uncertain: total.uncertain,
    }
}

/// One connection's life: connect, wait for the others, send every message.
async fn worker(
    index: usize,
    config: Arc<LoadConfig>,
    factory: Arc<MessageFactory>,
    barrier: Arc<Barrier>,
    deadline: Instant,
) -> WorkerResult {
    let mut result = WorkerResult::default();
    let mut driver = connect(&config, deadline, &mut result.tally).await;
    barrier.wait().await;
    let mut queue: VecDeque<Pending> = (0..config.messages_per_connection)
        .map(|seq| Pending {
            seq,
            attempts: 0,
            not_before: None,
        })
        .collect();
    let mut message = Vec::with_capacity(config.message.size + 1024);
    while let Some(mut pending) = queue.pop_front() {
        if let Some(at) = pending.not_before {
            tokio::time::sleep_until(at.into()).await;
        }
        if Instant::now() >= deadline {
            result.tally.unsent += 1 + queue.len() as u64;
            result.tally.errors.push("deadline reached".into());
            break;
        }
        let mut open = match driver.take() {
            Some(open) => open,
            None => match connect(&config, deadline, &mut result.tally).await {
                Some(open) => open,
                None => {
                    result.tally.unsent += 1 + queue.len() as u64;
                    break;
                }
            },
        };
        let message_id = factory.build(index, pending.seq, &mut message);
        pending.attempts += 1;
        let retry = config
            .retry
            .filter(|retry| pending.attempts < retry.attempts);
        match open.send(&config.mail_from, &config.rcpts, &message).await {
            Ok(attempt) => {
                driver = Some(open);
                result.tally.record_verdicts(&attempt.verdicts);
                if attempt.verdicts.iter().all(|reply| reply.is_positive()) {
                    result.tally.record_durable(attempt.latency);
                    if config.record_acks {
                        let queue_ids = attempt
                            .verdicts
                            .iter()
                            .map(|reply| wire::queue_id(reply).unwrap_or("-").to_string())
                            .collect();
                        result.acks.push(Ack {
                            message_id,
                            queue_ids,
                        });
                    }
                    continue;
                }
                let temporary = attempt.verdicts.iter().any(|reply| reply.code / 100 == 4);
                let permanent = attempt.verdicts.iter().any(|reply| reply.code / 100 == 5);
                match retry {
                    Some(retry) if temporary && !permanent => {
                        pending.not_before = Some(Instant::now() + retry.pause);
                        result.tally.retried += 1;
                        queue.push_back(pending);
                    }
                    _ => result.tally.failed += 1,
                }
            }
            Err(broken) => {
                result.tally.broken += 1;
                if broken.may_have_committed {
                    result.uncertain.push(message_id);
                }
                if result.tally.errors.len() < 20 {
                    result.tally.errors.push(broken.reason);
                }
                match retry {
                    Some(retry) => {
                        pending.not_before = Some(Instant::now() + retry.pause);
                        result.tally.retried += 1;
                        queue.push_back(pending);
                    }
                    None => result.tally.failed += 1,
                }
            }
        }
    }
    if let Some(open) = driver {
        open.quit().await;
    }
    result
}

/// Opens a session; with [`Retry`], keeps trying (pausing in between) until the deadline.
async fn connect(config: &LoadConfig, deadline: Instant, tally: &mut Tally) -> Option<Driver> {
    loop {
        tally.connects += 1;
        match Driver::connect(
            config.client,
            &config.target,
            &config.helo_name,
            config.io_timeout,
        )
        .await
        {
            Ok(driver) => return Some(driver),
            Err(reason) => {
                tally.connect_failures += 1;
                let pause = config.retry.map(|retry| retry.pause);
                match pause {
                    Some(pause) if Instant::now() + pause < deadline => sleep(pause).await,
                    _ => {
                        if tally.errors.len() < 20 {
                            tally.errors.push(reason);
                        }
                        return None;
                    }
                }
            }
        }
    }
}
