//! Exim's own checks on the snippets `mailcast mta exim` writes: `exim -bV` parses a full
//! configuration that `.include`s them, `exim -bt` routes list addresses (sub-addresses and
//! `+` extensions included) to the mailcast router and transport and nothing else, and a real
//! delivery through that transport reaches `mailcast serve` over LMTP with the affixes kept.
//!
//! Debian's exim4 conflicts with postfix as a package, so it is not installed: the test
//! downloads `exim4-daemon-light` (and the one library it needs that this machine lacks) with
//! `apt-get download` into the target directory and unpacks it there with `dpkg -x`. Exim
//! insists on its compiled-in account `Debian-exim` and re-executes itself from
//! `/usr/sbin/exim4`, so it runs inside a private mount namespace (`unshare -m`) where a copy
//! of /etc/passwd names that account and a tmpfs on /usr/sbin holds the binary; the machine's
//! own files are untouched. When the download fails (no package registry) the test is skipped
//! with a message, also under CI; once Exim is at hand, every failure is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::site::{self, Mode, Site};

/// The packages unpacked; libidn12 is the only dependency a Postfix machine lacks.
const PACKAGES: [&str; 3] = ["exim4-daemon-light", "exim4-base", "libidn12"];

/// Runs the whole check (see the module docs).
pub fn check() {
    if !crate::instance::is_root() {
        assert!(!is_ci(), "the Exim check needs root under CI");
        eprintln!("skipping the Exim check: it needs root (mount namespace)");
        return;
    }
    let unpacked = match obtain() {
        Ok(dir) => dir,
        Err(reason) => {
            eprintln!("skipping the Exim check: cannot obtain Exim: {reason}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    site::open_up(dir.path());
    let exim = Exim::new(&unpacked, dir.path());
    let root = dir.path().join("mailcast");
    std::fs::create_dir_all(&root).expect("create mailcast/");
    site::open_up(&root);
    let site = Site::new(
        &root,
        Mode::Lmtp,
        crate::support::free_port(),
        Path::new("/nonexistent"),
        "[runner]\nenabled = false\n",
    );
    site.ok(&["domains", "add", "a.test"]);
    site.ok(&["lists", "create", "dev@a.test"]);
    site.ok(&["lists", "create", "team-x@a.test"]);
    let written = site.ok(&["mta", "exim"]);
    assert!(written.contains("exim4_mailcast_router"), "{written}");
    exim.write_config(&site.var.join("data"));

    let version = exim.run(&["-bV"]);
    assert!(
        version.status.success(),
        "exim -bV refused the configuration:\n{}",
        exim.output(&version)
    );
    assert!(String::from_utf8_lossy(&version.stdout).contains("Configuration file is"));

    for address in [
        "dev@a.test",
        "dev-request@a.test",
        "DEV-Bounces+anne=example.org@a.test",
        "dev-confirm+0123abcd@a.test",
        "dev+topic@a.test",
        "team-x-owner@a.test",
    ] {
        let out = exim.run(&["-bt", address]);
        let text = exim.output(&out);
        assert!(out.status.success(), "exim -bt {address}:\n{text}");
        assert!(
            text.contains("router = mailcast_router, transport = mailcast_transport"),
            "{address}:\n{text}"
        );
    }
    for address in ["nosuch@a.test", "dev@c.test", "dev-bogus@a.test"] {
        let out = exim.run(&["-bt", address]);
        assert!(
            !out.status.success(),
            "exim routed {address}:\n{}",
            exim.output(&out)
        );
    }

    // A real delivery through the transport into mailcast's LMTP server (runners off, so the
    // entries stay in the spool to be looked at).
    let _daemon = site.serve();
    let message =
        b"From: x@remote.test\nSubject: via Exim\nMessage-ID: <exim@remote.test>\n\nhello\n";
    let rcpts = [
        "dev-request@a.test",
        "dev-bounces+anne=example.org@a.test",
        "dev@a.test",
    ];
    let mut args = vec!["-odi", "-f", "x@remote.test"];
    args.extend(rcpts);
    let out = exim.run_with_input(&args, message);
    assert!(
        out.status.success(),
        "exim delivery:\n{}\n{}",
        exim.output(&out),
        exim.log()
    );
    // The 250s follow the spool's log commit; the stage files appear a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (command, bounces, incoming) = loop {
        let seen = (
            site.queue("command"),
            site.queue("bounces"),
            site.queue("incoming"),
        );
        if !seen.0.is_empty() && !seen.1.is_empty() && !seen.2.is_empty()
            || std::time::Instant::now() > deadline
        {
            break seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let context = format!("{command:?}\n{bounces:?}\n{incoming:?}\n{}", exim.log());
    assert!(
        command
            .iter()
            .any(|l| l.contains("rcpt=<dev-request@a.test>")),
        "{context}"
    );
    assert!(
        bounces
            .iter()
            .any(|l| l.contains("rcpt=<dev-bounces+anne=example.org@a.test>")),
        "{context}"
    );
    assert!(
        incoming
            .iter()
            .any(|l| l.contains("rcpt=<dev@a.test>") && l.contains("from=<x@remote.test>")),
        "{context}"
    );
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The unpacked packages (downloaded once per target directory).
fn obtain() -> Result<PathBuf, String> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exim");
    let unpacked = cache.join("root");
    if unpacked.join("usr/sbin/exim4").exists() {
        return Ok(unpacked);
    }
    std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    let download = || {
        Command::new("apt-get")
            .arg("download")
            .args(PACKAGES)
            .current_dir(&cache)
            .output()
    };
    let mut out = download().map_err(|e| format!("apt-get: {e}"))?;
    if !out.status.success() {
        // The package lists may be missing on a fresh machine.
        let _ = Command::new("apt-get").args(["update", "-qq"]).output();
        out = download().map_err(|e| format!("apt-get: {e}"))?;
    }
    if !out.status.success() {
        return Err(format!(
            "apt-get download failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let staging = cache.join("staging");
    let _ = std::fs::remove_dir_all(&staging);
    for entry in std::fs::read_dir(&cache).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            let status = Command::new("dpkg")
                .arg("-x")
                .arg(&path)
                .arg(&staging)
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "dpkg -x {} failed",
                path.display()
            );
        }
    }
    std::fs::rename(&staging, &unpacked).expect("move the unpacked packages into place");
    Ok(unpacked)
}

/// The unpacked Exim with its private spool, log and configuration.
struct Exim {
    unpacked: PathBuf,
    dir: PathBuf,
}

impl Exim {
    fn new(unpacked: &Path, test_dir: &Path) -> Exim {
        let dir = test_dir.join("exim");
        for sub in ["spool", "log"] {
            std::fs::create_dir_all(dir.join(sub)).expect("create an Exim directory");
            site::chown(&dir.join(sub));
        }
        site::open_up(&dir);
        // The account Exim was built for, with an unprivileged id (Exim refuses root).
        let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
        let group = std::fs::read_to_string("/etc/group").expect("read /etc/group");
        let (uid, gid) = (site::UID, site::GID);
        std::fs::write(
            dir.join("passwd"),
            format!("{passwd}Debian-exim:x:{uid}:{gid}::/nonexistent:/usr/sbin/nologin\n"),
        )
        .expect("write passwd");
        std::fs::write(dir.join("group"), format!("{group}Debian-exim:x:{gid}:\n"))
            .expect("write group");
        Exim {
            unpacked: unpacked.to_path_buf(),
            dir,
        }
    }

    /// A complete configuration around mailcast's three snippets.
    fn write_config(&self, data: &Path) {
        let d = self.dir.display();
        let data = data.display();
        let text = format!(
            "keep_environment = LD_LIBRARY_PATH
exim_user = Debian-exim
exim_group = Debian-exim
primary_hostname = mta.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
.include {data}/exim4_mailcast_main
begin routers
.include {data}/exim4_mailcast_router
begin transports
.include {data}/exim4_mailcast_transport
"
        );
        std::fs::write(self.dir.join("exim.conf"), text).expect("write exim.conf");
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, b"")
    }

    /// Runs `exim -C <config> ARGS` in the private mount namespace.
    fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let d = self.dir.display();
        let script = format!(
            "set -e
mount --bind {d}/passwd /etc/passwd
mount --bind {d}/group /etc/group
mount -t tmpfs mailcast-exim /usr/sbin
cp {exim} /usr/sbin/exim4
export LD_LIBRARY_PATH={libs}
exec /usr/sbin/exim4 -C {d}/exim.conf \"$@\"",
            exim = self.unpacked.join("usr/sbin/exim4").display(),
            libs = self.unpacked.join("usr/lib/x86_64-linux-gnu").display(),
        );
        let mut child = Command::new("unshare")
            .args(["-m", "sh", "-c", &script, "exim"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run unshare");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input)
            .expect("write exim's input");
        child.wait_with_output().expect("wait for exim")
    }

    fn output(&self, out: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/mainlog")).unwrap_or_default()
    }
}
