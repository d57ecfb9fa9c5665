//! Durable-commit benchmark, all parts in one run on the same disk:
//!
//! (a) the raw floor: append 4 KB records to one file, one fdatasync per batch of 16 / 64;
//! (b) the spool's group commit with 1, 4 and 16 concurrent submitters of 4 KB messages
//!     (median messages/s over several runs, p50/p99 submit-to-ack latency, messages per
//!     sync, and the CPU time of the whole process per message, measured until the committer
//!     has shut down, i.e. including the files written for every entry); the `consumed` row
//!     adds a thread that removes each entry as soon as it is committed, as the daemon's
//!     runners do, so that no file is ever written for it;
//! (c) one file per message: write, fsync, rename, directory fsync;
//! (d) the checkpoint's choice: syncfs() versus fsync of every touched file and directory;
//! (e) how the materializer creates files: CPU per entry (a 4 KB body and a 600-byte
//!     envelope in 256 bucket directories) for `tmp/` + cross-directory rename (as before),
//!     body written in place + envelope through `tmp/`, body in place + envelope through a
//!     temporary name in its bucket, and body in place + envelope as `O_TMPFILE` + `linkat`.
//!
//! Run: `cargo bench -p mailcast-spool --bench commit` (data goes under the target directory,
//! on the project's disk, never tmpfs; set SPOOL_BENCH_DIR to choose another place, and
//! SPOOL_BENCH_PARTS to a subset of "abcde", "x" adds a no-fsync row to (b)).
//!
//! On this machine's ext4 (no journal) creating files right after deleting many costs much
//! more CPU (the inode allocator skips recently deleted inodes), and the bench deletes its
//! previous data at start: CPU figures of (b) and (e) are lower when the directory is new.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mailcast_spool::{
    CommitterOptions, Envelope, FaultInjector, Options, Spool, Stage, Submission,
};
use rustix::fs::{AtFlags, CWD, Mode, OFlags};

const MESSAGE_SIZE: usize = 4096;
const RUNS: usize = 3;

