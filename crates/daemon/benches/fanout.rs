//! Delivery benchmark: the real `mailcast serve` (release build) fanning out to Postfix's
//! `smtp-sink` on a loopback port, as the members' mail server.
//!
//! Scenarios, each run several times on a fresh daemon process:
//! - **bulk**: one post to a 100,000-member list (`[smtp] max_recipients` = 500 per
//!   transaction, 8 connections);
//! - **personalized**: the same list with `personalize = individual` (one rendered copy and
//!   one transaction per member, batches of 100);
//! - **small**: 100 posts, one after another on one LMTP connection, to a 1-member list.
//!
//! Figures: recipients/s of the fan-out (the daemon's own measure, from the job's start to its
//! end, as logged), time from the LMTP reply to the last message the sink accepted, the
//! daemon's peak RSS (`VmHWM`), and CPU time: the daemon's (user + system, from `/proc`, from
//! the post to the end of the job) per recipient, and smtp-sink's per transaction. CPU times
//! are the figures to compare on a shared machine: wall-clock rates move with the load, CPU
//! per recipient barely does. For `small`: time from the first LMTP DATA to the 100th message
//! at the sink. Medians over the runs are printed as a table.
//!
//! DKIM signing (`FANOUT_DKIM=none,rsa,ed25519`, default all three): each big-list scenario
//! runs unsigned and signed with an RSA-2048 and an Ed25519 key of the list domain (made by
//! `mailcast dkim keygen`), runs interleaved so the machine's drift hits every mode alike. The
//! table gives each signed row's cost against the unsigned row of the same scenario measured
//! in the same run: the CPU ratio and the extra daemon CPU per signature (a bulk job is signed
//! once, a personalized job once per copy).
//!
//! Run when the machine is quiet (the load average is printed first):
//! `cargo bench -p mailcast --bench fanout` (`FANOUT_RUNS=n` sets the runs per scenario,
//! default 3; `FANOUT_MEMBERS=n` the size of the big list, default 100,000;
//! `FANOUT_SCENARIOS=bulk,personalized,small` picks scenarios). Needs
//! `/usr/sbin/smtp-sink` (Postfix); the site lives under the target directory on the real
//! disk, not tmpfs, because the spool's fsyncs are part of the cost.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailcast_outbound::protocol::SessionConfig;
use mailcast_outbound::{Connection, Envelope, Target, Timeouts};

#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use smtp_sink::{SMTP_SINK, SmtpSink};

const BIG: &str = "big@bench.example";
const SMALL: &str = "small@bench.example";
const POSTER: &str = "poster@outside.example";
/// How long any scenario may take before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(600);

fn main() {
    if !Path::new(SMTP_SINK).exists() {
        eprintln!("{SMTP_SINK} is missing (install Postfix); skipping the fan-out benchmark");
        return;
    }
    let runs: usize = env_number("FANOUT_RUNS", 3);
    let members: usize = env_number("FANOUT_MEMBERS", 100_000);
    println!("load average: {}", load_average());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let scenarios =
        std::env::var("FANOUT_SCENARIOS").unwrap_or_else(|_| "bulk,personalized,small".into());
    let wanted = |name: &str| scenarios.split(',').any(|s| s.trim() == name);
    let site = Site::create(members);
    let signings: Vec<Signing> = std::env::var("FANOUT_DKIM")
        .unwrap_or_else(|_| "none,rsa,ed25519".into())
        .split(',')
        .map(|name| Signing::parse(name.trim()))
        .collect();
    let mut table = Vec::new();
    for (name, personalize) in [("bulk", "none"), ("personalized", "individual")] {
        if !wanted(name) {
            continue;
        }
        site.cli(&["lists", "set", BIG, &format!("personalize={personalize}")]);
        let mut results: Vec<(Signing, Vec<BigRun>)> =
            signings.iter().map(|&s| (s, Vec::new())).collect();
        for run in 0..runs {
            for (signing, runs_of_mode) in &mut results {
                site.sign_with(*signing);
                let result = runtime.block_on(big_run(&site, members));
                println!(
                    "{name} {} run {}: {:.0} recipients/s, last recipient after {:.2} s, peak RSS {} MB, \
                     daemon {:.1} µs CPU/recipient, smtp-sink {:.1} µs CPU/transaction",
                    signing.label(),
                    run + 1,
                    result.rate,
                    result.to_last.as_secs_f64(),
                    result.peak_rss_kb / 1024,
                    result.daemon_cpu_us,
                    result.sink_cpu_us,
                );
                runs_of_mode.push(result);
            }
        }
        table.push((name, results));
    }
    site.sign_with(Signing::None);
    let small_runs = if wanted("small") { runs } else { 0 };
    let small: Vec<Duration> = (0..small_runs)
        .map(|run| {
            let elapsed = runtime.block_on(small_run(&site));
            println!(
                "small run {}: 100 posts delivered {:.3} s after the first DATA",
                run + 1,
                elapsed.as_secs_f64()
            );
            elapsed
        })
        .collect();

    println!();
    println!(
        "medians of {runs} runs, {members} members, smtp-sink on 127.0.0.1, {} cores",
        cores()
    );
    println!(
        "| scenario | DKIM | recipients/s | time to last recipient | daemon peak RSS | daemon CPU/recipient | vs unsigned | CPU/signature | smtp-sink CPU/transaction |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, modes) in &table {
        let unsigned = modes
            .iter()
            .find(|(s, _)| *s == Signing::None)
            .map(|(_, r)| median(r.iter().map(|r| r.daemon_cpu_us).collect()));
        for (signing, results) in modes {
            let rate = median(results.iter().map(|r| r.rate).collect());
            let last = median(results.iter().map(|r| r.to_last.as_secs_f64()).collect());
            let rss = median(results.iter().map(|r| r.peak_rss_kb as f64).collect());
            let daemon = median(results.iter().map(|r| r.daemon_cpu_us).collect());
            let sink = median(results.iter().map(|r| r.sink_cpu_us).collect());
            // A bulk job is signed once; a personalized one once per copy.
            let signatures = match *name {
                "bulk" => 1.0,
                _ => members as f64,
            };
            let (ratio, per_signature) = match (unsigned, signing) {
                (Some(base), Signing::Rsa | Signing::Ed25519) => (
                    format!("{:+.1}%", (daemon / base - 1.0) * 100.0),
                    format!("{:.1} µs", (daemon - base) * members as f64 / signatures),
                ),
                _ => ("-".to_string(), "-".to_string()),
            };
            println!(
                "| {name} | {} | {rate:.0} | {last:.2} s | {:.1} MB | {daemon:.1} µs | {ratio} | {per_signature} | {sink:.1} µs |",
                signing.label(),
                rss / 1024.0
            );
        }
    }
    if !small.is_empty() {
        let small = median(small.iter().map(Duration::as_secs_f64).collect());
        println!(
            "| 100 posts to a 1-member list | - | {small:.3} s from the first DATA | - | - | - |"
        );
    }
    println!("load average at the end: {}", load_average());
}

