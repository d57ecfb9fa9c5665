//! End to end through a real Postfix, for each of the three ways in (LMTP, Maildir, pipe):
//! a private Postfix instance (tests/postfix/instance.rs) configured with the `main.cf` lines
//! of README.md's "Postfix" section, mailcast installed under its own account
//! (tests/postfix/site.rs), messages submitted with Python's smtplib
//! (tests/postfix/submit.py), and the members' mail servers played by the in-process sink,
//! which is Postfix's relayhost. mailcast sends to the members through the same Postfix.
//!
//! Each test covers, for its way in: a normal post reaches the members; the same list name in
//! two domains gets only its own mail; an unknown list address is refused by Postfix at RCPT
//! time with 550; a post the list's policy refuses (`default_nonmember_action=reject`) reaches
//! no member and comes back to the sender: as Postfix's DSN for LMTP and pipe (mailcast
//! refuses it during the delivery), as mailcast's rejection notice for Maildir (Postfix has
//! already delivered it when mailcast sees it).
//!
//! Skipped with a message when Postfix, python3 or root is missing; under `CI=true` that is a
//! failure. The Exim check lives here too (tests/postfix/exim.rs): Exim cannot be installed
//! beside Postfix, so it is unpacked privately.

#[path = "postfix/exim.rs"]
mod exim;
#[path = "postfix/instance.rs"]
mod instance;
#[path = "postfix/site.rs"]
mod site;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailcast_outbound::sink::{Received, Sink, SinkConfig};
use support::{free_port, header, received_by, sink_port};

use instance::Postfix;
use site::{Daemon, Mode, Site};

