//! TLS and AUTH to the relay, against the sink: STARTTLS (required, opportunistic), implicit
//! TLS, AUTH PLAIN and LOGIN, and the failures that must defer (never fail) every recipient
//! without handing anything over. The certificates come from a throw-away CA made with
//! `openssl` for each run.

use mailcast_outbound::sink::{Sink, SinkAuth, SinkConfig, SinkTls, TestPki};
use mailcast_outbound::{
    AuthMechanism, Credentials, Envelope, RcptOutcome, Relay, RelayConfig, TlsConfig, TlsMode,
};

const BODY: &[u8] = b"Subject: tls\r\n\r\nHello over TLS.\r\n";
const USER: &str = "lists@example.org";
const PASSWORD: &str = "correct horse";

/// How the sink presents itself.
#[derive(Debug, Clone, Copy)]
enum Server {
    Plain,
    StartTls,
    Implicit,
    /// STARTTLS on offer, but the handshake never happens (the server hangs up).
    BrokenTls,
}

/// The client's trust in the sink's certificate.
#[derive(Debug, Clone, Copy)]
enum Trust {
    /// `tls_ca_file` names the test CA.
    TestCa,
    /// The built-in webpki roots, which do not know the test CA.
    BuiltIn,
    /// `tls_verify = false`.
    NoCheck,
    /// The test CA, but a `tls_server_name` the certificate does not name.
    WrongName,
}

struct Case {
    name: &'static str,
    server: Server,
    server_auth: bool,
    mode: TlsMode,
    trust: Trust,
    /// Credentials the client sends: `None`, or the password and the mechanism.
    client_auth: Option<(&'static str, Option<AuthMechanism>)>,
    /// `Some(tls)`: delivered, over TLS or not; `None`: deferred, nothing handed over.
    delivered: Option<bool>,
    /// Part of the deferral's text.
    reason: &'static str,
}

fn cases() -> Vec<Case> {
    let ok = Some((PASSWORD, None));
    vec![
        Case {
            name: "STARTTLS required, CA file, AUTH PLAIN",
            server: Server::StartTls,
            server_auth: true,
            mode: TlsMode::Required,
            trust: Trust::TestCa,
            client_auth: ok,
            delivered: Some(true),
            reason: "",
        },
        Case {
            name: "STARTTLS required, AUTH LOGIN",
            server: Server::StartTls,
            server_auth: true,
            mode: TlsMode::Required,
            trust: Trust::TestCa,
            client_auth: Some((PASSWORD, Some(AuthMechanism::Login))),
            delivered: Some(true),
            reason: "",
        },
        Case {
            name: "implicit TLS with AUTH",
            server: Server::Implicit,
            server_auth: true,
            mode: TlsMode::Implicit,
            trust: Trust::TestCa,
            client_auth: ok,
            delivered: Some(true),
            reason: "",
        },
        Case {
            name: "required, but the relay does not offer STARTTLS",
            server: Server::Plain,
            server_auth: false,
            mode: TlsMode::Required,
            trust: Trust::TestCa,
            client_auth: None,
            delivered: None,
            reason: "does not offer STARTTLS and [smtp] tls = \"required\"",
        },
        Case {
            name: "bad password",
            server: Server::StartTls,
            server_auth: true,
            mode: TlsMode::Required,
            trust: Trust::TestCa,
            client_auth: Some(("wrong", None)),
            delivered: None,
            reason: "refused AUTH: 535",
        },
        Case {
            name: "self-signed CA unknown to the built-in roots",
            server: Server::StartTls,
            server_auth: false,
            mode: TlsMode::Required,
            trust: Trust::BuiltIn,
            client_auth: None,
            delivered: None,
            reason: "TLS failed: invalid peer certificate: UnknownIssuer",
        },
        Case {
            name: "certificate for another name",
            server: Server::StartTls,
            server_auth: false,
            mode: TlsMode::Required,
            trust: Trust::WrongName,
            client_auth: None,
            delivered: None,
            reason: "TLS failed: invalid peer certificate: certificate not valid for name",
        },
        Case {
            name: "verification off",
            server: Server::StartTls,
            server_auth: false,
            mode: TlsMode::Required,
            trust: Trust::NoCheck,
            client_auth: None,
            delivered: Some(true),
            reason: "",
        },
        Case {
            name: "opportunistic encrypts without checking the certificate",
            server: Server::StartTls,
            server_auth: false,
            mode: TlsMode::Opportunistic,
            trust: Trust::BuiltIn,
            client_auth: None,
            delivered: Some(true),
            reason: "",
        },
        Case {
            name: "opportunistic goes on in plain text when STARTTLS is not offered",
            server: Server::Plain,
            server_auth: false,
            mode: TlsMode::Opportunistic,
            trust: Trust::TestCa,
            client_auth: None,
            delivered: Some(false),
            reason: "",
        },
        Case {
            name: "implicit TLS against a plain server",
            server: Server::Plain,
            server_auth: false,
            mode: TlsMode::Implicit,
            trust: Trust::TestCa,
            client_auth: None,
            delivered: None,
            reason: "TLS failed",
        },
        Case {
            name: "opportunistic: a failed handshake is followed by a plain session",
            server: Server::BrokenTls,
            server_auth: false,
            mode: TlsMode::Opportunistic,
            trust: Trust::TestCa,
            client_auth: None,
            delivered: Some(false),
            reason: "",
        },
        Case {
            name: "required: a failed handshake defers",
            server: Server::BrokenTls,
            server_auth: false,
            mode: TlsMode::Required,
            trust: Trust::TestCa,
            client_auth: None,
            delivered: None,
            reason: "TLS failed",
        },
        Case {
            name: "AUTH without TLS to a loopback relay",
            server: Server::Plain,
            server_auth: true,
            mode: TlsMode::Off,
            trust: Trust::TestCa,
            client_auth: ok,
            delivered: Some(false),
            reason: "",
        },
    ]
}

fn sink_config(case: &Case, pki: &TestPki) -> SinkConfig {
    let tls = |implicit, fail_handshake| SinkTls {
        cert_file: pki.cert_file.clone(),
        key_file: pki.key_file.clone(),
        implicit,
        fail_handshake,
    };
    SinkConfig {
        tls: match case.server {
            Server::Plain => None,
            Server::StartTls => Some(tls(false, false)),
            Server::Implicit => Some(tls(true, false)),
            Server::BrokenTls => Some(tls(false, true)),
        },
        auth: case.server_auth.then(|| SinkAuth {
            user: USER.into(),
            password: PASSWORD.into(),
        }),
        ..SinkConfig::smtp()
    }
}

fn relay_config(case: &Case, pki: &TestPki, sink: &Sink) -> RelayConfig {
    let tls = TlsConfig {
        mode: case.mode,
        verify: !matches!(case.trust, Trust::NoCheck),
        ca_file: match case.trust {
            Trust::TestCa | Trust::WrongName => Some(pki.ca_file.clone()),
            Trust::BuiltIn | Trust::NoCheck => None,
        },
        server_name: matches!(case.trust, Trust::WrongName).then(|| "mx.example.net".into()),
    };
    let auth = case.client_auth.map(|(password, mechanism)| Credentials {
        user: USER.into(),
        password: password.into(),
        mechanism,
        allow_plaintext: false,
    });
    RelayConfig {
        tls,
        auth,
        ..sink.relay_config()
    }
}

#[tokio::test]
async fn tls_and_auth_cases() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).expect("openssl makes the test PKI");
    let rcpts = ["a@members.example", "b@members.example"];
    for case in cases() {
        let name = case.name;
        let sink = Sink::start(sink_config(&case, &pki)).await.unwrap();
        let relay = Relay::new(relay_config(&case, &pki, &sink));
        let envelope = Envelope::new("list-bounces@lists.example", rcpts);
        let outcomes = relay.transaction(&envelope, BODY).await;
        assert_eq!(outcomes.len(), 2, "{name}");
        let received = sink.received();
        match case.delivered {
            Some(tls) => {
                assert!(
                    outcomes.iter().all(RcptOutcome::is_delivered),
                    "{name}: {outcomes:?}"
                );
                assert_eq!(received.len(), 1, "{name}");
                assert_eq!(received[0].data, BODY, "{name}");
                assert_eq!(received[0].tls, tls, "{name}: over TLS");
                let authenticated = case.client_auth.map(|_| USER.to_string());
                assert_eq!(received[0].authenticated, authenticated, "{name}");
            }
            None => {
                for outcome in &outcomes {
                    assert!(
                        outcome.is_temporary(),
                        "{name}: deferred, not failed: {outcome:?}"
                    );
                    let text = outcome.reply().map(|reply| reply.text).unwrap_or_default();
                    assert!(text.contains(case.reason), "{name}: {text:?}");
                }
                assert!(received.is_empty(), "{name}: nothing handed over");
                assert_eq!(sink.counters().transactions, 0, "{name}");
            }
        }
    }
}

