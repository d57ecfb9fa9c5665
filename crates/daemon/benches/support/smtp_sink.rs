//! Postfix's `smtp-sink` as the members' mail server of the fan-out benchmark, with its
//! running message count.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where Debian's postfix package puts it.
pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
/// How long the sink may take to start or to reach a count.
const PATIENCE: Duration = Duration::from_secs(600);

/// Postfix's smtp-sink with its running counters (`-c`) read from its standard output.
pub struct SmtpSink {
    /// The sink process (its CPU time is measured).
    pub child: Child,
    /// The latest message count and when it was read.
    progress: Arc<Mutex<(u64, Instant)>>,
}

impl SmtpSink {
    /// Starts the sink on `127.0.0.1:port` and waits until it accepts connections.
    pub fn start(port: u16) -> SmtpSink {
        let mut child = Command::new(SMTP_SINK)
            .args(["-c", "-u", "root", &format!("127.0.0.1:{port}"), "1000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smtp-sink");
        let progress = Arc::new(Mutex::new((0, Instant::now())));
        let mut stdout = child.stdout.take().expect("a piped stdout");
        let shared = progress.clone();
        std::thread::spawn(move || {
            // The counters come as "\rsess=N quit=N mesg=N", rewritten in place.
            let mut buffer = [0u8; 4096];
            let mut text = String::new();
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    return;
                }
                let now = Instant::now();
                text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                let latest = text
                    .rsplit('\r')
                    .filter_map(|update| update.trim().rsplit("mesg=").next()?.parse::<u64>().ok())
                    .next();
                if let Some(count) = latest {
                    let mut progress = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    if count > progress.0 {
                        *progress = (count, now);
                    }
                }
                if text.len() > 4096 {
                    text = text.split_off(text.len() - 128);
                }
            }
        });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "smtp-sink did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        SmtpSink { child, progress }
    }

    /// Waits until the sink has accepted `count` messages; returns when that was seen.
    pub fn reached(&self, count: u64) -> Instant {
        let started = Instant::now();
        loop {
            let (seen, at) = *self.progress.lock().unwrap_or_else(PoisonError::into_inner);
            if seen >= count {
                return at;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "smtp-sink saw {seen} of {count} messages"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