fn main() {
    let base = std::env::var_os("SPOOL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/spool-bench"));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).unwrap();
    println!(
        "spool commit benchmark in {} ({} B messages)",
        base.display(),
        MESSAGE_SIZE
    );
    let message = sample_message();
    let parts = std::env::var("SPOOL_BENCH_PARTS").unwrap_or_else(|_| "abcde".into());

    let floor16 = raw_floor(&base, &message, 16, 8192);
    // (The floor is always measured: the other parts are reported against it.)
    let floor64 = raw_floor(&base, &message, 64, 16384);
    println!();
    println!(
        "{:<52} {:>10}",
        "(a) raw floor: append + fdatasync per batch", "msg/s"
    );
    println!("{:<52} {:>10.0}", "    batch of 16", floor16);
    println!("{:<52} {:>10.0}", "    batch of 64", floor64);

    println!();
    println!(
        "{:<26} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "(b) spool group commit", "msg/s", "p50 ms", "p99 ms", "/floor*", "msg/sync", "cpu us"
    );
    let mut configs = Vec::new();
    if parts.contains('b') {
        configs.extend([
            (1, true, false),
            (4, true, false),
            (16, true, false),
            (16, true, true),
        ]);
    }
    if parts.contains('x') {
        configs.push((16, false, false));
    }
    for (submitters, fsync, consume) in configs {
        let per_thread = match submitters {
            1 => 1500,
            4 => 1500,
            _ => 1000,
        };
        // One spool per configuration, warmed up first so that the bucket directories exist
        // (creating one costs a directory fsync, once in the life of a spool).
        let root = base.join(format!("g{submitters}-{fsync}-{consume}"));
        let load = Load {
            submitters,
            per_thread: 1000 / submitters,
            fsync,
            consume,
        };
        group_commit(&root, &message, &load);
        // The shared disk's latency drifts with other load, so each run is paired with a
        // floor measured just before it, and the ratio is the median of the pairs.
        let mut runs: Vec<RunResult> = (0..RUNS)
            .map(|_| {
                let floor = raw_floor(&base, &message, 16, 2048);
                let load = Load { per_thread, ..load };
                let mut run = group_commit(&root, &message, &load);
                run.floor_ratio = run.rate / floor;
                run
            })
            .collect();
        let mut ratios: Vec<f64> = runs.iter().map(|r| r.floor_ratio).collect();
        ratios.sort_by(f64::total_cmp);
        runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        let median = &runs[RUNS / 2];
        let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu_us).collect();
        cpu.sort_by(f64::total_cmp);
        println!(
            "{:<26} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>9.0}",
            format!(
                "    {submitters} submitter(s){}{}",
                if fsync { "" } else { ", no fsync" },
                if consume { ", consumed" } else { "" }
            ),
            median.rate,
            ms(median.p50),
            ms(median.p99),
            ratios[RUNS / 2],
            median.mean_batch,
            cpu[RUNS / 2],
        );
    }
    println!("    (* /floor: median of rate / batch-of-16 floor measured right before each run;");
    println!("     cpu us: process CPU per message until shutdown, files included; median)");

    if !parts.contains('c') {
        return;
    }
    let per_file = file_per_message(&base.join("files"), &message, 600);
    println!();
    println!(
        "{:<52} {:>10}",
        "(c) one file per message (fsync+rename+dir fsync)", "msg/s"
    );
    println!(
        "{:<52} {:>10.0}   ({:.3} of floor16)",
        "    sequential",
        per_file,
        per_file / floor16
    );

    println!();
    println!(
        "{:<52} {:>10}",
        "(d) checkpoint of 5000 materialized entries", "ms"
    );
    let (syncfs_ms, each_ms) = checkpoint_choice(&base.join("ckpt"), &message, 5000);
    println!("{:<52} {:>10.1}", "    syncfs()", syncfs_ms);
    println!(
        "{:<52} {:>10.1}",
        "    fsync of each file and bucket directory", each_ms
    );

    if parts.contains('e') {
        println!();
        println!(
            "{:<52} {:>10}",
            "(e) materializer file creation, 2000 entries x 3", "cpu us"
        );
        for (name, cpu) in creation_strategies(&base.join("create"), &message, 2000, 3) {
            println!("{:<52} {:>10.1}", format!("    {name}"), cpu);
        }
    }
    let _ = fs::remove_dir_all(&base);
}

