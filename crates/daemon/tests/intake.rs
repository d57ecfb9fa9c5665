//! The way in, black box: the real `mailcast serve` with its runners off, so every accepted
//! message stays in the stage the LMTP server committed it to, where the test reads it.
//!
//! Covers Mailman 3's LMTP conformance cases (shared/reference/mailman3.md §2: tests 1–16, 18–20
//! and doctest D1–D10; test 17 needs list renaming, which mailcast does not offer), Python's
//! smtplib as a client, CLI changes seen by a running daemon, graceful shutdown, the Unix socket,
//! and a full disk.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use support::{Lmtp, Site, free_port};

/// One spool entry: its stage, envelope and message bytes.
#[derive(Debug)]
struct Entry {
    stage: String,
    meta: serde_json::Value,
    message: Vec<u8>,
}

impl Entry {
    fn attr(&self, key: &str) -> Option<&str> {
        self.meta.get(key).and_then(|v| v.as_str())
    }

    fn headers(&self, name: &str) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.message);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        head.split("\r\n")
            .filter_map(|l| l.split_once(": "))
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_string())
            .collect()
    }
}

/// Every entry of the working stages, by stage (read with ordinary file operations, as an
/// operator would).
fn entries(site: &Site) -> Vec<Entry> {
    let spool = site.path("var/spool");
    let mut out = Vec::new();
    for stage in [
        "incoming", "command", "bounces", "held", "outgoing", "deferred", "shunt",
    ] {
        let Ok(buckets) = std::fs::read_dir(spool.join(stage)) else {
            continue;
        };
        for bucket in buckets.flatten() {
            for file in std::fs::read_dir(bucket.path()).unwrap().flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "json") {
                    let meta: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                    let id = meta["id"].as_str().unwrap().to_string();
                    let body = spool
                        .join("messages")
                        .join(bucket.file_name())
                        .join(format!("{id}.eml"));
                    out.push(Entry {
                        stage: stage.to_string(),
                        meta,
                        message: std::fs::read(body).unwrap(),
                    });
                }
            }
        }
    }
    out
}

/// Removes every envelope of the working stages (the runners are off, nothing else moves them).
fn clear(site: &Site) {
    for stage in ["incoming", "command", "bounces"] {
        let Ok(buckets) = std::fs::read_dir(site.path("var/spool").join(stage)) else {
            continue;
        };
        for bucket in buckets.flatten() {
            for file in std::fs::read_dir(bucket.path()).unwrap().flatten() {
                std::fs::remove_file(file.path()).unwrap();
            }
        }
    }
}

/// The entries once `n` of them are visible: the 250 follows the write-ahead log's fsync, and
/// the files in the stage directories appear a moment later.
async fn settled(site: &Site, n: usize) -> Vec<Entry> {
    support::wait_until("spool entries to appear", || entries(site).len() >= n).await;
    entries(site)
}

fn counts(site: &Site) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in entries(site) {
        *m.entry(e.stage).or_insert(0) += 1;
    }
    m
}

fn site() -> Site {
    let mut site = Site::new(free_port());
    site.set("runner.enabled", false);
    site.ok(&["domains", "add", "example.com"]);
    site.ok(&["lists", "create", "test@example.com"]);
    site
}

fn msg(extra: &str, message_id: Option<&str>) -> Vec<u8> {
    let mid = message_id
        .map(|m| format!("Message-ID: {m}\r\n"))
        .unwrap_or_default();
    format!("From: anne@example.com\r\nTo: test@example.com\r\nSubject: a test\r\n{mid}{extra}\r\nAn empty body.\r\n")
        .into_bytes()
}