/// What one run of a big-list scenario measured.
struct BigRun {
    /// Recipients per second over the fan-out, as the daemon measured it.
    rate: f64,
    /// From the LMTP reply to the last message at the sink.
    to_last: Duration,
    /// The daemon's peak resident set, in KiB.
    peak_rss_kb: u64,
    /// The daemon's CPU time (user + system) from the post to the end of the job, in
    /// microseconds per recipient.
    daemon_cpu_us: f64,
    /// smtp-sink's CPU time over the run, in microseconds per transaction.
    sink_cpu_us: f64,
}

async fn big_run(site: &Site, members: usize) -> BigRun {
    let sink = SmtpSink::start(site.smtp_port);
    let daemon = site.serve();
    let cpu_before = cpu_seconds(daemon.child.id());
    let (_, accepted) = post(site, BIG, 1).await;
    let finished = daemon.wait_for_log("delivery job finished");
    let daemon_cpu = cpu_seconds(daemon.child.id()) - cpu_before;
    let transactions = field(&finished, "transactions").unwrap_or(0.0) as u64;
    let to_last = sink.reached(transactions) - accepted;
    let sink_cpu = cpu_seconds(sink.child.id());
    let peak_rss_kb = daemon.peak_rss_kb();
    let seconds = field(&finished, "seconds").unwrap_or(f64::NAN);
    let delivered = field(&finished, "delivered").unwrap_or(0.0);
    assert_eq!(
        delivered as usize, members,
        "every member delivered: {finished}"
    );
    daemon.stop();
    BigRun {
        rate: delivered / seconds,
        to_last,
        peak_rss_kb,
        daemon_cpu_us: daemon_cpu * 1e6 / delivered,
        sink_cpu_us: sink_cpu * 1e6 / transactions as f64,
    }
}

async fn small_run(site: &Site) -> Duration {
    let sink = SmtpSink::start(site.smtp_port);
    let daemon = site.serve();
    let (first_data, _) = post(site, SMALL, 100).await;
    let elapsed = sink.reached(100) - first_data;
    daemon.stop();
    elapsed
}

/// Sends `count` posts to `list` over one LMTP connection, one after another; returns when
/// the first DATA went out and when the last reply came back.
async fn post(site: &Site, list: &str, count: usize) -> (Instant, Instant) {
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port: site.lmtp_port,
    };
    let config = SessionConfig {
        helo_name: "bench.client".into(),
        lmtp: true,
        use_chunking: false,
    };
    let mut connection = Connection::connect(&target, config, Timeouts::default())
        .await
        .expect("connect to the daemon's LMTP port");
    let envelope = Envelope::new(POSTER, [list]);
    let first = Instant::now();
    let mut last = first;
    for n in 0..count {
        let outcomes = connection
            .send(&envelope, &message(list, n))
            .await
            .expect("an LMTP transaction");
        assert!(
            outcomes.iter().all(|o| o.is_delivered()),
            "post refused: {outcomes:?}"
        );
        last = Instant::now();
    }
    connection.quit().await;
    (first, last)
}

