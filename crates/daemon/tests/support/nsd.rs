//! A real authoritative DNS server on loopback for the tests: Debian's NSD, run in the
//! foreground (`nsd -d`) as the current user, from a config and zone files in a temporary
//! directory, on a free port (UDP and TCP). Stopped (SIGTERM, waited for) when dropped.
//!
//! Callers give each zone's records in zone-file syntax ([`Zone::record`], [`Zone::txt`] for
//! TXT data of any length); the SOA, NS and the name server's A record are written here.
//! A zone made with [`Zone::broken`] is configured with a file NSD cannot load, so NSD
//! answers SERVFAIL for every name in it.
//!
//! Without `/usr/sbin/nsd` (scripts/tools-install.sh installs it) [`Nsd::start`] returns
//! `None` and the test skips, except under `CI=true`, where it fails.

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs NSD.
pub const NSD: &str = "/usr/sbin/nsd";

/// One zone NSD serves.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: String,
    records: Vec<String>,
    broken: bool,
}

impl Zone {
    /// An empty zone for `origin` (e.g. `"example.test"`).
    pub fn new(origin: &str) -> Zone {
        Zone {
            origin: origin.trim_end_matches('.').to_ascii_lowercase(),
            records: Vec::new(),
            broken: false,
        }
    }

    /// A zone NSD cannot load: every query in it is answered SERVFAIL.
    pub fn broken(origin: &str) -> Zone {
        Zone {
            broken: true,
            ..Zone::new(origin)
        }
    }

    /// Adds one record line as written in a zone file, e.g.
    /// `"_dmarc IN TXT \"v=DMARC1; p=reject\""` or `"alias IN CNAME target"`.
    pub fn record(mut self, line: &str) -> Zone {
        self.records.push(line.to_string());
        self
    }

    /// Adds a TXT record at `name` (relative to the zone, or absolute with a final dot),
    /// split into character-strings of at most 255 octets (DKIM keys are longer).
    pub fn txt(self, name: &str, text: &str) -> Zone {
        let strings: Vec<String> = text
            .as_bytes()
            .chunks(255)
            .map(|chunk| {
                let chunk = String::from_utf8_lossy(chunk);
                format!("\"{}\"", chunk.replace('\\', "\\\\").replace('"', "\\\""))
            })
            .collect();
        let line = format!("{name} IN TXT ( {} )", strings.join(" "));
        self.record(&line)
    }

    fn file_text(&self) -> String {
        let mut text = format!(
            "$ORIGIN {origin}.\n$TTL 300\n\
             @ IN SOA ns1.{origin}. hostmaster.{origin}. ( 1 3600 900 604800 60 )\n\
             @ IN NS ns1.{origin}.\n\
             ns1 IN A 127.0.0.1\n",
            origin = self.origin
        );
        for line in &self.records {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// A running NSD.
pub struct Nsd {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Nsd {
    /// Starts NSD serving `zones` and waits until it answers on TCP; `None` when NSD is not
    /// installed (a failure under `CI=true`).
    pub fn start(zones: &[Zone]) -> Option<Nsd> {
        if !Path::new(NSD).is_file() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{NSD} is missing (run scripts/tools-install.sh)"
            );
            eprintln!("skipped: no {NSD} (run scripts/tools-install.sh)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir for nsd");
        let port = free_udp_and_tcp_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let d = dir.path().display().to_string();
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  username: \"\"\n  \
             chroot: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             logfile: \"{d}/nsd.log\"\n  server-count: 1\n  verbosity: 1\n  \
             hide-version: yes\n  tcp-count: 64\n\
             remote-control:\n  control-enable: no\n"
        );
        for zone in zones {
            let file = format!("{}.zone", zone.origin);
            let text = if zone.broken {
                // A record without a class or data: the zone fails to load.
                format!("$ORIGIN {}.\nthis is not a zone file\n", zone.origin)
            } else {
                zone.file_text()
            };
            std::fs::write(dir.path().join(&file), text).expect("write a zone file");
            conf.push_str(&format!(
                "zone:\n  name: \"{}\"\n  zonefile: \"{file}\"\n",
                zone.origin
            ));
        }
        let conf_path = dir.path().join("nsd.conf");
        std::fs::write(&conf_path, conf).expect("write nsd.conf");
        let child = Command::new(NSD)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("nsd.stderr")).expect("nsd stderr file"),
            ))
            .spawn()
            .expect("start nsd");
        let mut nsd = Nsd { child, dir, addr };
        nsd.wait_ready();
        Some(nsd)
    }

    /// `IP:port` for `[dns] nameservers`.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
    }

    /// The address NSD listens on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What NSD logged.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "{}{}",
            read("nsd.log").unwrap_or_default(),
            read("nsd.stderr").unwrap_or_default()
        )
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for nsd") {
                panic!("nsd exited with {status}:\n{}", self.log());
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                started.elapsed() < super::DEADLINE,
                "nsd did not start listening on {}:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nsd {
    /// SIGTERM, so that NSD stops its server processes before it exits (a SIGKILL would leave
    /// them answering for a moment); SIGKILL only if it does not exit in time.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            super::signal(self.child.id(), "TERM");
            let started = Instant::now();
            while matches!(self.child.try_wait(), Ok(None)) {
                if started.elapsed() > Duration::from_secs(10) {
                    let _ = self.child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let port = super::free_port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A UDP and TCP address where something is bound but never answers: queries sent there
/// time out. Keep the returned sockets alive for as long as the address is used.
pub fn silent_server() -> (SocketAddr, UdpSocket, std::net::TcpListener) {
    loop {
        let port = super::free_port();
        if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port))
            && let Ok(tcp) = std::net::TcpListener::bind(("127.0.0.1", port))
        {
            return (SocketAddr::from(([127, 0, 0, 1], port)), udp, tcp);
        }
    }
}
