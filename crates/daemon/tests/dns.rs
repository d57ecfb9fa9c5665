//! The DMARC policy lookup (`mailcast::dns::dmarc`) against a real DNS server on loopback:
//! NSD serves one zone per case (tests/support/nsd.rs), the daemon's resolver is built from
//! `[dns]` settings pointing at it, and each From domain must give the outcome Mailman's rule
//! would (mailman3-more.md §3.2), with the one documented difference that `v=DMARC1 ;`
//! (whitespace before the `;`, allowed by RFC 7489) is read as a record.
//!
//! The time-out case asks a name server that is bound but never answers.

mod support;

use std::time::{Duration, Instant};

use mailcast::config::DnsSettings;
use mailcast::dns::Dns;
use mailcast::dns::dmarc::{self, DmarcOutcome, LookupError};
use mailcast_pipeline::context::FromDmarc;
use support::nsd::{Nsd, Zone};

/// The zones NSD serves.
fn zones() -> Vec<Zone> {
    let policy = |origin: &str, record: &str| Zone::new(origin).txt("_dmarc", record);
    vec![
        policy(
            "reject.test",
            "v=DMARC1; p=reject; rua=mailto:d@reject.test",
        ),
        policy("quarantine.test", "v=DMARC1; p=quarantine; pct=100"),
        policy("none.test", "v=DMARC1; p=none"),
        policy("upper.test", "v=DMARC1; P=REJECT"),
        policy("spaced.test", "v=DMARC1 ; p=reject"),
        policy("badversion.test", "v=DMARC2; p=reject"),
        policy("orgsp.test", "v=DMARC1; p=none; sp=reject"),
        policy("orgsponly.test", "v=DMARC1; sp=reject"),
        policy("orgp.test", "v=DMARC1; p=reject"),
        policy("orgspnone.test", "v=DMARC1; p=reject; sp=none"),
        Zone::new("several.test")
            .txt("_dmarc", "v=DMARC1; p=reject")
            .txt("_dmarc", "v=DMARC1; p=none"),
        Zone::new("mixed.test")
            .txt("_dmarc", "v=spf1 -all")
            .txt("_dmarc", "v=DMARC1; p=quarantine"),
        // A CNAME inside the zone, a chain of two, and one into another zone.
        Zone::new("cname.test")
            .record("_dmarc IN CNAME policy")
            .txt("policy", "v=DMARC1; p=reject")
            .record("_dmarc.chain IN CNAME hop")
            .record("hop IN CNAME policy")
            .record("_dmarc.away IN CNAME _dmarc.quarantine.test."),
        // NXDOMAIN everywhere below it, and a name with data but no TXT (no answer).
        Zone::new("empty.test").record("_dmarc.nodata IN A 127.0.0.1"),
        // SERVFAIL: NSD cannot load this zone.
        Zone::broken("broken.test"),
    ]
}

/// Each From domain and what the lookup must find (`label` is the outcome's metric label).
const CASES: &[(&str, FromDmarc, &str)] = &[
    ("reject.test", FromDmarc::Strict, "strict"),
    ("REJECT.test.", FromDmarc::Strict, "strict"),
    ("quarantine.test", FromDmarc::Strict, "strict"),
    ("none.test", FromDmarc::Lax, "relaxed"),
    ("upper.test", FromDmarc::Strict, "strict"),
    ("spaced.test", FromDmarc::Strict, "strict"),
    ("badversion.test", FromDmarc::Lax, "no_record"),
    // No record at the domain: the organizational domain's sp= wins over its p=.
    ("mail.orgsp.test", FromDmarc::Strict, "strict"),
    ("a.b.orgsp.test", FromDmarc::Strict, "strict"),
    ("orgsp.test", FromDmarc::Lax, "relaxed"),
    ("lists.orgsponly.test", FromDmarc::Strict, "strict"),
    ("mail.orgp.test", FromDmarc::Strict, "strict"),
    ("mail.orgspnone.test", FromDmarc::Lax, "relaxed"),
    ("orgspnone.test", FromDmarc::Strict, "strict"),
    // Several records: no policy (RFC 7489 §6.6.3), and the search stops there.
    ("several.test", FromDmarc::Lax, "several"),
    ("sub.several.test", FromDmarc::Lax, "several"),
    ("mixed.test", FromDmarc::Strict, "strict"),
    ("cname.test", FromDmarc::Strict, "strict"),
    ("chain.cname.test", FromDmarc::Strict, "strict"),
    ("away.cname.test", FromDmarc::Strict, "strict"),
    ("empty.test", FromDmarc::Lax, "no_record"),
    ("x.y.empty.test", FromDmarc::Lax, "no_record"),
    ("nodata.empty.test", FromDmarc::Lax, "no_record"),
    ("broken.test", FromDmarc::Failed, "failed"),
    ("mail.broken.test", FromDmarc::Failed, "failed"),
];

