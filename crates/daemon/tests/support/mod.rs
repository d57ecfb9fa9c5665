//! Shared support for the end-to-end tests: a temporary installation ([`Site`]) with its own
//! var directory, SQLite database, ports and config file; the real `mailcast` binary run as
//! the daemon ([`Daemon`]) and as the CLI; an LMTP client ([`Lmtp`]) that reads the replies a
//! test needs; and small helpers to build messages and read what the in-process SMTP sink
//! (`mailcast_outbound::sink`) received.
//!
//! Black box only: nothing here reaches into the daemon's code. Tests wait for events with
//! generous deadlines (`wait_until`, `Sink::wait_for_recipients`) and never assert on timing.
//! Include it with `mod support;` from a test file.
#![allow(dead_code)] // Each test file uses its own part of this module.

/// NSD on loopback: the real DNS server of the DMARC, DKIM and ARC tests.
pub mod dkimpy;
pub mod nsd;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mailcast_outbound::sink::{Received, Sink};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long tests wait for something that should happen in well under a second.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A free TCP port on 127.0.0.1 (bound and released), never the same twice in one test
/// process, so a daemon's LMTP, HTTP and sink ports cannot collide.
///
/// It lies below the kernel's ephemeral range: a port from that range can meanwhile be taken
/// as the source port of some outgoing connection (the daemon then cannot bind it), and a
/// client reconnecting while nothing listens can even connect to itself.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let below = ephemeral_low().clamp(12_000, 65_535);
    for _ in 0..10_000 {
        let port = rand::random_range(10_000..below);
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port between 10000 and {below}");
}

/// The first port of the kernel's ephemeral range (Linux's default when unreadable).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A temporary installation: var dir, SQLite database, LMTP and HTTP ports, config file.
pub struct Site {
    dir: tempfile::TempDir,
    config_path: PathBuf,
    config: toml::Table,
    /// Where the daemon listens for LMTP.
    pub lmtp: SocketAddr,
    /// Where the daemon serves `/metrics`.
    pub rest: SocketAddr,
}

