//! ARC end to end (`[arc]`): posts over LMTP to a bulk and a personalized list, the copies
//! the SMTP sink receives checked by dkimpy's ARC verifier, a verifier we did not write, with
//! every key in a real DNS server on loopback (NSD, `support::nsd`).
//!
//! - A post signed by its author (DKIM, author.test) and sealed by a forwarder (ARC i=1,
//!   forwarder.test), both by dkimpy (`tests/arc/dkimpy_arc.py`), arrives with a trusted
//!   upstream `Authentication-Results`, an untrusted one and a forged one claiming our
//!   authserv-id: every copy carries our results (`dkim=pass`, `dmarc=pass`, `arc=pass`) on
//!   top, the trusted upstream results and not the others, and a seal `i=2; cv=pass` that
//!   dkimpy verifies; a changed body fails verification.
//! - A post without a chain, while the daemon's DNS never answers: `dkim=temperror` and the
//!   post still delivered, sealed `i=1; cv=none`, verifying with dkimpy.
//! - A bad `[arc]` stops the start with one line naming the key; so does an Ed25519 key
//!   (ARC seals are rsa-sha256: dkimpy refuses `a=ed25519-sha256` in an ARC set).
//!
//! dkimpy (with authres for ARC) is in `<repo>/.venv`, made by `scripts/tools-install.sh`,
//! and NSD in `/usr/sbin/nsd`; without them the tests fail under `CI=true` and skip otherwise.

mod support;

use std::path::Path;
use std::process::Command;

use mailcast_outbound::sink::{Received, SinkConfig};
use support::dkimpy;
use support::nsd::{Nsd, Zone, silent_server};
use support::{Site, header, message, post, received_by, sink_port, start_sink, wait_until};

const BULK: &str = "ant@example.org";
const PERSONAL: &str = "bee@example.org";
const POSTER: &str = "anne@author.test";
const MEMBERS: &[&str] = &[POSTER, "bart@example.com", "cleo@example.com"];
const AUTHSERV_ID: &str = "lists.example.org";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/arc/dkimpy_arc.py");

