//! TLS and AUTH to the relay against a real Postfix: mailcast's `[smtp]` points at a private
//! Postfix (tests/postfix/instance.rs) whose smtpd has a certificate from a throw-away CA and
//! checks AUTH against a Cyrus sasldb of its own (`smtpd_tls_auth_only`, so AUTH is offered
//! only after STARTTLS); Postfix relays to the members' sink only for authenticated clients.
//! A list post goes in over LMTP and must reach the members with Postfix's Received header
//! saying TLS and the authenticated sender. With `smtpd_tls_security_level = none`, or a wrong
//! password, nothing is handed over, the delivery is deferred and the log says why.
//!
//! Needs root, Postfix (scripts/postfix-install.sh), `openssl` and `saslpasswd2`
//! (scripts/tools-install.sh); skipped with a message without them, a failure under `CI=true`.

#[path = "postfix/instance.rs"]
mod instance;
#[path = "postfix/site.rs"]
#[allow(dead_code)] // Only the LMTP way in is used here.
mod site;
mod support;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailcast_outbound::sink::{Sink, SinkConfig, TestPki};
use support::{free_port, header, message, received_by, sink_port};

use instance::Postfix;
use site::{Daemon, Mode, Site};

const PATIENCE: Duration = Duration::from_secs(60);
const SASL_USER: &str = "lists@mta.test";
const SASL_PASSWORD: &str = "relay-Pa55word";
const MEMBERS: [&str; 2] = ["anne@members.test", "carl@members.test"];