impl Site {
    /// A site whose members' mail goes to the SMTP server at `smtp_port` on 127.0.0.1 (a
    /// sink), with short retry delays, host name `lists.example.org`, site owner
    /// `postmaster@example.org`, no Maildir reader and no `postmap`.
    pub fn new(smtp_port: u16) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("mailcast.toml");
        let lmtp: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let rest: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let text = format!(
            r#"
[paths]
var_dir = "var"
[database]
url = "sqlite:var/mailcast.db"
[lmtp]
listen = "{lmtp}"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
helo_name = "lists.example.org"
retry_initial_delay = 1
retry_max_delay = 2
[rest]
listen = "{rest}"
[site]
hostname = "lists.example.org"
site_owner = "postmaster@example.org"
[mta]
postmap_command = "true"
[maildir]
enabled = false
[logging]
level = "info"
"#
        );
        let config: toml::Table = text.parse().expect("the base config parses");
        let site = Site {
            dir,
            config_path,
            config,
            lmtp,
            rest,
        };
        site.write_config();
        site
    }

    /// Sets `key` (`"table.name"`) in the config file, e.g. `("smtp.max_recipients", 2)`.
    /// Takes effect for commands and daemons started afterwards.
    pub fn set(&mut self, key: &str, value: impl Into<toml::Value>) {
        let (table, name) = key.split_once('.').expect("keys are table.name");
        let entry = self
            .config
            .entry(table)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        entry
            .as_table_mut()
            .expect("a table")
            .insert(name.to_string(), value.into());
        self.write_config();
    }

    fn write_config(&self) {
        std::fs::write(&self.config_path, self.config.to_string()).expect("write the config file");
    }

    /// The config file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// A path inside the site's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The database URL (for tests that prepare data the CLI cannot, such as bans).
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.path("var/mailcast.db").display())
    }

    /// Runs `mailcast --config <site> ARGS`.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, None)
    }

    /// Runs the CLI with `stdin` as its standard input (for `mailcast inject`).
    pub fn cli_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailcast"));
        command
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env_remove("MAILCAST_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("run mailcast");
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            std::io::Write::write_all(&mut pipe, input).expect("write stdin");
        }
        child.wait_with_output().expect("wait for mailcast")
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "mailcast {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail with one error line; returns that line.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            !out.status.success(),
            "mailcast {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "mailcast {args:?}: expected one error line, got {err:?}"
        );
        lines[0].to_string()
    }

    /// Creates `list` (and its domain) with these members, owners and moderators.
    pub fn create_list(&self, list: &str, members: &[&str], owners: &[&str], moderators: &[&str]) {
        let domain = list.split_once('@').expect("a list address").1;
        if !self
            .ok(&["domains", "list"])
            .lines()
            .any(|l| l.split('\t').next() == Some(domain))
        {
            self.ok(&["domains", "add", domain]);
        }
        self.ok(&["lists", "create", list]);
        for (role, people) in [
            ("member", members),
            ("owner", owners),
            ("moderator", moderators),
        ] {
            if !people.is_empty() {
                let mut args = vec!["members", "add", list, "--role", role];
                args.extend_from_slice(people);
                self.ok(&args);
            }
        }
    }

    /// The number of entries in each spool stage (`mailcast queue list`).
    pub fn queue_counts(&self) -> Vec<(String, usize)> {
        self.ok(&["queue", "list"])
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                Some((parts.next()?.to_string(), parts.next()?.parse().ok()?))
            })
            .collect()
    }

    /// The number of entries in one stage.
    pub fn queue_count(&self, stage: &str) -> usize {
        self.queue_counts()
            .into_iter()
            .find(|(s, _)| s == stage)
            .map_or(0, |(_, n)| n)
    }

    /// Starts `mailcast serve` and waits until it accepts LMTP connections.
    pub async fn start(&self) -> Daemon {
        self.start_with_env(&[]).await
    }

    /// Starts `mailcast serve` with extra environment variables (for example libfaketime's
    /// `LD_PRELOAD` and `FAKETIME`: the daemon's clock runs ahead, see [`faketime`]).
    pub async fn start_with_env(&self, env: &[(&str, String)]) -> Daemon {
        let log = self.path(&format!("daemon-{}.log", free_port()));
        let file = std::fs::File::create(&log).expect("create the daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_mailcast"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("--config")
            .arg(&self.config_path)
            .arg("serve")
            .env_remove("MAILCAST_CONFIG")
            .env("RUST_LOG", "info,mailcast=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start mailcast serve");
        let mut daemon = Daemon { child, log };
        let started = Instant::now();
        loop {
            // A connection to itself (same source and destination port, possible while
            // nothing listens on a port of the ephemeral range) is not the daemon.
            if let Ok(probe) = TcpStream::connect(self.lmtp).await
                && probe.local_addr().ok() != probe.peer_addr().ok()
            {
                return daemon;
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!(
                    "mailcast serve exited with {status} during start-up:\n{}",
                    daemon.log()
                );
            }
            assert!(
                started.elapsed() < DEADLINE,
                "mailcast serve did not start:\n{}",
                daemon.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The environment that runs a process `offset` ahead (libfaketime, Debian's `faketime`
/// package, installed by `scripts/tools-install.sh`): `[("LD_PRELOAD", ..), ("FAKETIME", ..)]`.
pub fn faketime(offset: &str) -> Vec<(&'static str, String)> {
    let library = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
    assert!(
        Path::new(library).exists(),
        "{library} is missing: run scripts/tools-install.sh (Debian's faketime)"
    );
    vec![
        ("LD_PRELOAD", library.to_string()),
        ("FAKETIME", offset.to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
    ]
}

/// A clock for a daemon that a test moves while it runs: libfaketime reads the offset from a
/// file at every clock reading. `set` puts the daemon's "now" at a given instant.
pub struct TestClock {
    file: PathBuf,
}

impl TestClock {
    /// A clock whose offset lives in `file`, starting at no offset.
    pub fn new(file: PathBuf) -> TestClock {
        std::fs::write(&file, "+0").expect("write the clock file");
        TestClock { file }
    }

    /// The environment that makes a process read this clock.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = faketime("+0");
        env.retain(|(k, _)| *k != "FAKETIME");
        env.push(("FAKETIME_TIMESTAMP_FILE", self.file.display().to_string()));
        env.push(("FAKETIME_NO_CACHE", "1".to_string()));
        env
    }

    /// Moves the daemon's clock so that it reads `at` now (and runs on from there), and
    /// waits until a daemon must have seen the change.
    pub async fn set(&self, at: jiff::Timestamp) {
        let offset = at.as_second() - jiff::Timestamp::now().as_second();
        // Written whole and renamed, so that a reader never sees half a line.
        let next = self.file.with_extension("next");
        std::fs::write(&next, format!("{offset:+}")).expect("write the clock file");
        std::fs::rename(&next, &self.file).expect("replace the clock file");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running `mailcast serve`. Dropping it kills the process.
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it with SIGTERM (graceful shutdown) and waits; panics if it does not exit cleanly.
    pub async fn stop(self) {
        signal(self.child.id(), "TERM");
        self.wait_exit().await;
    }

    /// Waits for the process to exit on its own (after a signal sent elsewhere); panics unless
    /// it exits cleanly within the deadline.
    pub async fn wait_exit(mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for mailcast") {
                assert!(
                    status.success(),
                    "mailcast serve exited with {status}:\n{}",
                    self.log()
                );
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "mailcast serve did not exit:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it with SIGKILL (a crash) and waits until it is gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
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

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// One SMTP/LMTP reply: its code and its text lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text after the code (enhanced code included), lines joined with `\n`.
    pub text: String,
}

/// The replies of one LMTP transaction.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The reply to each RCPT TO, in order.
    pub rcpt: Vec<Reply>,
    /// The replies after the end of data, one per accepted recipient (empty if none was).
    pub data: Vec<Reply>,
}

/// A minimal LMTP client: one command at a time, no pipelining.
pub struct Lmtp {
    reader: BufReader<Box<dyn AsyncRead + Unpin + Send>>,
    writer: Box<dyn AsyncWrite + Unpin + Send>,
}

impl Lmtp {
    /// Connects over TCP, reads the greeting and says LHLO.
    pub async fn connect(addr: SocketAddr) -> Lmtp {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the LMTP server");
        Lmtp::over(stream).await
    }

    /// Speaks LMTP over an already connected stream (TCP or Unix): greeting, then LHLO.
    pub async fn over<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S) -> Lmtp {
        let (read, writer) = tokio::io::split(stream);
        let mut lmtp = Lmtp {
            reader: BufReader::new(Box::new(read)),
            writer: Box::new(writer),
        };
        let greeting = lmtp.reply().await;
        assert_eq!(greeting.code, 220, "{greeting:?}");
        let hello = lmtp.command("LHLO client.example.net").await;
        assert_eq!(hello.code, 250, "{hello:?}");
        lmtp
    }

    /// Writes raw bytes (no reply is read).
    pub async fn raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .await
            .expect("write to the server");
    }

    /// Sends one command line and reads its reply.
    pub async fn command(&mut self, line: &str) -> Reply {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write a command");
        self.reply().await
    }

    /// Reads one (possibly multi-line) reply.
    pub async fn reply(&mut self) -> Reply {
        let mut text = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .await
                .expect("read a reply");
            assert!(n > 0, "the server closed the connection");
            let line = line.trim_end_matches(['\r', '\n']);
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("bad reply {line:?}"));
            text.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Reply {
                    code,
                    text: text.join("\n"),
                };
            }
        }
    }

    /// One transaction: MAIL FROM, each RCPT TO, and (if any recipient was accepted) DATA with
    /// the message, dot-stuffed, reading one reply per accepted recipient.
    pub async fn send(&mut self, from: &str, rcpts: &[&str], message: &[u8]) -> Delivery {
        let mail = self.command(&format!("MAIL FROM:<{from}>")).await;
        assert_eq!(mail.code, 250, "{mail:?}");
        let mut rcpt = Vec::new();
        for to in rcpts {
            rcpt.push(self.command(&format!("RCPT TO:<{to}>")).await);
        }
        let accepted = rcpt.iter().filter(|r| r.code == 250).count();
        if accepted == 0 {
            let reset = self.command("RSET").await;
            assert_eq!(reset.code, 250, "{reset:?}");
            return Delivery {
                rcpt,
                data: Vec::new(),
            };
        }
        let go = self.command("DATA").await;
        assert_eq!(go.code, 354, "{go:?}");
        self.writer
            .write_all(&dot_stuff(message))
            .await
            .expect("write the message");
        self.writer
            .write_all(b".\r\n")
            .await
            .expect("write the end of data");
        let mut data = Vec::new();
        for _ in 0..accepted {
            data.push(self.reply().await);
        }
        Delivery { rcpt, data }
    }

    /// Says QUIT.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }
}

/// Posts `message` from `from` to the single recipient `to` over LMTP; returns the reply that
/// decided it (the end-of-data reply, or the RCPT refusal).
pub async fn post(addr: SocketAddr, from: &str, to: &str, message: &[u8]) -> Reply {
    let mut lmtp = Lmtp::connect(addr).await;
    let delivery = lmtp.send(from, &[to], message).await;
    lmtp.quit().await;
    delivery
        .data
        .into_iter()
        .next()
        .unwrap_or_else(|| delivery.rcpt[0].clone())
}

/// A plain-text message with CRLF line ends.
pub fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    message_with(from, to, subject, &[], body)
}

