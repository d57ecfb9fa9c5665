//! DKIM signing end to end: keys made by `mailcast dkim keygen` (RSA-2048 for one list
//! domain, Ed25519 for another), posts over LMTP to a bulk list and a personalized list, and
//! every copy the SMTP sink receives verified by dkimpy, a verifier we did not write, with the
//! keys keygen printed published in a real DNS server on loopback (NSD, tests/support/nsd.rs)
//! and asked from it (tests/support/dkimpy.rs). A header
//! added after signing (a second Subject) and a changed body fail verification; a list whose
//! domain has no key sends unsigned mail; a key file that is not a key stops the start with a
//! one-line error naming it.
//!
//! dkimpy (with PyNaCl and dnspython) is in `<repo>/.venv` and NSD is installed, both by
//! `scripts/tools-install.sh`; without them the test fails under `CI=true` and is skipped
//! otherwise.

mod support;

use mailcast_outbound::sink::{Received, SinkConfig};
use support::dkimpy::{self, txt_data};
use support::nsd::{Nsd, Zone};
use support::{Site, header, message, post, received_by, sink_port, start_sink, wait_until};

const BULK: &str = "ant@example.org";
const PERSONAL: &str = "bee@example.net";
const UNSIGNED: &str = "cat@nokey.example";
const MEMBERS: &[&str] = &["anne@example.com", "bart@example.com", "cleo@example.com"];