#[tokio::test]
async fn mailman_conformance_cases() {
    let site = site();
    site.ok(&["lists", "create", "test-join@example.com"]);
    site.ok(&["lists", "create", "join@example.com"]);
    site.ok(&["lists", "create", "--", "-join@example.com"]);
    site.ok(&["lists", "create", "My-LIST@example.com"]);
    site.ok(&["lists", "create", "longer_than_15_bytes@example.com"]);
    let daemon = site.start().await;
    let mut lmtp = Lmtp::connect(site.lmtp).await;

    // D1: the greeting and LHLO were checked by connect().
    // 1, 2: the envelope sender is recorded; a missing Message-ID is supplied.
    let d = lmtp
        .send("anne@example.com", &["test@example.com"], &msg("", None))
        .await;
    assert_eq!(d.data[0].code, 250, "{d:?}");
    let e = settled(&site, 1).await.pop().unwrap();
    assert_eq!(e.stage, "incoming");
    assert_eq!(e.attr("mail_from"), Some("anne@example.com"));
    assert_eq!(e.attr("list"), Some("test@example.com"));
    assert!(e.attr("received_at").is_some(), "7: received time recorded");
    assert_eq!(e.headers("Message-ID").len(), 1, "2: a Message-ID is added");
    clear(&site);

    // 3, 4: bracketed Message-IDs are fixed; 5, 6: Message-ID-Hash replaced, exactly once.
    for (given, fixed) in [
        ("[bogus@example.com]", "<bogus@example.com>"),
        ("<[bogus@example.com]>", "<bogus@example.com>"),
    ] {
        lmtp.send(
            "anne@example.com",
            &["test@example.com"],
            &msg("", Some(given)),
        )
        .await;
        let e = settled(&site, 1).await.pop().unwrap();
        assert_eq!(e.headers("Message-ID"), vec![fixed.to_string()]);
        clear(&site);
    }
    lmtp.send(
        "anne@example.com",
        &["test@example.com"],
        &msg("Message-ID-Hash: IGNOREME\r\n", Some("<ant>")),
    )
    .await;
    let e = settled(&site, 1).await.pop().unwrap();
    assert_eq!(
        e.headers("Message-ID-Hash"),
        vec!["MS6QLWERIJLGCRF44J7USBFDELMNT2BW".to_string()]
    );
    assert_eq!(
        e.headers("X-Message-ID-Hash"),
        vec!["MS6QLWERIJLGCRF44J7USBFDELMNT2BW".to_string()]
    );
    assert_eq!(
        e.headers("X-MailFrom"),
        vec!["anne@example.com".to_string()]
    );
    clear(&site);

    // 8: there is no "lmtp" queue.
    assert!(!site.path("var/spool/lmtp").exists());

    // 9, 10, 12: unknown list, unknown domain, bogus sub-address: 550 5.1.1 at RCPT.
    for rcpt in [
        "notalist@example.com",
        "test@x.example.com",
        "test-bogus@example.com",
    ] {
        let d = lmtp.send("anne@example.com", &[rcpt], &msg("", None)).await;
        assert_eq!(d.rcpt[0].code, 550, "{rcpt}: {d:?}");
        assert!(d.rcpt[0].text.starts_with("5.1.1"), "{d:?}");
    }

    // 13-16, 18, 20 and D2-D10: each address lands in its stage with Mailman's sub-address.
    let long = format!(
        "longer_than_15_bytes-confirm+{}@example.com",
        "x".repeat(40)
    );
    let cases: Vec<(&str, &str, Option<&str>, &str)> = vec![
        ("test@example.com", "incoming", None, "test@example.com"),
        (
            "test-join@example.com",
            "incoming",
            None,
            "test-join@example.com",
        ),
        (
            "test-join-join@example.com",
            "command",
            Some("join"),
            "test-join@example.com",
        ),
        ("join@example.com", "incoming", None, "join@example.com"),
        ("-join@example.com", "incoming", None, "-join@example.com"),
        (
            "my-list@example.com",
            "incoming",
            None,
            "my-list@example.com",
        ),
        (
            long.as_str(),
            "command",
            Some("confirm"),
            "longer_than_15_bytes@example.com",
        ),
        (
            "test-request@example.com",
            "command",
            Some("request"),
            "test@example.com",
        ),
        (
            "test-bounces@example.com",
            "bounces",
            Some("bounces"),
            "test@example.com",
        ),
        (
            "test-bounces+anne=example.org@example.com",
            "bounces",
            Some("bounces"),
            "test@example.com",
        ),
        (
            "test-confirm@example.com",
            "command",
            Some("confirm"),
            "test@example.com",
        ),
        (
            "test-join@example.com",
            "incoming",
            None,
            "test-join@example.com",
        ),
        (
            "test-subscribe@example.com",
            "command",
            Some("join"),
            "test@example.com",
        ),
        (
            "test-leave@example.com",
            "command",
            Some("leave"),
            "test@example.com",
        ),
        (
            "test-unsubscribe@example.com",
            "command",
            Some("leave"),
            "test@example.com",
        ),
        (
            "test-owner@example.com",
            "incoming",
            Some("owner"),
            "test@example.com",
        ),
        (
            "test+anything@example.com",
            "incoming",
            None,
            "test@example.com",
        ),
    ];
    for (rcpt, stage, sub, list) in cases {
        let d = lmtp
            .send("anne@example.com", &[rcpt], &msg("", Some("<dog>")))
            .await;
        assert_eq!(d.data.len(), 1, "{rcpt}: {d:?}");
        assert_eq!(d.data[0].code, 250, "{rcpt}: {d:?}");
        let all = settled(&site, 1).await;
        assert_eq!(all.len(), 1, "{rcpt}: exactly one entry");
        let e = &all[0];
        assert_eq!(
            (e.stage.as_str(), e.attr("subaddress"), e.attr("list")),
            (stage, sub, Some(list)),
            "{rcpt}"
        );
        assert_eq!(
            e.headers("Message-ID-Hash"),
            vec!["4SKREUSPI62BHDMFBSOZ3BMXFETSQHNA".to_string()],
            "D3"
        );
        clear(&site);
    }

    // 19: a raw non-UTF-8 byte in the body is accepted and the Message-ID kept.
    let mut raw = msg("", Some("<alpha>"));
    raw.extend_from_slice(b"caf\xa0\r\n");
    let d = lmtp
        .send("anne@example.com", &["test@example.com"], &raw)
        .await;
    assert_eq!(d.data[0].code, 250);
    let e = settled(&site, 1).await.pop().unwrap();
    assert_eq!(e.headers("Message-ID"), vec!["<alpha>".to_string()]);
    assert!(e.message.windows(4).any(|w| w == b"caf\xa0"));
    lmtp.quit().await;
    daemon.stop().await;
}