/// Makes the Message-IDs of [`message_with`] unique within the test process.
static MESSAGE_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A plain-text message with extra header fields (`"Name: value"`).
pub fn message_with(from: &str, to: &str, subject: &str, extra: &[&str], body: &str) -> Vec<u8> {
    let mut text = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{}.{}@client.example.net>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n",
        std::process::id(),
        MESSAGE_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    for field in extra {
        text.push_str(field);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(&body.replace("\r\n", "\n").replace('\n', "\r\n"));
    if !text.ends_with("\r\n") {
        text.push_str("\r\n");
    }
    text.into_bytes()
}

fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Polls `condition` until it holds; panics with `what` after [`DEADLINE`].
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The transactions the sink received for `rcpt` (case-insensitive).
pub fn received_by<'a>(received: &'a [Received], rcpt: &str) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|r| r.rcpts.iter().any(|x| x.eq_ignore_ascii_case(rcpt)))
        .collect()
}

/// The value of the first header field `name` of a message (unfolded), if any.
pub fn header(data: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push_str(line);
                continue;
            }
            break;
        }
        if let Some((field, rest)) = line.split_once(':')
            && field.eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim_start().to_string());
        }
    }
    value.map(|v| v.trim_end().to_string())
}

/// The body of a message (after the first empty line).
pub fn body(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    text.split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string())
}

