//! `mailcast inject` as Postfix's local(8) runs it (tests/postfix.rs runs it under a real
//! Postfix): the envelope in `-f` and `ORIGINAL_RECIPIENT`, the decision in the exit status
//! (sysexits.h) and one line on standard error.
//!
//! Every case runs twice, from one table: with no daemon (the direct way: the store and the
//! spool, in the process) and with `mailcast serve` running (the hand-off over LMTP), and must
//! end alike: same exit status, same text, the same entry in the same stage. The daemon's
//! `/metrics` shows that the second round went through it: only a `250` from the daemon is
//! final, everything else was asked of it first and then decided the direct way.

mod support;

use std::process::{Command, Output, Stdio};

use mailcast_outbound::sink::SinkConfig;
use support::{Site, message, metric, received_by, sink_port, start_sink, wait_until};

const MEMBER: &str = "anne@example.com";

/// What the daemon answers when it is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    /// 250 at the end of data: the hand-off is final.
    Accepts,
    /// A refusal at the end of data; the direct way then decides.
    Refuses,
    /// A refusal of the recipient; the direct way then decides.
    RefusesRcpt,
    /// Nothing: the hand-off is not tried.
    NotAsked,
}

/// What a case must leave behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// A post in `incoming` (without a daemon) or at the member (with one).
    Post,
    /// An entry in `bounces` whose envelope carries this extension.
    Bounce(&'static str),
    /// Nothing at all.
    Nothing,
}

struct Case {
    name: &'static str,
    sender: &'static str,
    rcpt: &'static str,
    original_recipient: Option<&'static str>,
    message: Vec<u8>,
    status: i32,
    /// A part of the one error line (exit status 0 prints nothing).
    says: &'static str,
    left: Left,
    daemon: Daemon,
}

fn cases(round: &str) -> Vec<Case> {
    let post = |to: &str, from: &str| message(from, to, &format!("{round} post to {to}"), "Hi.\n");
    vec![
        Case {
            name: "a member's post",
            sender: MEMBER,
            rcpt: "ant@example.org",
            original_recipient: Some("ant@example.org"),
            message: post("ant@example.org", MEMBER),
            status: 0,
            says: "",
            left: Left::Post,
            daemon: Daemon::Accepts,
        },
        Case {
            name: "a non-member's post to a list that rejects them",
            sender: "zed@example.net",
            rcpt: "strict@example.org",
            original_recipient: None,
            message: post("strict@example.org", "zed@example.net"),
            status: 77,
            says: "The message is not from a list member",
            left: Left::Nothing,
            daemon: Daemon::Refuses,
        },
        Case {
            name: "a non-member's post to a list that discards them",
            sender: "zed@example.net",
            rcpt: "quiet@example.org",
            original_recipient: None,
            message: post("quiet@example.org", "zed@example.net"),
            status: 0,
            says: "",
            left: Left::Nothing,
            daemon: Daemon::Accepts,
        },
        Case {
            name: "no such list",
            sender: MEMBER,
            rcpt: "nosuch@example.org",
            original_recipient: None,
            message: post("nosuch@example.org", MEMBER),
            status: 67,
            says: "<nosuch@example.org>: no such list address",
            left: Left::Nothing,
            daemon: Daemon::RefusesRcpt,
        },
        Case {
            name: "a message without a header section",
            sender: MEMBER,
            rcpt: "ant@example.org",
            original_recipient: None,
            message: b"no header here\r\n".to_vec(),
            status: 65,
            says: "",
            left: Left::Nothing,
            daemon: Daemon::Refuses,
        },
        Case {
            name: "a message over the size limit",
            sender: MEMBER,
            rcpt: "ant@example.org",
            original_recipient: None,
            message: message(MEMBER, "ant@example.org", "big", &"x".repeat(5000)),
            status: 65,
            says: "message too big",
            left: Left::Nothing,
            daemon: Daemon::NotAsked,
        },
        Case {
            name: "a VERP bounce: the extension only ORIGINAL_RECIPIENT keeps",
            sender: "",
            rcpt: "ant-bounces@example.org",
            original_recipient: Some("ant-bounces+anne=example.com@example.org"),
            message: post("ant-bounces@example.org", "mailer-daemon@example.com"),
            status: 0,
            says: "",
            left: Left::Bounce("anne=example.com"),
            daemon: Daemon::Accepts,
        },
        Case {
            name: "a VERP bounce to the alias domain: only the directory can tell",
            sender: "",
            rcpt: "ant-bounces@example.org",
            original_recipient: Some("ant-bounces+bart=example.net@lists.example.org"),
            message: post("ant-bounces@example.org", "mailer-daemon@example.net"),
            status: 0,
            says: "",
            left: Left::Bounce("bart=example.net"),
            daemon: Daemon::NotAsked,
        },
    ]
}