#[tokio::test]
async fn alias_domain_queued_text_is_exact() {
    // Mailman test 11: the stored text is the original headers plus the three added fields.
    let site = Site::new(free_port());
    let mut site = site;
    site.set("runner.enabled", false);
    site.ok(&[
        "domains",
        "add",
        "example.com",
        "--alias-domain",
        "x.example.com",
    ]);
    site.ok(&["lists", "create", "test@example.com"]);
    let daemon = site.start().await;
    let message = b"From: anne@example.com\r\nTo: test@example.com\r\nSubject: An alias\r\nMessage-ID: <aardvark>\r\n\r\n";
    let mut lmtp = Lmtp::connect(site.lmtp).await;
    let d = lmtp
        .send("anne@example.com", &["test@x.example.com"], message)
        .await;
    assert_eq!(d.data[0].code, 250, "{d:?}");
    let e = settled(&site, 1).await.pop().unwrap();
    assert_eq!(e.attr("list"), Some("test@example.com"));
    assert_eq!(
        String::from_utf8_lossy(&e.message),
        "From: anne@example.com\r\nTo: test@example.com\r\nSubject: An alias\r\nMessage-ID: <aardvark>\r\n\
         Message-ID-Hash: 75E2XSUXAFQGWANWEROVQ7JGYMNWHJBT\r\nX-Message-ID-Hash: 75E2XSUXAFQGWANWEROVQ7JGYMNWHJBT\r\n\
         X-MailFrom: anne@example.com\r\n\r\n"
    );
    lmtp.quit().await;
    daemon.stop().await;
}

