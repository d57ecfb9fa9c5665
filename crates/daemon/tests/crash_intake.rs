//! `kill -9` during LMTP intake, black box: 5,000 messages over 16 concurrent connections to a
//! real `mailcast serve` (runners disabled, so entries stay in `incoming/`), the daemon killed
//! at random moments five times and restarted each time, the clients reconnecting and sending
//! again every message that did not get its 250.
//!
//! Afterwards every acknowledged message must be in the spool, under the queue id its 250
//! named, exactly once; the only allowed duplicates are messages whose connection broke after
//! the end of data and before the reply (the server may have committed them; the client could
//! not know and sent them again, as an MTA would). Nothing may be in any other stage. The
//! counts are printed (run with `--nocapture` to see them).

mod support;

#[path = "crash_intake/client.rs"]
mod client;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use client::{Client, Sent};
use mailcast_spool::{Options, Spool, Stage};
use support::{Site, free_port, header};

const LIST: &str = "crash@lists.example.org";
const SENDER: &str = "poster@example.net";
const MESSAGES: usize = 5_000;
const CONNECTIONS: usize = 16;
const KILLS: usize = 5;
/// Guards against a hang; the test takes a few seconds.
const GIVE_UP: Duration = Duration::from_secs(180);

/// What the clients learnt.
#[derive(Default)]
struct Book {
    /// Message-ID → the queue id named in its 250.
    acked: HashMap<String, String>,
    /// Message-ID → how often its connection broke after the end of data.
    uncertain: HashMap<String, usize>,
    /// Transactions cut before the end of data, and 4xx replies (both simply sent again).
    resent_safely: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_intake_loses_no_acknowledged_message() {
    let mut site = Site::new(free_port());
    site.set("runner.enabled", false);
    site.set("logging.level", "warn");
    site.create_list(LIST, &[SENDER], &[], &[]);
    let mut daemon = site.start().await;

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut random = XorShift(seed);
    // Kill points: spread over the run, each at a random count of acknowledged messages,
    // then a random sub-millisecond pause so the kill lands anywhere in the commit cycle.
    let mut kill_points: Vec<usize> = (0..KILLS)
        .map(|i| {
            let slice = MESSAGES * 9 / 10 / KILLS;
            MESSAGES / 20 + i * slice + random.below(slice)
        })
        .collect();
    kill_points.sort_unstable();

    let token = format!("{:x}", seed);
    let book = Arc::new(Mutex::new(Book::default()));
    let acked = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|index| {
            let (book, acked, token) = (book.clone(), acked.clone(), token.clone());
            tokio::spawn(run_client(site.lmtp, index, token, book, acked, started))
        })
        .collect();