/// Runs `mailcast inject` as local(8) would.
fn inject(site: &Site, case: &Case) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailcast"));
    command
        .arg("--config")
        .arg(site.config_path())
        .args(["inject", case.rcpt, "-f", case.sender])
        .env_remove("MAILCAST_CONFIG")
        .env_remove("SENDER")
        .env_remove("ORIGINAL_RECIPIENT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(original) = case.original_recipient {
        command.env("ORIGINAL_RECIPIENT", original);
    }
    let mut child = command.spawn().expect("run mailcast inject");
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, &case.message).expect("write the message");
    }
    child.wait_with_output().expect("wait for mailcast inject")
}

/// The extensions of the entries in `bounces` (an entry a running daemon takes between the
/// listing and the look at it is left out).
fn bounce_extensions(site: &Site) -> Vec<String> {
    site.ok(&["queue", "list", "bounces"])
        .lines()
        .filter_map(|line| line.split('\t').next())
        .map(|id| site.cli(&["queue", "show", id]))
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .filter_map(|shown| {
            let at = shown.find("\"extension\": \"")? + "\"extension\": \"".len();
            Some(shown[at..].split('"').next()?.to_string())
        })
        .collect()
}

/// How many bounces a running daemon's bounce runner has read (every class of
/// `mailcast_bounces_total`).
async fn bounces_read(site: &Site) -> f64 {
    let mut total = 0.0;
    for class in [
        "permanent",
        "temporary",
        "policy",
        "not_a_bounce",
        "unrecognized",
        "nothing",
        "not_processed",
    ] {
        total += metric(
            site,
            &format!("mailcast_bounces_total{{class=\"{class}\"}}"),
        )
        .await;
    }
    total
}

/// Runs every case of one round and checks what each left behind.
async fn round(site: &Site, sink: &mailcast_outbound::sink::Sink, name: &str, daemon: bool) {
    for case in cases(name) {
        let what = format!("{name}: {}", case.name);
        let incoming = site.queue_count("incoming");
        let bounces = bounce_extensions(site);
        let bounces_before = if daemon {
            bounces_read(site).await
        } else {
            0.0
        };
        let out = inject(site, &case);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(case.status), "{what}: {stderr}");
        if case.status == 0 {
            assert!(stderr.is_empty(), "{what}: {stderr}");
        } else {
            assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
            assert!(stderr.contains(case.says), "{what}: {stderr}");
        }
        let subject = format!("{name} post to {}", case.rcpt);
        match case.left {
            Left::Post if daemon => {
                wait_until(&what, || {
                    received_by(&sink.received(), MEMBER).iter().any(|r| {
                        support::header(&r.data, "Subject").is_some_and(|s| s.contains(&subject))
                    })
                })
                .await;
            }
            Left::Post => assert_eq!(site.queue_count("incoming"), incoming + 1, "{what}"),
            // A running daemon's bounce runner takes the bounce at once: it was read.
            Left::Bounce(_) if daemon => {
                wait_until(&what, || site.queue_count("bounces") == 0).await;
                let read = bounces_read(site).await;
                assert!(read > bounces_before, "{what}: {read} bounces read");
            }
            Left::Bounce(extension) => {
                let now = bounce_extensions(site);
                assert_eq!(now.len(), bounces.len() + 1, "{what}: {now:?}");
                assert!(now.iter().any(|e| e == extension), "{what}: {now:?}");
            }
            Left::Nothing => {
                assert_eq!(site.queue_count("incoming"), incoming, "{what}");
                assert_eq!(bounce_extensions(site).len(), bounces.len(), "{what}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_decides_alike_with_and_without_a_running_daemon() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    site.set("lmtp.max_message_size", 4096);
    site.ok(&[
        "domains",
        "add",
        "example.org",
        "--alias-domain",
        "lists.example.org",
    ]);
    site.create_list("ant@example.org", &[MEMBER], &[], &[]);
    for (list, action) in [
        ("strict@example.org", "reject"),
        ("quiet@example.org", "discard"),
    ] {
        site.create_list(list, &[MEMBER], &[], &[]);
        // Without forward_auto_discards (on by default, as in Mailman), so a discard at
        // intake stores nothing: the case checks that nothing is left behind.
        site.ok(&[
            "lists",
            "set",
            list,
            &format!("default_nonmember_action={action}"),
            "forward_auto_discards=false",
        ]);
    }

    round(&site, &sink, "direct", false).await;

    let daemon = site.start().await;
    // The daemon's bounce runner first reads the bounces the direct round left.
    wait_until("the direct round's bounces are read", || {
        site.queue_count("bounces") == 0
    })
    .await;
    round(&site, &sink, "hand-off", true).await;
    let asked = cases("hand-off");
    let count = |answer: Daemon| asked.iter().filter(|c| c.daemon == answer).count() as f64;
    let mut seen = Vec::new();
    for series in [
        "mailcast_lmtp_recipients_total{result=\"accepted\"}",
        "mailcast_lmtp_recipients_total{result=\"refused\"}",
        "mailcast_lmtp_rcpt_refused_total",
    ] {
        seen.push(metric(&site, series).await);
    }
    assert_eq!(
        seen,
        [
            count(Daemon::Accepts),
            count(Daemon::Refuses),
            count(Daemon::RefusesRcpt)
        ],
        "{}",
        daemon.log()
    );
    daemon.stop().await;
}