/// A realistic post of about 4 KB.
fn message(list: &str, n: usize) -> Vec<u8> {
    let mut text = format!(
        "From: Poster <{POSTER}>\r\nTo: {list}\r\nSubject: Benchmark post {n}\r\n\
         Message-ID: <bench-{n}-{}@outside.example>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        std::process::id()
    );
    let mut line = 0;
    while text.len() < 4096 - 80 {
        text.push_str(&format!(
            "Line {line:04} of the benchmark post, long enough to be a realistic line.\r\n"
        ));
        line += 1;
    }
    text.into_bytes()
}

/// A site on the real disk: config, database with the two lists, ports.
struct Site {
    dir: PathBuf,
    config: PathBuf,
    lmtp_port: u16,
    rest_port: u16,
    smtp_port: u16,
}

/// How the big list's mail is signed in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    None,
    Rsa,
    Ed25519,
}

impl Signing {
    fn parse(name: &str) -> Signing {
        match name {
            "none" => Signing::None,
            "rsa" => Signing::Rsa,
            "ed25519" => Signing::Ed25519,
            other => panic!("FANOUT_DKIM: {other:?} is not one of none, rsa, ed25519"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Signing::None => "unsigned",
            Signing::Rsa => "RSA-2048",
            Signing::Ed25519 => "Ed25519",
        }
    }
}

impl Site {
    fn create(members: usize) -> Site {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("fanout-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the bench directory");
        let (lmtp_port, rest_port, smtp_port) = (free_port(), free_port(), free_port());
        let config = dir.join("mailcast.toml");
        let site = Site {
            dir,
            config,
            lmtp_port,
            rest_port,
            smtp_port,
        };
        site.write_config("");
        site.cli(&["domains", "add", "bench.example"]);
        for list in [BIG, SMALL] {
            site.cli(&["lists", "create", list]);
            site.cli(&["lists", "set", list, "default_nonmember_action=accept"]);
        }
        let roster: String = (0..members)
            .map(|i| format!("Member {i} <member{i:06}@d{}.example>\n", i % 1000))
            .collect();
        let file = site.dir.join("members.txt");
        std::fs::write(&file, roster).expect("write the roster");
        let started = Instant::now();
        site.cli(&[
            "members",
            "add",
            BIG,
            "--file",
            file.to_str().expect("a UTF-8 path"),
        ]);
        println!(
            "imported {members} members in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        site.cli(&["members", "add", SMALL, "only@one.example"]);
        site
    }

    /// Writes the config, with `extra` appended (the DKIM table of a signed run).
    fn write_config(&self, extra: &str) {
        let (lmtp_port, rest_port, smtp_port) = (self.lmtp_port, self.rest_port, self.smtp_port);
        std::fs::write(
            &self.config,
            format!(
                "[paths]\nvar_dir = \"var\"\n[lmtp]\nlisten = \"127.0.0.1:{lmtp_port}\"\n\
                 [smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nhelo_name = \"bench.example\"\n\
                 [rest]\nlisten = \"127.0.0.1:{rest_port}\"\n[site]\nhostname = \"bench.example\"\n\
                 [mta]\npostmap_command = \"true\"\n[maildir]\nenabled = false\n[logging]\nlevel = \"info\"\n{extra}"
            ),
        )
        .expect("write the config");
    }

    /// Configures the list domain's DKIM key for `signing` (made once per kind with
    /// `mailcast dkim keygen`), or none.
    fn sign_with(&self, signing: Signing) {
        let selector = match signing {
            Signing::None => return self.write_config(""),
            Signing::Rsa => "rsa",
            Signing::Ed25519 => "ed",
        };
        self.write_config("");
        let key = self
            .dir
            .join(format!("var/dkim/bench.example.{selector}.key"));
        if !key.exists() {
            let mut args = vec!["dkim", "keygen", "bench.example", selector];
            if signing == Signing::Ed25519 {
                args.push("--ed25519");
            }
            self.cli(&args);
        }
        self.write_config(&format!(
            "[dkim.\"bench.example\"]\nselector = \"{selector}\"\nkey = \"{}\"\n",
            key.display()
        ));
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_mailcast"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("MAILCAST_CONFIG")
            .output()
            .expect("run mailcast");
        assert!(
            out.status.success(),
            "mailcast {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `mailcast serve` and waits until it accepts LMTP connections.
    fn serve(&self) -> Daemon {
        let log = self.dir.join("daemon.log");
        let file = std::fs::File::create(&log).expect("create the daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_mailcast"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env_remove("MAILCAST_CONFIG")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start mailcast serve");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.lmtp_port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "mailcast serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, log }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running daemon; stopped with SIGTERM.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Waits until the log holds a line containing `needle`; returns it.
    fn wait_for_log(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "no {needle:?} in the daemon log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn peak_rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `key=value` number from a log line.
fn field(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The CPU time (user + system, all threads) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may contain spaces: count fields after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of the line: indices 11 and 12 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks as f64 / clock_ticks_per_second()
}

/// The unit of `/proc/<pid>/stat` times (USER_HZ), which Linux fixes at 100 on every
/// architecture this runs on.
fn clock_ticks_per_second() -> f64 {
    100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