fn settings(nameserver: &str, timeout: u64) -> DnsSettings {
    DnsSettings {
        nameservers: vec![nameserver.parse().expect("IP:port")],
        timeout: Duration::from_secs(timeout),
        attempts: 1,
        cache_size: 64,
    }
}

#[tokio::test]
async fn policies_from_nsd() {
    let Some(nsd) = Nsd::start(&zones()) else {
        return;
    };
    let dns = Dns::from_config(&settings(&nsd.nameserver(), 3)).expect("resolver");
    let mut wrong = Vec::new();
    for &(domain, facts, label) in CASES {
        let outcome = dmarc::lookup(&dns, domain).await;
        if outcome.facts() != facts || outcome.label() != label {
            wrong.push(format!(
                "{domain}: want {facts:?}/{label}, got {:?}/{} ({outcome})",
                outcome.facts(),
                outcome.label()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\nnsd log:\n{}",
        wrong.join("\n"),
        nsd.log()
    );

    // The record that decided, and the name it was found at (the organizational domain's).
    match dmarc::lookup(&dns, "mail.orgsp.test").await {
        DmarcOutcome::Strict {
            name,
            policy,
            record,
        } => {
            assert_eq!(name, "_dmarc.orgsp.test.");
            assert_eq!(policy, "reject");
            assert_eq!(record, "v=DMARC1; p=none; sp=reject");
        }
        other => panic!("mail.orgsp.test: {other:?}"),
    }
    match dmarc::lookup(&dns, "broken.test").await {
        DmarcOutcome::Failed { error, .. } => {
            assert!(matches!(error, LookupError::Server(_)), "{error:?}")
        }
        other => panic!("broken.test: {other:?}"),
    }
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl() {
    let Some(nsd) = Nsd::start(&zones()) else {
        return;
    };
    let dns = Dns::from_config(&settings(&nsd.nameserver(), 3)).expect("resolver");
    assert_eq!(
        dmarc::lookup(&dns, "reject.test").await.facts(),
        FromDmarc::Strict
    );
    assert_eq!(
        dmarc::lookup(&dns, "x.empty.test").await.facts(),
        FromDmarc::Lax
    );
    // With the server gone, the positive and the negative answers still come from the cache.
    drop(nsd);
    assert_eq!(
        dmarc::lookup(&dns, "reject.test").await.facts(),
        FromDmarc::Strict
    );
    assert_eq!(
        dmarc::lookup(&dns, "x.empty.test").await.facts(),
        FromDmarc::Lax
    );
    // A name never asked is not: the lookup fails (and would be mitigated).
    assert_eq!(
        dmarc::lookup(&dns, "quarantine.test").await.facts(),
        FromDmarc::Failed
    );
}

#[tokio::test]
async fn a_silent_name_server_times_out() {
    let (addr, _udp, _tcp) = support::nsd::silent_server();
    let dns = Dns::from_config(&settings(&addr.to_string(), 1)).expect("resolver");
    let started = Instant::now();
    let outcome = dmarc::lookup(&dns, "reject.test").await;
    match &outcome {
        DmarcOutcome::Failed { name, error } => {
            assert_eq!(name, "_dmarc.reject.test.");
            assert_eq!(*error, LookupError::Timeout, "{outcome}");
        }
        other => panic!("a silent server: {other:?}"),
    }
    assert_eq!(outcome.facts(), FromDmarc::Failed);
    // One attempt of one second (generous bound: never asserting tight timing).
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_bad_name_server_stops_the_start_naming_the_key() {
    let mut site = support::Site::new(support::free_port());
    site.set(
        "dns.nameservers",
        toml::Value::Array(vec!["127.0.0.1:53".into(), "ns.example.org".into()]),
    );
    let out = site.cli(&["serve"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("key `dns.nameservers[1]`") && stderr.contains("\"ns.example.org\""),
        "{stderr}"
    );
    site.set("dns.nameservers", toml::Value::Array(Vec::new()));
    site.set("dns.timeout", 0);
    let out = site.cli(&["serve"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key `dns.timeout`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