fn sample_message() -> Vec<u8> {
    let mut message =
        b"From: a@example.org\r\nTo: ann@lists.example.org\r\nSubject: bench\r\n\r\n".to_vec();
    while message.len() < MESSAGE_SIZE - 2 {
        message.extend_from_slice(b"The quick brown fox jumps over the lazy dog. 0123456789\r\n");
    }
    message.truncate(MESSAGE_SIZE - 2);
    message.extend_from_slice(b"\r\n");
    message
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (a) Appends `n` records of the message size, fdatasync every `batch`; messages per second.
fn raw_floor(base: &Path, message: &[u8], batch: usize, n: usize) -> f64 {
    let path = base.join(format!("floor-{batch}.log"));
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let mut buffer = Vec::with_capacity(batch * message.len());
    let start = Instant::now();
    for _ in 0..n / batch {
        buffer.clear();
        for _ in 0..batch {
            buffer.extend_from_slice(message);
        }
        file.write_all(&buffer).unwrap();
        file.sync_data().unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    fs::remove_file(path).unwrap();
    rate
}

struct RunResult {
    rate: f64,
    /// `rate` over the batch-of-16 floor measured just before the run.
    floor_ratio: f64,
    p50: Duration,
    p99: Duration,
    mean_batch: f64,
    /// Process CPU time per message, until the committer has shut down.
    cpu_us: f64,
}

/// What one run of (b) does.
#[derive(Clone, Copy)]
struct Load {
    submitters: usize,
    per_thread: usize,
    fsync: bool,
    /// Remove each entry right after its commit (as the daemon's runners do).
    consume: bool,
}

/// CPU time (user + system) of this process so far, in microseconds.
fn process_cpu_us() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 1e6 / 100.0 // USER_HZ is 100 on Linux.
}

/// (b) `submitters` threads each commit `per_thread` messages through one committer.
fn group_commit(root: &Path, message: &[u8], load: &Load) -> RunResult {
    let Load {
        submitters,
        per_thread,
        fsync,
        consume,
    } = *load;
    let faults = FaultInjector::new(); // Nothing armed: used to count the syncs.
    let options = Options {
        fsync,
        faults: Some(faults.clone()),
        ..Options::default()
    };
    let spool = Spool::open(root, options).unwrap();
    spool.recover().unwrap();
    let total = submitters * per_thread;
    let (ctx, crx) = mpsc::channel();
    let committer = spool
        .start_committer(CommitterOptions {
            on_committed: consume.then(|| -> mailcast_spool::CommittedFn {
                Box::new(move |stage, id| {
                    let _ = ctx.send((stage, id.clone()));
                })
            }),
            ..CommitterOptions::default()
        })
        .unwrap();
    let consumer = thread::spawn({
        let spool = spool.clone();
        move || {
            for (stage, id) in crx {
                spool.remove(stage, &id).unwrap();
            }
        }
    });
    let (_, syncs_before) = faults.counts();
    let cpu_before = process_cpu_us();
    let start = Instant::now();
    let latencies: Vec<Duration> = thread::scope(|scope| {
        let handles: Vec<_> = (0..submitters)
            .map(|_| {
                let committer = committer.clone();
                scope.spawn(move || {
                    let mut latencies = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let envelope = Envelope::new(
                            Stage::Incoming,
                            "ann@lists.example.org",
                            "a@example.org",
                            "ann@lists.example.org",
                        );
                        let submission = Submission::new(message.to_vec(), vec![envelope]);
                        let t = Instant::now();
                        committer.submit_wait(submission).unwrap();
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let elapsed = start.elapsed();
    let (_, syncs_after) = faults.counts();
    committer.shutdown().unwrap();
    consumer.join().unwrap();
    let cpu_us = (process_cpu_us() - cpu_before) / total as f64;
    let mut sorted = latencies;
    sorted.sort();
    let p = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q) as usize];
    let rate = total as f64 / elapsed.as_secs_f64();
    // Messages per sync call (fdatasync of the log, plus the few segment and checkpoint syncs).
    let mean_batch = total as f64 / (syncs_after - syncs_before).max(1) as f64;
    RunResult {
        rate,
        floor_ratio: 0.0,
        p50: p(0.5),
        p99: p(0.99),
        mean_batch,
        cpu_us,
    }
}

/// (c) Sequential one-file-per-message commits; messages per second.
fn file_per_message(dir: &Path, message: &[u8], n: usize) -> f64 {
    fs::create_dir_all(dir.join("tmp")).unwrap();
    fs::create_dir_all(dir.join("q")).unwrap();
    let start = Instant::now();
    for i in 0..n {
        let tmp = dir.join("tmp").join(format!("{i}"));
        let mut file = File::create(&tmp).unwrap();
        file.write_all(message).unwrap();
        file.sync_all().unwrap();
        fs::rename(&tmp, dir.join("q").join(format!("{i}.msg"))).unwrap();
        File::open(dir.join("q")).unwrap().sync_all().unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = fs::remove_dir_all(dir);
    rate
}

/// (d) Writes `n` entries (body + small envelope, 256 buckets) without fsync, then makes them
/// durable with syncfs(); repeats with fresh files and fsyncs each file and directory.
fn checkpoint_choice(dir: &Path, message: &[u8], n: usize) -> (f64, f64) {
    let write_all = |sub: &str| -> Vec<PathBuf> {
        let mut paths = Vec::new();
        for i in 0..n {
            let bucket = dir.join(sub).join(format!("{:02x}", i % 256));
            fs::create_dir_all(&bucket).unwrap();
            let body = bucket.join(format!("{i}.eml"));
            fs::write(&body, message).unwrap();
            let envelope = bucket.join(format!("{i}.json"));
            fs::write(&envelope, br#"{"version":1,"id":"x","stage":"incoming"}"#).unwrap();
            paths.push(body);
            paths.push(envelope);
        }
        paths
    };
    // Start from a clean page cache state for the file system as far as we can.
    rustix::fs::syncfs(File::open(dir.parent().unwrap()).unwrap()).unwrap();
    write_all("a");
    let start = Instant::now();
    rustix::fs::syncfs(File::open(dir).unwrap()).unwrap();
    let syncfs_ms = ms(start.elapsed());

    let paths = write_all("b");
    let start = Instant::now();
    for path in &paths {
        File::open(path).unwrap().sync_all().unwrap();
    }
    for i in 0..256.min(n) {
        File::open(dir.join("b").join(format!("{i:02x}")))
            .unwrap()
            .sync_all()
            .unwrap();
    }
    File::open(dir.join("b")).unwrap().sync_all().unwrap();
    let each_ms = ms(start.elapsed());
    let _ = fs::remove_dir_all(dir);
    (syncfs_ms, each_ms)
}

/// CPU time of the calling thread so far, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let stat = fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    stat.split_whitespace().next().unwrap().parse().unwrap()
}

/// (e) Creates `n` entries (body + envelope) per strategy and round, strategies interleaved
/// and nothing deleted until the end (deleting makes later creations dearer on this file
/// system); returns the mean CPU time per entry of each strategy, in microseconds.
fn creation_strategies(
    dir: &Path,
    body: &[u8],
    n: usize,
    rounds: usize,
) -> Vec<(&'static str, f64)> {
    let envelope = vec![b' '; 600];
    let names = [
        "tmp/ + rename, both files (before)",
        "body in place, envelope tmp/ + rename",
        "body in place, envelope in-bucket name + rename",
        "body in place, envelope O_TMPFILE + linkat (now)",
    ];
    let mut totals = vec![0u64; names.len()];
    for round in 0..rounds {
        for (strategy, total) in totals.iter_mut().enumerate() {
            let root = dir.join(format!("r{round}-s{strategy}"));
            fs::create_dir_all(root.join("tmp")).unwrap();
            for bucket in 0..256 {
                fs::create_dir_all(root.join("messages").join(format!("{bucket:02x}"))).unwrap();
                fs::create_dir_all(root.join("incoming").join(format!("{bucket:02x}"))).unwrap();
            }
            let before = thread_cpu_ns();
            for i in 0..n {
                let bucket = format!("{:02x}", (i * 37) % 256);
                let name = format!("{i:013x}-9a3c01fe");
                let body_path = root
                    .join("messages")
                    .join(&bucket)
                    .join(format!("{name}.eml"));
                let envelope_path = root
                    .join("incoming")
                    .join(&bucket)
                    .join(format!("{name}.json"));
                let via_tmp = |bytes: &[u8], target: &Path, tmp: PathBuf| {
                    let mut file = File::create(&tmp).unwrap();
                    file.write_all(bytes).unwrap();
                    drop(file);
                    fs::rename(&tmp, target).unwrap();
                };
                if strategy == 0 {
                    via_tmp(body, &body_path, root.join("tmp").join(format!("{name}.b")));
                } else {
                    let mut file = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&body_path)
                        .unwrap();
                    file.write_all(body).unwrap();
                }
                match strategy {
                    0 | 1 => via_tmp(&envelope, &envelope_path, root.join("tmp").join(&name)),
                    2 => via_tmp(
                        &envelope,
                        &envelope_path,
                        envelope_path.with_extension("new"),
                    ),
                    _ => {
                        let fd = rustix::fs::openat(
                            CWD,
                            envelope_path.parent().unwrap(),
                            OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
                            Mode::from_raw_mode(0o644),
                        )
                        .unwrap();
                        let mut file = File::from(fd);
                        file.write_all(&envelope).unwrap();
                        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
                        rustix::fs::linkat(
                            CWD,
                            proc_path.as_str(),
                            CWD,
                            &envelope_path,
                            AtFlags::SYMLINK_FOLLOW,
                        )
                        .unwrap();
                    }
                }
            }
            *total += thread_cpu_ns() - before;
        }
    }
    let per_entry = (rounds * n) as f64 * 1000.0;
    let out = names
        .iter()
        .zip(totals)
        .map(|(name, total)| (*name, total as f64 / per_entry))
        .collect();
    let _ = fs::remove_dir_all(dir);
    out
}