fn run_script(python: &Path, args: &[String]) -> String {
    let out = Command::new(python)
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("run dkimpy_arc.py");
    assert!(
        out.status.success(),
        "dkimpy_arc.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// dkimpy's verdicts on each message: (ARC cv, DKIM verifies, reason).
fn verify(python: &Path, nsd: &Nsd, messages: &[Vec<u8>]) -> Vec<(String, bool, String)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["verify".to_string(), nsd.addr().port().to_string()];
    for (i, data) in messages.iter().enumerate() {
        let path = dir.path().join(format!("{i}.eml"));
        std::fs::write(&path, data).expect("write a copy");
        args.push(path.display().to_string());
    }
    let verdicts: Vec<(String, bool, String)> = run_script(python, &args)
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let cv = parts.next().unwrap_or_default().to_string();
            let dkim = parts.next() == Some("True");
            (cv, dkim, parts.next().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(verdicts.len(), messages.len(), "one verdict per message");
    verdicts
}

/// `mailcast dkim keygen` for `domain`/`selector`; the TXT data it prints, for NSD.
fn keygen(site: &Site, domain: &str, selector: &str, ed25519: bool) -> String {
    let mut args = vec!["dkim", "keygen", domain, selector];
    if ed25519 {
        args.push("--ed25519");
    }
    let line = site.ok(&args);
    let (_, quoted) = line.split_once(" IN TXT ").expect("a TXT record line");
    quoted
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .concat()
}

/// Every value of the header field `name`, unfolded, in order.
fn fields(data: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = current.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        out.extend(current.take());
        if let Some((field, rest)) = line.split_once(':')
            && field.eq_ignore_ascii_case(name)
        {
            current = Some(rest.trim().to_string());
        }
    }
    out.extend(current);
    out
}

fn arc_table(selector: &str, trusted: &[&str]) -> toml::Value {
    let mut table = toml::Table::new();
    table.insert("enabled".into(), true.into());
    table.insert("authserv_id".into(), AUTHSERV_ID.into());
    table.insert(
        "trusted_authserv_ids".into(),
        toml::Value::Array(trusted.iter().map(|t| (*t).into()).collect()),
    );
    table.insert("domain".into(), "example.org".into());
    table.insert("selector".into(), selector.into());
    table.insert(
        "key".into(),
        format!("var/dkim/example.org.{selector}.key").into(),
    );
    toml::Value::Table(table)
}

fn from_list(r: &Received, list: &str) -> bool {
    let local = list.split('@').next().unwrap();
    r.mail_from.starts_with(&format!("{local}-bounces"))
}

/// Posts `messages` (one per list) and waits for every member's copy of each.
async fn deliver(
    site: &Site,
    sink: &mailcast_outbound::sink::Sink,
    messages: &[(&str, Vec<u8>)],
) -> Vec<Received> {
    for (list, text) in messages {
        let reply = post(site.lmtp, POSTER, list, text).await;
        assert_eq!(reply.code, 250, "{list}: {reply:?}");
    }
    let mut received = Vec::new();
    wait_until("every member's copy of each post", || {
        received = sink.received();
        messages.iter().all(|(list, _)| {
            MEMBERS
                .iter()
                .all(|m| received_by(&received, m).iter().any(|r| from_list(r, list)))
        })
    })
    .await;
    received
        .into_iter()
        .filter(|r| messages.iter().any(|(list, _)| from_list(r, list)))
        .collect()
}

/// The `i=` and `cv=` of the copy's topmost ARC-Seal.
fn seal_of(data: &[u8]) -> (String, String) {
    let seal = header(data, "ARC-Seal").expect("an ARC-Seal");
    let tag = |name: &str| {
        seal.split(';')
            .map(str::trim)
            .find_map(|t| t.strip_prefix(name))
            .unwrap_or_default()
            .to_string()
    };
    (tag("i="), tag("cv="))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_chain_is_validated_and_continued() {
    let Some(python) = dkimpy::python("dkim, nacl, authres, dns.resolver") else {
        return;
    };
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    let author = keygen(&site, "author.test", "s1", false);
    let forwarder = keygen(&site, "forwarder.test", "f1", false);
    let ours = keygen(&site, "example.org", "arc1", false);
    let dkim = keygen(&site, "example.org", "mc1", true);
    let zones = [
        Zone::new("author.test")
            .txt("s1._domainkey", &author)
            .txt("_dmarc", "v=DMARC1; p=reject"),
        Zone::new("forwarder.test").txt("f1._domainkey", &forwarder),
        Zone::new("example.org")
            .txt("arc1._domainkey", &ours)
            .txt("mc1._domainkey", &dkim),
        // DMARC's tree walk asks up to the top-level domain.
        Zone::new("test"),
    ];
    let Some(nsd) = Nsd::start(&zones) else {
        return;
    };

    site.set(
        "dns.nameservers",
        toml::Value::Array(vec![nsd.nameserver().into()]),
    );
    for (key, value) in arc_table("arc1", &["mx.forwarder.test"])
        .as_table()
        .unwrap()
    {
        site.set(&format!("arc.{key}"), value.clone());
    }
    // The list domain signs too (DKIM after the seal, on top).
    let mut key = toml::Table::new();
    key.insert("selector".into(), "mc1".into());
    key.insert("key".into(), "var/dkim/example.org.mc1.key".into());
    site.set("dkim.example.org", toml::Value::Table(key));
    site.create_list(BULK, MEMBERS, &["owner@example.org"], &[]);
    site.create_list(PERSONAL, MEMBERS, &["owner@example.org"], &[]);
    site.ok(&["lists", "set", PERSONAL, "personalize=full"]);
    let daemon = site.start().await;

    // dkimpy signs as the author and seals as the forwarder; then an untrusted server's
    // results and a forgery of ours are put on top.
    let dir = tempfile::tempdir().unwrap();
    let mut posts = Vec::new();
    for list in [BULK, PERSONAL] {
        let plain = dir.path().join(format!("{list}.eml"));
        let sealed = dir.path().join(format!("{list}.sealed.eml"));
        std::fs::write(
            &plain,
            message(POSTER, list, "Forwarded", "Hi all\n\n-- \nAnne\n"),
        )
        .unwrap();
        run_script(
            &python,
            &[
                "forward".into(),
                site.path("var/dkim/author.test.s1.key")
                    .display()
                    .to_string(),
                site.path("var/dkim/forwarder.test.f1.key")
                    .display()
                    .to_string(),
                plain.display().to_string(),
                sealed.display().to_string(),
            ],
        );
        let mut text = format!(
            "Authentication-Results: {AUTHSERV_ID}; dkim=pass; arc=pass (forged)\r\n\
             Authentication-Results: mx.elsewhere.test; spf=fail (untrusted)\r\n"
        )
        .into_bytes();
        text.extend_from_slice(&std::fs::read(&sealed).unwrap());
        posts.push((list, text));
    }
    let upstream = verify(&python, &nsd, &[posts[0].1.clone()]);
    assert_eq!(
        upstream[0].0, "pass",
        "dkimpy's own chain verifies: {upstream:?}"
    );

    let copies = deliver(&site, &sink, &posts).await;
    daemon.stop().await;
    // Bulk: one transaction for the three members; personalized: one copy each.
    assert_eq!(copies.len(), 1 + MEMBERS.len(), "{copies:?}");
    for copy in &copies {
        let results = fields(&copy.data, "Authentication-Results");
        let ours: Vec<&String> = results
            .iter()
            .filter(|r| r.starts_with(&format!("{AUTHSERV_ID};")))
            .collect();
        assert_eq!(ours.len(), 1, "only our own results: {results:?}");
        let ours = ours[0];
        assert_eq!(&results[0], ours, "ours on top: {results:?}");
        assert!(!ours.contains("forged"), "{ours}");
        for result in [
            "dkim=pass header.i=@author.test header.s=s1",
            "dmarc=pass",
            "arc=pass",
            "spf=pass smtp.mailfrom=author.test",
        ] {
            assert!(ours.contains(result), "{result} in {ours}");
        }
        assert!(
            results.iter().any(|r| r.starts_with("mx.forwarder.test;")),
            "the trusted upstream results are kept: {results:?}"
        );
        assert!(
            !results.iter().any(|r| r.contains("mx.elsewhere.test")),
            "untrusted results are removed: {results:?}"
        );
        assert_eq!(seal_of(&copy.data), ("2".into(), "pass".into()));
        let aar = header(&copy.data, "ARC-Authentication-Results").unwrap();
        assert!(aar.starts_with(&format!("i=2; {AUTHSERV_ID}; ")), "{aar}");
        assert!(aar.contains("arc=pass"), "{aar}");
        let seal = header(&copy.data, "ARC-Seal").unwrap();
        assert!(
            seal.contains("d=example.org") && seal.contains("s=arc1"),
            "{seal}"
        );
    }
    // The list changed the post (subject prefix, footer, List-* headers): the author's
    // signature breaks, the chain still verifies through our seal.
    let data: Vec<Vec<u8>> = copies.iter().map(|r| r.data.clone()).collect();
    for (copy, (cv, signed, reason)) in data.iter().zip(verify(&python, &nsd, &data)) {
        assert_eq!(cv, "pass", "dkimpy verifies the chain: {reason}");
        assert!(signed, "and our DKIM signature");
        let first = String::from_utf8_lossy(copy);
        assert!(
            first.starts_with("DKIM-Signature: "),
            "DKIM on top of the seal"
        );
    }
    let tampered: Vec<Vec<u8>> = data
        .iter()
        .map(|copy| {
            let mut copy = copy.clone();
            copy.extend_from_slice(b"one more line\r\n");
            copy
        })
        .collect();
    for (cv, signed, reason) in verify(&python, &nsd, &tampered) {
        assert_eq!(cv, "fail", "a changed body fails: {reason}");
        assert!(!signed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_a_chain_is_sealed_first_even_when_dns_fails() {
    let Some(python) = dkimpy::python("dkim, nacl, authres, dns.resolver") else {
        return;
    };
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    let author = keygen(&site, "author.test", "s1", false);
    let ours = keygen(&site, "example.org", "arc2", false);
    let zones = [
        Zone::new("author.test").txt("s1._domainkey", &author),
        Zone::new("example.org").txt("arc2._domainkey", &ours),
    ];
    let Some(nsd) = Nsd::start(&zones) else {
        return;
    };
    // The daemon's only name server never answers; dkimpy still asks NSD.
    let (silent, _udp, _tcp) = silent_server();
    site.set(
        "dns.nameservers",
        toml::Value::Array(vec![silent.to_string().into()]),
    );
    site.set("dns.timeout", 1);
    site.set("dns.attempts", 1);
    let mut config = arc_table("arc2", &[]);
    config
        .as_table_mut()
        .unwrap()
        .insert("dmarc".into(), false.into());
    for (key, value) in config.as_table_mut().unwrap().clone() {
        site.set(&format!("arc.{key}"), value);
    }
    site.create_list(BULK, MEMBERS, &["owner@example.org"], &[]);
    site.create_list(PERSONAL, MEMBERS, &["owner@example.org"], &[]);
    site.ok(&["lists", "set", PERSONAL, "personalize=full"]);
    let daemon = site.start().await;

    let dir = tempfile::tempdir().unwrap();
    let mut posts = Vec::new();
    for list in [BULK, PERSONAL] {
        // Signed by the author through dkimpy, plus a forgery of our results.
        let plain = dir.path().join(format!("{list}.eml"));
        let signed = dir.path().join(format!("{list}.signed.eml"));
        std::fs::write(&plain, message(POSTER, list, "Direct", "Hello\n")).unwrap();
        run_script(
            &python,
            &[
                "sign".into(),
                site.path("var/dkim/author.test.s1.key")
                    .display()
                    .to_string(),
                plain.display().to_string(),
                signed.display().to_string(),
            ],
        );
        let signed = String::from_utf8(std::fs::read(&signed).unwrap()).unwrap();
        assert!(signed.starts_with("DKIM-Signature:") && !signed.contains("ARC-"));
        let text = format!("Authentication-Results: {AUTHSERV_ID}; arc=pass (forged)\r\n{signed}");
        posts.push((list, text.into_bytes()));
    }

    let copies = deliver(&site, &sink, &posts).await;
    daemon.stop().await;
    assert_eq!(copies.len(), 1 + MEMBERS.len(), "{copies:?}");
    for copy in &copies {
        let results = fields(&copy.data, "Authentication-Results");
        assert_eq!(results.len(), 1, "{results:?}");
        let ours = &results[0];
        assert!(ours.starts_with(&format!("{AUTHSERV_ID};")), "{ours}");
        assert!(
            ours.contains("dkim=temperror"),
            "a DNS failure is temperror: {ours}"
        );
        assert!(
            ours.contains("arc=none") && !ours.contains("forged"),
            "{ours}"
        );
        assert!(!ours.contains("dmarc="), "dmarc = false: {ours}");
        assert_eq!(seal_of(&copy.data), ("1".into(), "none".into()));
        assert!(
            header(&copy.data, "ARC-Seal")
                .unwrap()
                .contains("a=rsa-sha256")
        );
    }
    let data: Vec<Vec<u8>> = copies.iter().map(|r| r.data.clone()).collect();
    for (cv, _, reason) in verify(&python, &nsd, &data) {
        assert_eq!(cv, "pass", "dkimpy verifies the new chain: {reason}");
    }
    let tampered: Vec<Vec<u8>> = data
        .iter()
        .map(|copy| {
            let mut added = b"Subject: injected after sealing\r\n".to_vec();
            added.extend_from_slice(copy);
            added
        })
        .collect();
    for (cv, _, reason) in verify(&python, &nsd, &tampered) {
        assert_eq!(cv, "fail", "an added Subject fails: {reason}");
    }
}

/// The line naming `arc` that `mailcast serve` fails with.
fn start_error(site: &Site) -> String {
    let out = site.cli(&["serve"]);
    assert!(!out.status.success(), "serve started with a bad [arc]");
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find(|l| l.contains("arc"))
        .unwrap_or_else(|| panic!("no error naming [arc]: {stderr}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arc_config_stops_the_start_naming_the_key() {
    let cases: &[(&str, toml::Value, &str)] = &[
        ("authserv_id", "".into(), "key `arc.authserv_id`: required"),
        ("selector", "not a selector".into(), "key `arc.selector`"),
        ("privkey", "var/x.key".into(), "privkey"),
    ];
    for (key, value, expected) in cases {
        let mut site = Site::new(support::free_port());
        let mut config = arc_table("arc1", &[]);
        config
            .as_table_mut()
            .unwrap()
            .insert((*key).into(), value.clone());
        for (name, value) in config.as_table().unwrap() {
            site.set(&format!("arc.{name}"), value.clone());
        }
        let line = start_error(&site);
        assert!(line.contains(expected), "{key}: {line}");
    }
    // A key file that is not a key names the key and the file.
    let mut site = Site::new(support::free_port());
    std::fs::create_dir_all(site.path("var/dkim")).unwrap();
    std::fs::write(site.path("var/dkim/example.org.arc1.key"), "not a key\n").unwrap();
    for (name, value) in arc_table("arc1", &[]).as_table().unwrap() {
        site.set(&format!("arc.{name}"), value.clone());
    }
    let line = start_error(&site);
    assert!(
        line.contains("key `arc.key`") && line.contains("var/dkim/example.org.arc1.key"),
        "{line}"
    );
    // An Ed25519 key is refused: nobody would verify its seals.
    let mut site = Site::new(support::free_port());
    keygen(&site, "example.org", "arc1", true);
    for (name, value) in arc_table("arc1", &[]).as_table().unwrap() {
        site.set(&format!("arc.{name}"), value.clone());
    }
    let line = start_error(&site);
    assert!(
        line.contains("key `arc.key`") && line.contains("Ed25519") && line.contains("rsa-sha256"),
        "{line}"
    );
}