fn key_table(domain: &str) -> toml::Value {
    let mut table = toml::Table::new();
    table.insert("selector".into(), "mc1".into());
    table.insert("key".into(), format!("var/dkim/{domain}.mc1.key").into());
    toml::Value::Table(table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_copy_verifies_with_dkimpy_and_tampering_breaks_it() {
    let Some(python) = dkimpy::python("dkim, nacl, dns.resolver") else {
        return;
    };
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));

    // Keys by the CLI: one line each, the TXT record to publish.
    let rsa = site.ok(&["dkim", "keygen", "example.org", "mc1"]);
    let ed = site.ok(&["dkim", "keygen", "example.net", "mc1", "--ed25519"]);
    for (out, k) in [(&rsa, "rsa"), (&ed, "ed25519")] {
        assert_eq!(out.lines().count(), 1, "{out}");
        let domain = if k == "rsa" {
            "example.org"
        } else {
            "example.net"
        };
        let prefix = format!("mc1._domainkey.{domain}. IN TXT \"v=DKIM1; k={k}; p=");
        assert!(out.starts_with(&prefix), "{out}");
    }
    let key = site.path("var/dkim/example.org.mc1.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let again = site.fails(&["dkim", "keygen", "example.org", "mc1"]);
    assert!(again.contains("refusing to overwrite"), "{again}");
    let zones = [
        Zone::new("example.org").txt("mc1._domainkey", &txt_data(&rsa)),
        Zone::new("example.net").txt("mc1._domainkey", &txt_data(&ed)),
    ];
    let Some(nsd) = Nsd::start(&zones) else {
        return;
    };

    site.set("dkim.example.org", key_table("example.org"));
    site.set("dkim.example.net", key_table("example.net"));
    site.create_list(BULK, MEMBERS, &["owner@example.org"], &[]);
    site.create_list(PERSONAL, MEMBERS, &["owner@example.net"], &[]);
    site.create_list(UNSIGNED, MEMBERS, &["owner@nokey.example"], &[]);
    site.ok(&["lists", "set", PERSONAL, "personalize=full"]);
    let daemon = site.start().await;

    for list in [BULK, PERSONAL, UNSIGNED] {
        let text = message("anne@example.com", list, "Hello", "Hi all\n\n-- \nAnne\n");
        let reply = post(site.lmtp, "anne@example.com", list, &text).await;
        assert_eq!(reply.code, 250, "{list}: {reply:?}");
    }
    // A non-member's post is held: the owner's notice is generated mail, signed as well.
    let held = message("zed@example.com", BULK, "From outside", "Let me in\n");
    let reply = post(site.lmtp, "zed@example.com", BULK, &held).await;
    assert_eq!(reply.code, 250, "{reply:?}");

    let from_list = |r: &Received, list: &str| {
        let local = list.split('@').next().unwrap();
        r.mail_from.starts_with(&format!("{local}-bounces"))
    };
    let mut received = Vec::new();
    wait_until("every member's copies and the owner's notice", || {
        received = sink.received();
        let copies = |list| {
            MEMBERS
                .iter()
                .all(|m| received_by(&received, m).iter().any(|r| from_list(r, list)))
        };
        copies(BULK)
            && copies(PERSONAL)
            && copies(UNSIGNED)
            && !received_by(&received, "owner@example.org").is_empty()
    })
    .await;
    daemon.stop().await;

    let signed: Vec<&Received> = received
        .iter()
        .filter(|r| {
            from_list(r, BULK)
                || from_list(r, PERSONAL)
                || r.rcpts.iter().any(|x| x == "owner@example.org")
        })
        .collect();
    // Bulk: one transaction for the three members; personalized: one copy each; the notice.
    assert!(signed.len() >= 5, "{signed:?}");
    for copy in &signed {
        let sig = header(&copy.data, "DKIM-Signature").expect("a DKIM-Signature");
        let domain = if from_list(copy, PERSONAL) {
            "example.net"
        } else {
            "example.org"
        };
        assert!(sig.contains(&format!("d={domain};")), "{sig}");
        let h: String = sig
            .split("h=")
            .nth(1)
            .and_then(|h| h.split(';').next())
            .unwrap()
            .split_whitespace()
            .collect();
        let froms = h
            .split(':')
            .filter(|n| n.eq_ignore_ascii_case("from"))
            .count();
        assert_eq!(froms, 2, "From is over-signed: {h}");
    }
    let copies: Vec<Vec<u8>> = signed.iter().map(|r| r.data.clone()).collect();
    assert_eq!(
        dkimpy::verify(&python, &nsd, &copies),
        vec![true; copies.len()],
        "every signed copy verifies"
    );

    // A second Subject on top, or a changed body, and the signatures fail.
    let mut tampered = Vec::new();
    for copy in &copies {
        let mut added = b"Subject: injected after signing\r\n".to_vec();
        added.extend_from_slice(copy);
        tampered.push(added);
        let mut body = copy.clone();
        body.extend_from_slice(b"one more line\r\n");
        tampered.push(body);
    }
    assert_eq!(
        dkimpy::verify(&python, &nsd, &tampered),
        vec![false; tampered.len()],
        "tampered copies fail"
    );

    // Personalized copies differ (To: per member) and each has its own valid signature.
    let personal: Vec<&&Received> = signed.iter().filter(|r| from_list(r, PERSONAL)).collect();
    assert_eq!(personal.len(), MEMBERS.len());
    assert!(personal.iter().all(|r| {
        header(&r.data, "DKIM-Signature")
            .unwrap()
            .contains("a=ed25519-sha256")
    }));

    // The list without a key sends unsigned copies.
    for copy in received.iter().filter(|r| from_list(r, UNSIGNED)) {
        assert!(header(&copy.data, "DKIM-Signature").is_none(), "{copy:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_file_stops_the_start_naming_the_key() {
    let mut site = Site::new(support::free_port());
    std::fs::create_dir_all(site.path("var/dkim")).unwrap();
    std::fs::write(site.path("var/dkim/example.org.mc1.key"), "not a key\n").unwrap();
    site.set("dkim.example.org", key_table("example.org"));
    let out = site.cli(&["serve"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("DKIM key"))
        .unwrap_or_else(|| panic!("no DKIM key error: {stderr}"));
    assert!(
        line.contains("var/dkim/example.org.mc1.key") && line.contains("not a PEM private key"),
        "{line}"
    );
}