/// Starts a sink on a free port.
pub async fn start_sink(config: mailcast_outbound::sink::SinkConfig) -> Sink {
    Sink::start(config).await.expect("start the SMTP sink")
}

/// The sink's port.
pub fn sink_port(sink: &Sink) -> u16 {
    match sink.target() {
        mailcast_outbound::Target::Tcp { port, .. } => port,
        other => panic!("the sink listens on {other:?}, not TCP"),
    }
}

/// The value of a series in the daemon's `/metrics` page (0 when absent).
pub async fn metric(site: &Site, series: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(site.rest)
        .await
        .expect("connect to /metrics");
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", site.rest);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut page = String::new();
    stream
        .read_to_string(&mut page)
        .await
        .expect("read /metrics");
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// One HTTP/1.1 request (blocking, `Connection: close`): the status, the header lines and the
/// body. `auth` sends the REST API's default credentials.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: bool,
    content_type: &str,
    body: &str,
) -> (u16, Vec<String>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the HTTP server");
    let authorization = if auth {
        "Authorization: Basic cmVzdGFkbWluOnJlc3RwYXNz\r\n"
    } else {
        ""
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:9001\r\n{authorization}Connection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send");
    stream.write_all(body.as_bytes()).expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    (
        status,
        lines.map(str::to_string).collect(),
        body.to_string(),
    )
}