#[tokio::test]
async fn required_but_not_offered_says_quit_and_sends_no_mail_command() {
    let sink = Sink::start(SinkConfig::smtp()).await.unwrap();
    let relay = Relay::new(RelayConfig {
        tls: TlsConfig {
            mode: TlsMode::Required,
            ..TlsConfig::off()
        },
        ..sink.relay_config()
    });
    let envelope = Envelope::new("list-bounces@lists.example", ["a@members.example"]);
    let outcomes = relay.transaction(&envelope, BODY).await;
    assert!(outcomes[0].is_temporary(), "{outcomes:?}");
    let counters = sink.counters();
    assert_eq!(counters.quits, 1, "{counters:?}");
    assert_eq!(
        counters.mail_refused + counters.transactions,
        0,
        "{counters:?}"
    );
}

#[tokio::test]
async fn pooled_tls_connections_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let sink = Sink::start(SinkConfig {
        tls: Some(SinkTls {
            cert_file: pki.cert_file.clone(),
            key_file: pki.key_file.clone(),
            implicit: false,
            fail_handshake: false,
        }),
        ..SinkConfig::smtp()
    })
    .await
    .unwrap();
    let relay = Relay::new(RelayConfig {
        max_connections: 1,
        tls: TlsConfig {
            mode: TlsMode::Required,
            ca_file: Some(pki.ca_file.clone()),
            ..TlsConfig::off()
        },
        ..sink.relay_config()
    });
    for i in 0..3 {
        let envelope = Envelope::new("list-bounces@lists.example", [format!("m{i}@x.example")]);
        let outcomes = relay.transaction(&envelope, BODY).await;
        assert!(outcomes[0].is_delivered(), "{outcomes:?}");
        // Let a TLS 1.3 session ticket arrive while the connection is idle.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sink.counters().connections, 1, "{:?}", sink.counters());
    assert_eq!(sink.counters().tls_sessions, 1);
    assert!(sink.received().iter().all(|received| received.tls));
}