/// How long a test waits for mail that should arrive within a few seconds.
const PATIENCE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmtp_mode_through_postfix() {
    if let Some(world) = World::start(Mode::Lmtp).await {
        world.check_scenario();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_mode_through_postfix() {
    if let Some(world) = World::start(Mode::Maildir).await {
        world.check_scenario();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipe_mode_through_postfix() {
    if let Some(world) = World::start(Mode::Pipe).await {
        world.check_scenario();
    }
}

#[test]
fn exim_accepts_and_routes_the_generated_configuration() {
    exim::check();
}

/// Returns false (after saying why) when the Postfix tests cannot run; panics under CI.
fn can_run() -> bool {
    match instance::missing_prerequisite() {
        None => true,
        Some(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the Postfix tests cannot run under CI: {reason}")
        }
        Some(reason) => {
            eprintln!("skipping the Postfix end-to-end test: {reason}");
            false
        }
    }
}

/// The `main.cf` lines that send list mail to mailcast, as README.md's "Postfix" section
/// gives them; `data` is mailcast's `var/data`, `maildir` its `[maildir] path`.
fn main_cf_lines(mode: Mode, data: &Path, maildir: &Path) -> String {
    let d = data.display();
    match mode {
        Mode::Lmtp => format!(
            "recipient_delimiter = +
unknown_local_recipient_reject_code = 550
owner_request_special = no
transport_maps = hash:{d}/postfix_lmtp
relay_domains = hash:{d}/postfix_domains
relay_recipient_maps = hash:{d}/postfix_lmtp
"
        ),
        Mode::Maildir => format!(
            "recipient_delimiter = +
virtual_mailbox_domains = hash:{d}/postfix_vmailbox_domains
virtual_mailbox_maps = hash:{d}/postfix_vmailbox
virtual_mailbox_base = {maildir}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 100
",
            maildir = maildir.display(),
            uid = site::UID,
            gid = site::GID,
        ),
        Mode::Pipe => format!(
            "recipient_delimiter = +
owner_request_special = no
virtual_alias_domains = hash:{d}/postfix_pipe_domains
virtual_alias_maps = hash:{d}/postfix_pipe_vmap
alias_maps = hash:{d}/postfix_aliases
alias_database = hash:{d}/postfix_aliases
"
        ),
    }
}

/// A private Postfix, mailcast behind it, and the sink behind both.
struct World {
    mode: Mode,
    sink: Sink,
    postfix: Postfix,
    site: Site,
    daemon: Daemon,
    // Dropped last: the processes above are stopped before their files go.
    _dir: tempfile::TempDir,
}

impl World {
    /// Sets everything up: lists dev@a.test (anne, carl), dev@b.test (bert) and strict@a.test
    /// (dora; non-members rejected). `None` when the test must be skipped.
    async fn start(mode: Mode) -> Option<World> {
        if !can_run() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        site::open_up(dir.path());
        let sink = Sink::start(SinkConfig::smtp())
            .await
            .expect("start the sink");
        let smtpd_port = free_port();
        let var = dir.path().join("mailcast/var");
        let lines = main_cf_lines(mode, &var.join("data"), &var.join("maildir"));
        std::fs::create_dir_all(dir.path().join("postfix")).expect("create postfix/");
        let mut postfix = Postfix::configure(
            &dir.path().join("postfix"),
            smtpd_port,
            sink_port(&sink),
            &lines,
        );
        std::fs::create_dir_all(dir.path().join("mailcast")).expect("create mailcast/");
        site::open_up(&dir.path().join("mailcast"));
        let site = Site::new(
            &dir.path().join("mailcast"),
            mode,
            smtpd_port,
            &postfix.etc,
            "",
        );
        assert_eq!(var, site.var);
        // The files first: every list created afterwards regenerates them (and runs postmap).
        site.ok(&["mta", "postfix"]);
        for domain in ["a.test", "b.test"] {
            site.ok(&["domains", "add", domain]);
        }
        for (list, members) in [
            (
                "dev@a.test",
                &["anne@members.test", "carl@members.test"][..],
            ),
            ("dev@b.test", &["bert@members.test"][..]),
            ("strict@a.test", &["dora@members.test"][..]),
        ] {
            site.ok(&["lists", "create", list]);
            let mut args = vec!["members", "add", list];
            args.extend_from_slice(members);
            site.ok(&args);
        }
        site.ok(&[
            "lists",
            "set",
            "strict@a.test",
            "default_nonmember_action=reject",
        ]);
        postfix.start();
        let daemon = site.serve();
        Some(World {
            mode,
            sink,
            postfix,
            site,
            daemon,
            _dir: dir,
        })
    }

    /// Submits a message to Postfix's smtpd with smtplib.
    fn submit(&self, from: &str, rcpts: &[&str], subject: &str) -> Submission {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/postfix/submit.py");
        let message = format!(
            "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}.{port}@remote.test>\r\n\
             Date: Mon, 30 Nov 2026 02:00:00 +0000\r\n\r\nThe body of {subject}.\r\n",
            to = rcpts.join(", "),
            id = subject.replace(' ', "-"),
            port = self.postfix.smtpd_port,
        );
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["127.0.0.1", &self.postfix.smtpd_port.to_string(), from])
            .args(rcpts)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run submit.py");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), message.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait for submit.py");
        let text = String::from_utf8_lossy(&out.stdout);
        let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "submit.py: {e}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let refused = value["refused"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(rcpt, v)| {
                        (
                            rcpt.clone(),
                            (
                                v[0].as_u64().unwrap_or(0),
                                v[1].as_str().unwrap_or("").to_string(),
                            ),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Submission {
            refused,
            error: value["error"].as_str().map(String::from),
        }
    }

    /// Everything a failure message needs.
    fn diagnostics(&self) -> String {
        let received: Vec<String> = self
            .sink
            .received()
            .iter()
            .map(|r| {
                format!(
                    "from=<{}> to={:?} subject={:?}",
                    r.mail_from,
                    r.rcpts,
                    header(&r.data, "Subject")
                )
            })
            .collect();
        format!(
            "mode {:?}\nsink received:\n  {}\nspool:\n{}\n--- postfix log ---\n{}\n--- mailcast log ---\n{}",
            self.mode,
            received.join("\n  "),
            self.site.ok(&["queue", "list"]),
            tail(&self.postfix.log(), 60),
            tail(&self.daemon.log(), 60),
        )
    }

    /// Waits until every address in `rcpts` has received something.
    fn wait_for(&self, rcpts: &[&str]) {
        let started = Instant::now();
        loop {
            let received = self.sink.received();
            if rcpts
                .iter()
                .all(|rcpt| !received_by(&received, rcpt).is_empty())
            {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "waiting for mail to {rcpts:?}\n{}",
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn check_scenario(&self) {
        // A normal post, and the same list name in another domain.
        let post = self.submit("anne@members.test", &["dev@a.test"], "post to dev at a");
        assert_eq!(post, Submission::default(), "{}", self.diagnostics());
        let other = self.submit("bert@members.test", &["dev@b.test"], "post to dev at b");
        assert_eq!(other, Submission::default(), "{}", self.diagnostics());
        // An unknown list address: refused by Postfix itself at RCPT time.
        let unknown = self.submit("anne@members.test", &["nosuch@a.test"], "to no list");
        let (code, text) = unknown
            .refused
            .get("nosuch@a.test")
            .cloned()
            .unwrap_or_default();
        assert_eq!(code, 550, "{unknown:?}\n{}", self.diagnostics());
        assert!(text.contains("nosuch@a.test"), "{text}");
        // A post the list's policy refuses: Postfix accepts it, the refusal comes later.
        let refused = self.submit("zed@remote.test", &["strict@a.test"], "from a non-member");
        assert_eq!(refused, Submission::default(), "{}", self.diagnostics());

        self.wait_for(&[
            "anne@members.test",
            "carl@members.test",
            "bert@members.test",
            "zed@remote.test",
        ]);
        // Anything that should not come would come about now.
        std::thread::sleep(Duration::from_secs(2));
        let received = self.sink.received();
        let context = self.diagnostics();
        for (member, list_id, subject) in [
            ("anne@members.test", "dev.a.test", "post to dev at a"),
            ("carl@members.test", "dev.a.test", "post to dev at a"),
            ("bert@members.test", "dev.b.test", "post to dev at b"),
        ] {
            let got = received_by(&received, member);
            assert_eq!(
                got.len(),
                1,
                "{member} should get exactly one message\n{context}"
            );
            let data = &got[0].data;
            assert!(
                header(data, "List-Id").is_some_and(|v| v.contains(list_id)),
                "{member}: List-Id\n{context}"
            );
            assert!(
                header(data, "Subject").is_some_and(|v| v.contains(subject)),
                "{member}: Subject\n{context}"
            );
            let bounces = format!("dev-bounces@{}", &list_id[4..]);
            assert_eq!(
                got[0].mail_from, bounces,
                "{member}: envelope sender\n{context}"
            );
        }
        let back = received_by(&received, "zed@remote.test");
        assert_eq!(
            back.len(),
            1,
            "the refused sender hears back once\n{context}"
        );
        assert_eq!(back[0].mail_from, "", "with the null sender\n{context}");
        self.check_refusal_message(back[0], &context);
        assert!(
            received_by(&received, "dora@members.test").is_empty(),
            "a refused post reaches no member\n{context}"
        );
        let all: usize = received.iter().map(|r| r.rcpts.len()).sum();
        assert_eq!(all, 4, "nothing else was sent\n{context}");
    }

    /// LMTP and pipe: Postfix's DSN, carrying mailcast's reason. Maildir: mailcast's notice.
    fn check_refusal_message(&self, message: &Received, context: &str) {
        let text = String::from_utf8_lossy(&message.data);
        match self.mode {
            Mode::Lmtp | Mode::Pipe => {
                let kind = header(&message.data, "Content-Type").unwrap_or_default();
                assert!(
                    kind.contains("multipart/report"),
                    "a DSN: {kind}\n{context}"
                );
                assert!(
                    text.contains("strict@a.test"),
                    "the DSN names the list\n{context}"
                );
                assert!(
                    text.contains("Status: 5."),
                    "a permanent failure\n{context}"
                );
            }
            Mode::Maildir => {
                assert!(
                    text.contains("strict@a.test"),
                    "the notice names the list\n{context}"
                );
            }
        }
    }
}

/// What smtplib reported.
#[derive(Debug, Default, PartialEq, Eq)]
struct Submission {
    refused: BTreeMap<String, (u64, String)>,
    error: Option<String>,
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
