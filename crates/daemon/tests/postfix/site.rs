//! mailcast installed as an operator would put it behind Postfix: its own unprivileged account
//! (here `nobody`, which owns the var directory, runs the daemon and the CLI, receives
//! virtual(8)'s Maildir deliveries and runs local(8)'s pipe command), a config file, and the
//! binary in a directory every account can reach.
//!
//! The config points `[smtp]` at the private Postfix (mailcast sends to the members through
//! the MTA, as in production) and `[mta]` at its `postmap -c`. Everything here is black box:
//! the binary, its files and its exit statuses.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The account mailcast runs as in these tests.
pub const UID: u32 = 65534;
/// Its group.
pub const GID: u32 = 65534;

/// How mail reaches mailcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Postfix's lmtp(8) to `mailcast serve`.
    Lmtp,
    /// Postfix's virtual(8) into Maildirs that `mailcast serve` reads.
    Maildir,
    /// Postfix's local(8) piping to `mailcast inject`.
    Pipe,
}

impl Mode {
    /// The `[mta] delivery` value.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Lmtp => "lmtp",
            Mode::Maildir => "maildir",
            Mode::Pipe => "pipe",
        }
    }
}

/// A mailcast installation under a test directory.
pub struct Site {
    /// The config file.
    pub config: PathBuf,
    /// `<root>/var`.
    pub var: PathBuf,
    /// The binary, reachable by [`UID`].
    pub binary: PathBuf,
    /// Where `mailcast serve` listens for LMTP.
    pub lmtp_port: u16,
}

impl Site {
    /// Installs the binary and writes the config; `smtp_port` is Postfix's smtpd, `postfix_etc`
    /// its config directory, `extra` more TOML tables.
    pub fn new(root: &Path, mode: Mode, smtp_port: u16, postfix_etc: &Path, extra: &str) -> Site {
        let bin = root.join("bin");
        let var = root.join("var");
        std::fs::create_dir_all(&bin).expect("create bin/");
        std::fs::create_dir_all(&var).expect("create var/");
        chown(&var);
        let binary = bin.join("mailcast");
        let source = Path::new(env!("CARGO_BIN_EXE_mailcast"));
        if std::fs::hard_link(source, &binary).is_err() {
            std::fs::copy(source, &binary).expect("install the mailcast binary");
        }
        let lmtp_port = crate::support::free_port();
        let rest_port = crate::support::free_port();
        let text = format!(
            r#"[paths]
var_dir = "{var}"
[lmtp]
listen = "127.0.0.1:{lmtp_port}"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
helo_name = "lists.test"
retry_initial_delay = 1
retry_max_delay = 2
[rest]
listen = "127.0.0.1:{rest_port}"
[site]
hostname = "lists.test"
site_owner = "postmaster@lists.test"
[mta]
postmap_command = "/usr/sbin/postmap -c {etc}"
delivery = "{mode}"
mailcast_command = "{binary}"
[maildir]
enabled = {maildir}
path = "{var}/maildir"
scan_interval_ms = 500
[logging]
level = "info"
{extra}"#,
            var = var.display(),
            etc = postfix_etc.display(),
            mode = mode.name(),
            binary = binary.display(),
            maildir = mode == Mode::Maildir,
        );
        let config = root.join("mailcast.toml");
        std::fs::write(&config, text).expect("write mailcast.toml");
        Site {
            config,
            var,
            binary,
            lmtp_port,
        }
    }

    /// Runs `mailcast --config <site> ARGS` as the mailcast account.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run mailcast")
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

    /// Starts `mailcast serve` and waits until it accepts LMTP connections.
    pub fn serve(&self) -> Daemon {
        let log = self.var.join("serve.log");
        let file = std::fs::File::create(&log).expect("create the daemon log");
        let child = self
            .command(&["serve"])
            .env("RUST_LOG", "info,mailcast=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start mailcast serve");
        let mut daemon = Daemon { child, log };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.lmtp_port)).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("mailcast serve exited with {status}:\n{}", daemon.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "mailcast serve did not start:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// The entries in a spool stage, one `mailcast queue list STAGE` line each.
    pub fn queue(&self, stage: &str) -> Vec<String> {
        self.ok(&["queue", "list", stage])
            .lines()
            .map(String::from)
            .collect()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("MAILCAST_CONFIG")
            .current_dir(&self.var)
            .uid(UID)
            .gid(GID);
        command
    }
}

/// A running `mailcast serve`; dropping it stops it (SIGTERM, then SIGKILL).
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Makes `dir` the mailcast account's.
pub fn chown(dir: &Path) {
    std::os::unix::fs::chown(dir, Some(UID), Some(GID)).expect("chown to the mailcast account");
}

/// Lets every account traverse `dir` (a temporary directory is private to root).
pub fn open_up(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod 755");
}
