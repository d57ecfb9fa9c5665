//! Throughput of the LMTP session, without I/O: how fast DATA content is decoded (the path a
//! 32 MiB post takes) and how many small pipelined transactions per second it handles.
//!
//! Run with `cargo bench -p mailcast-proto --bench session`. Prints one line per case; no
//! framework, so the numbers are rough (best of five runs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailcast_proto::Reply;
use mailcast_proto::lmtp::{Config, Session, Step, Verdict};

/// Feeds `input` in `read`-sized pieces, accepting everything; returns the bytes delivered.
fn drive(config: &Arc<Config>, input: &[u8], read: usize, spill: bool) -> u64 {
    let mut session = Session::new(config.clone());
    session.greeting();
    let mut pieces = input.chunks(read);
    let mut delivered = 0;
    loop {
        match session.poll() {
            Step::NeedInput => {
                if spill && session.body_len() >= 1 << 20 {
                    delivered += session.take_body().len() as u64;
                }
                session.take_output();
                match pieces.next() {
                    Some(piece) => session.feed(piece),
                    None => session.eof(),
                }
            }
            Step::Rcpt(_) => session.answer_rcpt(Verdict::Accept).expect("pending RCPT"),
            Step::Message(tx) => {
                delivered += tx.body.len() as u64;
                let replies = vec![Reply::ok(); tx.recipients.len()];
                session
                    .answer_message(replies)
                    .expect("one reply per recipient");
            }
            Step::Close => return delivered,
        }
    }
}

fn best_of_five(mut run: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut result = 0;
    for _ in 0..5 {
        let start = Instant::now();
        result = std::hint::black_box(run());
        best = best.min(start.elapsed());
    }
    (best, result)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not: skip the work there.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let config = Arc::new(Config::default());

    // One 32 MiB message of 78-octet lines, some dot-stuffed, read 64 KiB at a time.
    let mut big =
        b"LHLO mta\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<l@lists.example>\r\nDATA\r\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again...\r\n";
    let mut body = 0;
    while body + line.len() < 32 * 1024 * 1024 - 1024 {
        if body % 7 == 0 {
            big.push(b'.');
        }
        big.extend_from_slice(line);
        body += line.len();
    }
    big.extend_from_slice(b".\r\nQUIT\r\n");
    let (time, delivered) = best_of_five(|| drive(&config, &big, 64 * 1024, true));
    println!(
        "DATA, 32 MiB body, 64 KiB reads: {:.0} MiB/s ({delivered} octets in {time:?})",
        delivered as f64 / time.as_secs_f64() / (1024.0 * 1024.0)
    );

    // 10,000 small pipelined transactions, three recipients each, in 4 KiB reads.
    let mut small = b"LHLO mta\r\n".to_vec();
    for _ in 0..10_000 {
        small.extend_from_slice(
            b"MAIL FROM:<a@example.com> BODY=8BITMIME SIZE=100\r\nRCPT TO:<dev@lists.example>\r\n\
              RCPT TO:<ops@lists.example>\r\nRCPT TO:<all@lists.example>\r\nDATA\r\n\
              Subject: hi\r\n\r\nShort post.\r\n.\r\n",
        );
    }
    small.extend_from_slice(b"QUIT\r\n");
    let (time, _) = best_of_five(|| drive(&config, &small, 4096, false));
    println!(
        "10,000 pipelined transactions (3 RCPT each), 4 KiB reads: {:.0} transactions/s ({time:?})",
        10_000.0 / time.as_secs_f64()
    );
}