    let mut restarts = 0;
    for point in kill_points.iter().copied() {
        while acked.load(Ordering::SeqCst) < point {
            assert!(started.elapsed() < GIVE_UP, "stuck at {point} acknowledged");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // A blocking sleep on purpose: tokio's timer has millisecond granularity.
        std::thread::sleep(Duration::from_micros(random.below(1000) as u64));
        daemon.kill();
        daemon = site.start().await;
        restarts += 1;
    }
    for client in clients {
        let left = GIVE_UP.saturating_sub(started.elapsed());
        tokio::time::timeout(left, client)
            .await
            .unwrap_or_else(|_| panic!("clients still sending after {GIVE_UP:?}"))
            .expect("a client task panicked");
    }
    daemon.stop().await;

    let book = book.lock().expect("no client panicked");
    let spool = Spool::open(site.path("var/spool"), Options::default()).expect("open the spool");
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    for stage in Stage::ALL {
        let ids = spool.list(stage).expect("list a stage");
        if stage != Stage::Incoming {
            assert!(ids.is_empty(), "{} entries in {stage:?}", ids.len());
            continue;
        }
        for id in ids {
            let meta = spool.read_meta(stage, &id).expect("a readable envelope");
            let body = spool
                .read_body_of(&meta)
                .expect("a body matching its envelope");
            let message_id = header(&body, "Message-ID").expect("a Message-ID");
            stored
                .entry(message_id.trim_matches(['<', '>']).to_string())
                .or_default()
                .push(id.as_str().to_string());
        }
    }

    let mut present = 0;
    let mut missing = Vec::new();
    let mut wrong_queue_id = Vec::new();
    let mut duplicates_after_lost_reply = 0;
    let mut unexplained_duplicates = Vec::new();
    for (message_id, queue_id) in &book.acked {
        let Some(ids) = stored.get(message_id) else {
            missing.push(message_id.clone());
            continue;
        };
        present += 1;
        if !ids.contains(queue_id) {
            wrong_queue_id.push(message_id.clone());
        }
        if ids.len() > 1 {
            if ids.len() <= 1 + book.uncertain.get(message_id).copied().unwrap_or(0) {
                duplicates_after_lost_reply += ids.len() - 1;
            } else {
                unexplained_duplicates.push(message_id.clone());
            }
        }
    }
    let strangers: HashSet<_> = stored
        .keys()
        .filter(|id| !book.acked.contains_key(*id))
        .collect();
    let entries: usize = stored.values().map(Vec::len).sum();
    println!(
        "crash_intake: seed {seed:#x}, {restarts} kill -9 + restart at {kill_points:?} \
         acknowledged; {} acknowledged, {present} present, {entries} entries, missing {}, \
         duplicates {duplicates_after_lost_reply} (all after a lost reply; {} messages had a \
         lost reply), unexplained duplicates {}, resent safely {}, {:.1} s",
        book.acked.len(),
        missing.len(),
        book.uncertain.len(),
        unexplained_duplicates.len(),
        book.resent_safely,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(restarts, KILLS);
    assert_eq!(
        book.acked.len(),
        MESSAGES,
        "every message was acknowledged in the end"
    );
    assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
    assert!(
        wrong_queue_id.is_empty(),
        "not under the queue id of its 250: {wrong_queue_id:?}"
    );
    assert!(
        unexplained_duplicates.is_empty(),
        "unexplained duplicates: {unexplained_duplicates:?}"
    );
    assert!(strangers.is_empty(), "entries nobody sent: {strangers:?}");
    assert_eq!(entries, MESSAGES + duplicates_after_lost_reply);
}

/// Sends messages `index`, `index + CONNECTIONS`, ... until each has its 250, reconnecting
/// whenever the daemon is gone.
async fn run_client(
    addr: std::net::SocketAddr,
    index: usize,
    token: String,
    book: Arc<Mutex<Book>>,
    acked: Arc<AtomicUsize>,
    started: Instant,
) {
    let mut client: Option<Client> = None;
    for seq in (index..MESSAGES).step_by(CONNECTIONS) {
        let message_id = format!("{token}.{seq:05}@crash.test");
        let message = message(&message_id, seq);
        loop {
            assert!(
                started.elapsed() < GIVE_UP,
                "client {index} stuck at message {seq}"
            );
            let Some(open) = client.as_mut() else {
                client = Client::connect(addr).await;
                if client.is_none() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            };
            let sent = open.send(SENDER, LIST, &message).await;
            if let Sent::Replied(250, text) = &sent {
                let queue_id = text
                    .split_once("queued as ")
                    .map(|(_, id)| id.trim().to_string())
                    .unwrap_or_else(|| panic!("no queue id in {text:?}"));
                let mut book = book.lock().expect("no client panicked");
                book.acked.insert(message_id.clone(), queue_id);
                acked.fetch_add(1, Ordering::SeqCst);
                break;
            }
            client = None;
            let pause = {
                let mut book = book.lock().expect("no client panicked");
                match sent {
                    Sent::Replied(code, text) => {
                        // 421 while the daemon shuts down, 451 if a commit failed: send it
                        // again after a pause.
                        assert!(code / 100 == 4, "message {seq}: {code} {text}");
                        book.resent_safely += 1;
                        true
                    }
                    Sent::BrokeBefore => {
                        book.resent_safely += 1;
                        false
                    }
                    Sent::BrokeAfter => {
                        *book.uncertain.entry(message_id.clone()).or_insert(0) += 1;
                        false
                    }
                }
            };
            if pause {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// A small post with its own Message-ID.
fn message(message_id: &str, seq: usize) -> Vec<u8> {
    let mut text = format!(
        "From: Poster <{SENDER}>\r\nTo: {LIST}\r\nSubject: crash test {seq}\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
    );
    for line in 0..12 {
        text.push_str(&format!(
            "Line {line} of message {seq}: nothing to see here, move on.\r\n"
        ));
    }
    text.into_bytes()
}

/// A tiny xorshift generator: the kill points need variety, not quality.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}
