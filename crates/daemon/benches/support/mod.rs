//! What the end-to-end benchmarks share: a site directory with a config file, the real
//! `mailcast serve` and CLI, LMTP senders, and CPU and `/metrics` readings. Each benchmark
//! includes this module (`mod support;`); not every one uses every part.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailcast_outbound::sink::Sink;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A site under `root` (`<name>-<pid>-<n>`), removed when dropped.
pub struct Site {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub lmtp: std::net::SocketAddr,
    pub rest: std::net::SocketAddr,
}

impl Site {
    /// A site whose members' mail goes to `sink`, with the store at `database_url` and
    /// `extra` TOML appended to the config file.
    pub fn create(
        name: &str,
        root: Option<PathBuf>,
        sink: &Sink,
        database_url: &str,
        extra: &str,
    ) -> Site {
        let root = root.unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
        let dir = root.join(format!("{name}-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).expect("the site directory");
        let port = match sink.target() {
            mailcast_outbound::Target::Tcp { port, .. } => port,
            other => panic!("sink on {other:?}"),
        };
        let lmtp: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let rest: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = dir.join("mailcast.toml");
        std::fs::write(
            &config,
            format!(
                "[paths]\nvar_dir = \"var\"\n[database]\nurl = \"{database_url}\"\n[lmtp]\nlisten = \"{lmtp}\"\n\
                 [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nhelo_name = \"bench.example\"\n\
                 [rest]\nlisten = \"{rest}\"\n[mta]\npostmap_command = \"true\"\n[maildir]\nenabled = false\n\
                 [logging]\nlevel = \"warn\"\n{extra}\n"
            ),
        )
        .expect("the config file");
        Site {
            dir,
            config,
            lmtp,
            rest,
        }
    }

    /// Runs a CLI command; it must succeed. Returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_mailcast"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run mailcast");
        assert!(
            out.status.success(),
            "mailcast {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `mailcast serve` and waits until it listens for LMTP.
    pub async fn serve(&self) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_mailcast"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mailcast serve");
        let daemon = Daemon { child };
        wait_for_port(self.lmtp).await;
        daemon
    }

    /// One series of the daemon's `/metrics` page (0 when absent).
    pub async fn metric(&self, series: &str) -> f64 {
        let mut stream = TcpStream::connect(self.rest)
            .await
            .expect("connect to /metrics");
        let request = format!("GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", self.rest);
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut page = String::new();
        stream
            .read_to_string(&mut page)
            .await
            .expect("read /metrics");
        page.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `mailcast serve`; killed when dropped.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM and waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends every `(from, to, message)` over `connections` LMTP connections (`from` empty: the
/// null sender); returns the time until the last reply and the instant of the first 250 after
/// an end of data. Every reply must be 250.
pub async fn send_all(
    lmtp: std::net::SocketAddr,
    messages: Vec<(String, String, Vec<u8>)>,
    connections: usize,
) -> (Duration, Instant) {
    let started = Instant::now();
    let messages = Arc::new(messages);
    let first: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let messages = messages.clone();
        let first = first.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(lmtp).await.expect("connect to LMTP");
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            reply(&mut read).await;
            write.write_all(b"LHLO bench\r\n").await.unwrap();
            reply(&mut read).await;
            let mut out = Vec::new();
            for (from, to, data) in messages.iter().skip(c).step_by(connections) {
                out.clear();
                out.extend_from_slice(
                    format!("MAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n").as_bytes(),
                );
                write.write_all(&out).await.unwrap();
                for expect in [250, 250, 354] {
                    assert_eq!(reply(&mut read).await, expect, "{from} -> {to}");
                }
                out.clear();
                out.extend_from_slice(data);
                out.extend_from_slice(b".\r\n");
                write.write_all(&out).await.unwrap();
                assert_eq!(reply(&mut read).await, 250, "{from} -> {to}");
                first.lock().unwrap().get_or_insert_with(Instant::now);
            }
            write.write_all(b"QUIT\r\n").await.unwrap();
        }));
    }
    for task in tasks {
        task.await.expect("a connection finished");
    }
    let first = first.lock().unwrap().expect("a first 250");
    (started.elapsed(), first)
}

/// Reads one (possibly multi-line) reply; returns its code.
pub async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> u16 {
    loop {
        let mut line = String::new();
        read.read_line(&mut line).await.expect("a reply line");
        assert!(line.len() >= 4, "short reply {line:?}");
        if line.as_bytes()[3] == b' ' {
            return line[..3].parse().expect("a reply code");
        }
    }
}

/// CPU seconds (user + system) a process used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(close) = text.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After the comm: utime and stime are fields 14 and 15 of the line.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / clock_ticks()
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Waits until something listens on `addr`.
pub async fn wait_for_port(addr: std::net::SocketAddr) {
    let started = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the daemon listens on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// The load average, for the report.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