#[tokio::test]
async fn python_smtplib_mixed_recipients() {
    let site = site();
    site.ok(&["lists", "create", "other@example.com"]);
    let daemon = site.start().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/intake/smtplib_lmtp.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([
            "127.0.0.1",
            &site.lmtp.port().to_string(),
            "anne@example.com",
        ])
        .args([
            "test@example.com",
            "nobody@example.com",
            "other-request@example.com",
            "test@nowhere.example",
            "other@example.com",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&msg("", Some("<py@example.com>")))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes = |key: &str| -> Vec<i64> {
        result[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_i64().unwrap())
            .collect()
    };
    assert_eq!(codes("rcpt"), vec![250, 550, 250, 550, 250]);
    assert_eq!(
        codes("data"),
        vec![250, 250, 250],
        "one reply per accepted recipient, in order"
    );
    for feature in [
        "pipelining",
        "enhancedstatuscodes",
        "8bitmime",
        "smtputf8",
        "size",
        "chunking",
    ] {
        assert!(
            result["lhlo"].get(feature).is_some(),
            "LHLO advertises {feature}: {}",
            result["lhlo"]
        );
    }
    settled(&site, 3).await;
    let c = counts(&site);
    assert_eq!(c.get("incoming"), Some(&2));
    assert_eq!(c.get("command"), Some(&1));
    daemon.stop().await;
}

#[tokio::test]
async fn cli_changes_are_seen_without_restart() {
    let site = site();
    let daemon = site.start().await;
    let mut lmtp = Lmtp::connect(site.lmtp).await;
    lmtp.command("MAIL FROM:<anne@example.com>").await;
    assert_eq!(lmtp.command("RCPT TO:<new@example.com>").await.code, 550);
    lmtp.command("RSET").await;
    site.ok(&["lists", "create", "new@example.com"]);
    // The daemon polls the change counter every 250 ms; allow a generous second and a half.
    let mut seen = false;
    for _ in 0..15 {
        lmtp.command("MAIL FROM:<anne@example.com>").await;
        let code = lmtp.command("RCPT TO:<new@example.com>").await.code;
        lmtp.command("RSET").await;
        if code == 250 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "a list created with the CLI is accepted within 1.5 s");
    lmtp.quit().await;
    daemon.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_answers_421_at_the_next_command() {
    let site = site();
    let daemon = site.start().await;
    let mut lmtp = Lmtp::connect(site.lmtp).await;
    assert_eq!(lmtp.command("MAIL FROM:<anne@example.com>").await.code, 250);
    let pid = daemon.pid();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    // The open transaction may still finish: RCPT and DATA work, then the session closes.
    assert_eq!(lmtp.command("RCPT TO:<test@example.com>").await.code, 250);
    assert_eq!(lmtp.command("DATA").await.code, 354);
    let mut body = msg("", Some("<late@example.com>"));
    body.extend_from_slice(b".\r\n");
    lmtp.raw(&body).await;
    assert_eq!(
        lmtp.reply().await.code,
        250,
        "the transaction in flight is committed"
    );
    let next = lmtp.command("MAIL FROM:<anne@example.com>").await;
    assert_eq!(
        (next.code, next.text.starts_with("4.3.2")),
        (421, true),
        "{next:?}"
    );
    daemon.wait_exit().await;
    assert_eq!(settled(&site, 1).await.len(), 1);
}

#[tokio::test]
async fn unix_socket_listener() {
    let mut site = site();
    let socket = site.path("run/lmtp.sock");
    site.set(
        "lmtp.listen",
        toml::Value::Array(vec![
            toml::Value::String(site.lmtp.to_string()),
            toml::Value::String(format!("unix:{}", socket.display())),
        ]),
    );
    let daemon = site.start().await;
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .expect("the Unix socket is listening");
    let mut lmtp = Lmtp::over(stream).await;
    let d = lmtp
        .send(
            "anne@example.com",
            &["test@example.com"],
            &msg("", Some("<unix@example.com>")),
        )
        .await;
    assert_eq!(d.data[0].code, 250);
    daemon.stop().await;
    assert!(!socket.exists(), "the socket file is removed at shutdown");
}

#[tokio::test]
async fn full_disk_gets_4xx_for_every_recipient_and_loses_nothing() {
    let mut site = Site::new(free_port());
    let var = site.path("small-var");
    std::fs::create_dir_all(&var).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&var)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root and mount permission)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(var.clone());
    site.set("paths.var_dir", var.display().to_string());
    site.set(
        "database.url",
        format!("sqlite:{}", site.path("db/mailcast.db").display()),
    );
    site.set("runner.enabled", false);
    site.set("lmtp.max_message_size", 16_000_000);
    site.ok(&["domains", "add", "example.com"]);
    site.ok(&["lists", "create", "test@example.com"]);
    site.ok(&["lists", "create", "other@example.com"]);
    let daemon = site.start().await;
    // Fill the file system, leaving less room than the next message needs.
    let filler = var.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[0u8; 65536]).is_ok() {}
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(16384)).unwrap();
    }
    let mut big = msg("", Some("<big@example.com>"));
    big.extend(
        std::iter::repeat_n(
            b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n".as_slice(),
            4000,
        )
        .flatten(),
    );
    let mut lmtp = Lmtp::connect(site.lmtp).await;
    let d = lmtp
        .send(
            "anne@example.com",
            &["test@example.com", "other@example.com"],
            &big,
        )
        .await;
    assert_eq!(d.data.len(), 2);
    for r in &d.data {
        assert!(
            (400..500).contains(&r.code),
            "a full disk is a temporary failure: {d:?}"
        );
    }
    // Room again: the same connection goes on and the message is accepted.
    std::fs::remove_file(&filler).unwrap();
    let d = lmtp
        .send(
            "anne@example.com",
            &["test@example.com", "other@example.com"],
            &big,
        )
        .await;
    assert!(d.data.iter().all(|r| r.code == 250), "{d:?}");
    lmtp.quit().await;
    daemon.stop().await;
    let all = entries_in(&var);
    assert_eq!(
        all, 2,
        "both recipients of the accepted message, nothing from the refused one"
    );
}

fn entries_in(var: &Path) -> usize {
    let mut n = 0;
    for stage in ["incoming", "command", "bounces"] {
        if let Ok(buckets) = std::fs::read_dir(var.join("spool").join(stage)) {
            for b in buckets.flatten() {
                n += std::fs::read_dir(b.path()).map(|d| d.count()).unwrap_or(0);
            }
        }
    }
    n
}