/// What the relay offers and what mailcast sends.
struct Setup {
    /// smtpd offers STARTTLS (with the test certificate) and AUTH after it.
    relay_tls: bool,
    /// The password mailcast sends.
    password: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_tls_and_auth_through_postfix() {
    let setup = Setup {
        relay_tls: true,
        password: SASL_PASSWORD,
    };
    let Some(world) = World::start(setup).await else {
        return;
    };
    world.post("over TLS").await;
    world.wait_for_members();
    let received = world.sink.received();
    let context = world.diagnostics();
    for member in MEMBERS {
        let got = received_by(&received, member);
        assert_eq!(got.len(), 1, "{member}\n{context}");
        let data = &got[0].data;
        let by_postfix = header(data, "Received").unwrap_or_default();
        assert!(
            by_postfix.contains("by mta.test") && by_postfix.contains("using TLSv1."),
            "Postfix's Received header says TLS: {by_postfix}\n{context}"
        );
        assert!(
            by_postfix.contains(&format!("Authenticated sender: {SASL_USER}")),
            "and the authenticated sender: {by_postfix}\n{context}"
        );
        assert!(header(data, "List-Id").is_some_and(|id| id.contains("dev.a.test")));
    }
    let log = world.postfix.log();
    assert!(log.contains("sasl_method=PLAIN"), "{context}");
    assert!(log.contains("TLS connection established from"), "{context}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_tls_not_offered_by_postfix_defers_and_sends_nothing() {
    let setup = Setup {
        relay_tls: false,
        password: SASL_PASSWORD,
    };
    let Some(world) = World::start(setup).await else {
        return;
    };
    world.post("needs TLS").await;
    world.wait_for_log("does not offer STARTTLS and [smtp] tls = \"required\"");
    world.wait_for_deferred_job();
    world.assert_nothing_handed_over();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_password_defers_and_scores_no_bounce() {
    let setup = Setup {
        relay_tls: true,
        password: "not-the-password",
    };
    let Some(world) = World::start(setup).await else {
        return;
    };
    world.post("wrong password").await;
    world.wait_for_log("the relay refused AUTH: 535");
    world.wait_for_deferred_job();
    world.assert_nothing_handed_over();
    let log = world.postfix.log();
    assert!(
        log.contains("authentication failed"),
        "{}",
        world.diagnostics()
    );
    // Recipients of a deferred delivery are not bouncing members.
    for member in MEMBERS {
        let events = world.site.ok(&["bounces", "show", "dev@a.test", member]);
        assert!(events.contains("no bounces of"), "{member}: {events}");
    }
}

/// A private Postfix, mailcast sending through it, the sink behind it.
struct World {
    sink: Sink,
    postfix: Postfix,
    site: Site,
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start(setup: Setup) -> Option<World> {
        if !can_run() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        site::open_up(dir.path());
        let tls_dir = dir.path().join("tls");
        std::fs::create_dir_all(&tls_dir).expect("create tls/");
        site::open_up(&tls_dir);
        let pki = TestPki::generate(&tls_dir).expect("openssl makes the test PKI");
        for file in [&pki.ca_file, &pki.cert_file, &pki.key_file] {
            // Test-only files, readable by smtpd and by mailcast's account.
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        // Debian's Postfix reads `<config_directory>/sasl/smtpd.conf` whatever
        // `cyrus_sasl_config_path` says; upstream's reads that path. Both are the same here.
        let sasl_dir = dir.path().join("postfix/etc/sasl");
        let lines = if setup.relay_tls {
            relay_lines(&pki, &sasl_dir)
        } else {
            "smtpd_tls_security_level = none\n".to_string()
        };
        let sink = Sink::start(SinkConfig::smtp())
            .await
            .expect("start the sink");
        let smtpd_port = free_port();
        std::fs::create_dir_all(dir.path().join("postfix")).expect("create postfix/");
        let mut postfix = Postfix::configure(
            &dir.path().join("postfix"),
            smtpd_port,
            sink_port(&sink),
            &lines,
        );
        if setup.relay_tls {
            make_sasldb(&sasl_dir);
        }
        let root = dir.path().join("mailcast");
        std::fs::create_dir_all(&root).expect("create mailcast/");
        site::open_up(&root);
        let site = Site::new(&root, Mode::Lmtp, smtpd_port, &postfix.etc, "");
        let password_file = root.join("relay.pass");
        std::fs::write(&password_file, format!("{}\n", setup.password)).expect("password");
        site::chown(&password_file);
        let smtp = format!(
            "[smtp]\ntls = \"required\"\ntls_ca_file = \"{ca}\"\nauth_user = \"{SASL_USER}\"\n\
             auth_password_file = \"{pass}\"\n",
            ca = pki.ca_file.display(),
            pass = password_file.display(),
        );
        let config = std::fs::read_to_string(&site.config).expect("read mailcast.toml");
        assert!(config.contains("[smtp]\n"));
        let config = config.replacen("[smtp]\n", &smtp, 1);
        std::fs::write(&site.config, config).expect("write mailcast.toml");
        site.ok(&["domains", "add", "a.test"]);
        site.ok(&["lists", "create", "dev@a.test"]);
        let mut add = vec!["members", "add", "dev@a.test"];
        add.extend(MEMBERS);
        site.ok(&add);
        postfix.start();
        let daemon = site.serve();
        Some(World {
            sink,
            postfix,
            site,
            daemon,
            _dir: dir,
        })
    }

    /// A member's post to dev@a.test, handed to mailcast over LMTP.
    async fn post(&self, subject: &str) {
        let from = MEMBERS[0];
        let addr: SocketAddr = ([127, 0, 0, 1], self.site.lmtp_port).into();
        let text = message(from, "dev@a.test", subject, "Hello, list.\n");
        let reply = support::post(addr, from, "dev@a.test", &text).await;
        assert_eq!(reply.code, 250, "{reply:?}\n{}", self.diagnostics());
    }

    fn wait_for_members(&self) {
        self.wait("mail for the members", || {
            let received = self.sink.received();
            MEMBERS
                .iter()
                .all(|member| !received_by(&received, member).is_empty())
        });
    }

    fn wait_for_log(&self, line: &str) {
        self.wait(&format!("the log line {line:?}"), || {
            self.daemon.log().contains(line)
        });
    }

    fn wait_for_deferred_job(&self) {
        self.wait("a deferred delivery job", || {
            !self.site.queue("deferred").is_empty()
        });
    }

    /// The relay got no MAIL command, and the members nothing.
    fn assert_nothing_handed_over(&self) {
        std::thread::sleep(Duration::from_secs(2));
        let context = self.diagnostics();
        assert!(self.sink.received().is_empty(), "{context}");
        let log = self.postfix.log();
        let sessions: Vec<&str> = log
            .lines()
            // Sessions that said EHLO (not the start-up probe, which only connects).
            .filter(|line| line.contains("disconnect from") && line.contains(" ehlo="))
            .collect();
        assert!(!sessions.is_empty(), "mailcast reached Postfix\n{context}");
        for session in sessions {
            assert!(!session.contains(" mail="), "no MAIL: {session}\n{context}");
            assert!(
                session.contains(" quit=1"),
                "a polite QUIT: {session}\n{context}"
            );
        }
    }

    fn wait(&self, what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(
                started.elapsed() < PATIENCE,
                "waiting for {what}\n{}",
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn diagnostics(&self) -> String {
        let postfix = self.postfix.log();
        let daemon = self.daemon.log();
        let notable = |log: &str, words: &[&str]| -> String {
            let lines: Vec<&str> = log
                .lines()
                .filter(|line| words.iter().any(|word| line.contains(word)))
                .take(20)
                .collect();
            lines.join("\n")
        };
        format!(
            "sink received {} transactions\n--- postfix warnings ---\n{}\n--- mailcast warnings \
             ---\n{}\n--- postfix log ---\n{}\n--- mailcast log ---\n{}",
            self.sink.received().len(),
            notable(&postfix, &["warning", "TLS", "SASL", "fatal"]),
            notable(&daemon, &["WARN", "ERROR"]),
            tail(&postfix, 20),
            tail(&daemon, 10),
        )
    }
}

/// smtpd with the test certificate, AUTH PLAIN/LOGIN from a sasldb after STARTTLS, and
/// relaying only for authenticated clients.
fn relay_lines(pki: &TestPki, sasl_dir: &Path) -> String {
    format!(
        "smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {sasl}
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = yes
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
",
        cert = pki.cert_file.display(),
        key = pki.key_file.display(),
        sasl = sasl_dir.display(),
    )
}

/// A sasldb with the one user, and the `smtpd.conf` that makes Cyrus SASL use it.
fn make_sasldb(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create sasl/");
    site::open_up(dir);
    let db = dir.join("sasldb2");
    let (user, realm) = SASL_USER.split_once('@').expect("user@realm");
    let mut child = Command::new("saslpasswd2")
        .arg("-f")
        .arg(&db)
        .args(["-c", "-p", "-u", realm, user])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run saslpasswd2");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        SASL_PASSWORD.as_bytes(),
    )
    .expect("write the password");
    assert!(child.wait().expect("saslpasswd2").success(), "saslpasswd2");
    let chown = Command::new("chown").arg("postfix").arg(&db).status();
    assert!(chown.is_ok_and(|s| s.success()), "chown postfix sasldb2");
    std::fs::write(
        dir.join("smtpd.conf"),
        format!(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {}\n\
             mech_list: PLAIN LOGIN\n",
            db.display()
        ),
    )
    .expect("write smtpd.conf");
}

/// Returns false (after saying why) when the test cannot run; panics under CI.
fn can_run() -> bool {
    let missing = instance::missing_prerequisite().or_else(|| {
        ["openssl", "saslpasswd2"].into_iter().find_map(|tool| {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|out| out.status.success());
            (!found).then(|| format!("{tool} is not installed (scripts/tools-install.sh)"))
        })
    });
    match missing {
        None => true,
        Some(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the relay TLS tests cannot run under CI: {reason}")
        }
        Some(reason) => {
            eprintln!("skipping the relay TLS test: {reason}");
            false
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
