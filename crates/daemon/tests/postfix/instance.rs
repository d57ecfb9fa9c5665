//! A private Postfix instance for the end-to-end tests: its own `config_directory`,
//! `queue_directory` and `data_directory` under a test directory, smtpd on a free loopback
//! port, every message for other domains relayed to one loopback port (the in-process sink
//! playing the members' mail servers), short queue timers, and a log file of its own.
//!
//! It uses Debian's postfix binaries (scripts/postfix-install.sh installs them without
//! configuring or starting the system instance) and needs root, as `postfix start` does. The
//! system's port 25 and /etc/postfix are never touched. This module knows nothing of mailcast:
//! the caller passes the `main.cf` lines that connect Postfix to it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why the Postfix tests cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    if !Path::new("/usr/sbin/postfix").exists() || !Path::new("/usr/sbin/postmap").exists() {
        return Some("Postfix is not installed (scripts/postfix-install.sh installs it)".into());
    }
    if !is_root() {
        return Some("the private Postfix instance needs root".into());
    }
    if Command::new("python3").arg("--version").output().is_err() {
        return Some("python3 (for smtplib) is not installed".into());
    }
    None
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A running private Postfix; dropping it stops it.
pub struct Postfix {
    root: PathBuf,
    /// The directory holding main.cf and master.cf (`postfix -c`, `postmap -c`).
    pub etc: PathBuf,
    /// The loopback port smtpd listens on.
    pub smtpd_port: u16,
    running: bool,
}

impl Postfix {
    /// Writes the configuration under `root` (which must be traversable by the `postfix`
    /// user) without starting anything yet, so that `postmap -c <etc>` works. `relay_port` is
    /// the members' mail server; `lines` are added to main.cf (the way mail reaches mailcast).
    pub fn configure(root: &Path, smtpd_port: u16, relay_port: u16, lines: &str) -> Postfix {
        let etc = root.join("etc");
        for dir in ["etc", "queue", "data"] {
            std::fs::create_dir_all(root.join(dir)).expect("create a Postfix directory");
        }
        let owner = Command::new("chown")
            .arg("postfix")
            .arg(root.join("data"))
            .status();
        assert!(
            owner.is_ok_and(|s| s.success()),
            "chown postfix data_directory"
        );
        let r = root.display();
        // No system aliases unless the caller configures its own (pipe mode).
        let no_aliases = if lines.contains("alias_maps") {
            ""
        } else {
            "alias_maps =\nalias_database =\n"
        };
        let main_cf = format!(
            "# A private Postfix for mailcast's tests.
compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.test
mydomain = mta.test
myorigin = $myhostname
mydestination = $myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
{no_aliases}smtp_host_lookup = native
lmtp_host_lookup = native
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
in_flow_delay = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0
{lines}
"
        );
        std::fs::write(etc.join("main.cf"), main_cf).expect("write main.cf");
        std::fs::write(etc.join("master.cf"), master_cf(smtpd_port)).expect("write master.cf");
        Postfix {
            root: root.to_path_buf(),
            etc,
            smtpd_port,
            running: false,
        }
    }

    /// `postfix check` (creates the queue directories) and `postfix start`.
    pub fn start(&mut self) {
        self.postfix("check");
        self.postfix("start");
        self.running = true;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.smtpd_port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Postfix did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("maillog")).unwrap_or_default()
    }

    /// Stops the instance and waits for its master to exit.
    pub fn stop(&mut self) {
        if !std::mem::take(&mut self.running) {
            return;
        }
        let _ = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&self.etc)
            .arg("stop")
            .output();
        let pid_file = self.root.join("queue/pid/master.pid");
        let started = Instant::now();
        while let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            if !Path::new(&format!("/proc/{pid}")).exists()
                || started.elapsed() > Duration::from_secs(10)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn postfix(&self, command: &str) {
        let out = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&self.etc)
            .arg(command)
            .output()
            .expect("run postfix");
        assert!(
            out.status.success(),
            "postfix {command} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The services a relay with local, virtual and LMTP delivery needs, none chrooted.
fn master_cf(smtpd_port: u16) -> String {
    format!(
        "127.0.0.1:{smtpd_port} inet n - n - - smtpd
cleanup    unix n - n - 0 cleanup
qmgr       unix n - n 300 1 qmgr
rewrite    unix - - n - - trivial-rewrite
bounce     unix - - n - 0 bounce
defer      unix - - n - 0 bounce
trace      unix - - n - 0 bounce
verify     unix - - n - 1 verify
flush      unix n - n 1000? 0 flush
proxymap   unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp       unix - - n - - smtp
relay      unix - - n - - smtp
showq      unix n - n - - showq
error      unix - - n - - error
retry      unix - - n - - error
discard    unix - - n - - discard
local      unix - n n - - local
virtual    unix - n n - - virtual
lmtp       unix - - n - - lmtp
anvil      unix - - n - 1 anvil
scache     unix - - n - 1 scache
tlsmgr     unix - - n 1000? 1 tlsmgr
postlog    unix-dgram n - n - 1 postlogd
"
    )
}
