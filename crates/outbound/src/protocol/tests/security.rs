//! STARTTLS and AUTH in the sans-io session: what the client writes, when it asks the shell
//! for the handshake, and how it gives up. Each case is a script of server lines; the client's
//! lines come out in order, with `<TLS>` where the shell would run the handshake.

use super::super::{Session, SessionConfig, Step};
use crate::security::{AuthMechanism, Credentials, SessionSecurity, TlsMode};

const GREETING: &str = "220 mx.example ESMTP\r\n";
const EHLO_TLS: &str = "250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
const EHLO_AUTH: &str = "250-mx.example\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n";
const EHLO_PLAIN: &str = "250-mx.example\r\n250 PIPELINING\r\n";

fn config() -> SessionConfig {
    SessionConfig {
        helo_name: "client.example".into(),
        lmtp: false,
        use_chunking: false,
    }
}

fn credentials(mechanism: Option<AuthMechanism>) -> Option<Credentials> {
    Some(Credentials {
        user: "tim".into(),
        password: "tanstaaftanstaaf".into(),
        mechanism,
        allow_plaintext: false,
    })
}

fn security(starttls: TlsMode, credentials: Option<Credentials>) -> SessionSecurity {
    SessionSecurity {
        starttls,
        encrypted: false,
        credentials,
        plaintext_auth_ok: false,
    }
}

/// Opens a session feeding one server piece per read; returns what the client wrote and how
/// the opening ended (`ready`, `closed` or the error text).
fn open(security: SessionSecurity, pieces: &[&str]) -> (String, String) {
    let mut session = Session::with_security(config(), security);
    let mut pieces = pieces.iter();
    let mut out = Vec::new();
    let mut client = String::new();
    loop {
        match session.pump(&mut out) {
            Ok(Step::Write(_)) => {
                client.push_str(&String::from_utf8_lossy(&out));
                out.clear();
            }
            Ok(Step::Read(_)) => match pieces.next() {
                Some(piece) => session.receive(piece.as_bytes()),
                None => {
                    let error = session.fail(crate::trouble::SessionErrorKind::Closed);
                    return (client, error.to_string());
                }
            },
            Ok(Step::Done) if session.wants_tls() => {
                client.push_str("<TLS>\r\n");
                session.tls_established(&mut out);
            }
            Ok(Step::Done) => {
                let end = if session.is_ready() {
                    "ready"
                } else {
                    "closed"
                };
                let end = format!("{end} encrypted={}", session.is_encrypted());
                return (client, end);
            }
            Err(error) => return (client, error.to_string()),
        }
    }
}

#[test]
fn security_cases() {
    let plain = "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n";
    #[rustfmt::skip]
    let cases: Vec<(&str, SessionSecurity, Vec<&str>, String, &str)> = vec![
        (
            "STARTTLS, EHLO again, then AUTH PLAIN with the capabilities read after TLS",
            security(TlsMode::Required, credentials(None)),
            vec![GREETING, EHLO_TLS, "220 2.0.0 go ahead\r\n", EHLO_AUTH, "235 2.7.0 ok\r\n"],
            format!("EHLO client.example\r\nSTARTTLS\r\n<TLS>\r\nEHLO client.example\r\n{plain}"),
            "ready encrypted=true",
        ),
        (
            "AUTH LOGIN answers both prompts",
            security(TlsMode::Required, credentials(Some(AuthMechanism::Login))),
            vec![GREETING, EHLO_TLS, "220 go\r\n", EHLO_AUTH, "334 VXNlcm5hbWU6\r\n",
                 "334 UGFzc3dvcmQ6\r\n", "235 ok\r\n"],
            "EHLO client.example\r\nSTARTTLS\r\n<TLS>\r\nEHLO client.example\r\nAUTH LOGIN\r\n\
             dGlt\r\ndGFuc3RhYWZ0YW5zdGFhZg==\r\n".into(),
            "ready encrypted=true",
        ),
        (
            "required, not offered: QUIT, nothing else",
            security(TlsMode::Required, None),
            vec![GREETING, EHLO_PLAIN, "221 bye\r\n"],
            "EHLO client.example\r\nQUIT\r\n".into(),
            "the relay does not offer STARTTLS and [smtp] tls = \"required\" (after EHLO/LHLO)",
        ),
        (
            "required, STARTTLS refused: QUIT",
            security(TlsMode::Required, None),
            vec![GREETING, EHLO_TLS, "454 4.7.0 TLS not available\r\n", "221 bye\r\n"],
            "EHLO client.example\r\nSTARTTLS\r\nQUIT\r\n".into(),
            "the relay refused STARTTLS (454 4.7.0 TLS not available) and [smtp] tls = \"required\" (after STARTTLS)",
        ),
        (
            "opportunistic, not offered: plain session",
            security(TlsMode::Opportunistic, None),
            vec![GREETING, EHLO_PLAIN],
            "EHLO client.example\r\n".into(),
            "ready encrypted=false",
        ),
        (
            "opportunistic, STARTTLS refused: plain session",
            security(TlsMode::Opportunistic, None),
            vec![GREETING, EHLO_TLS, "454 4.7.0 later\r\n"],
            "EHLO client.example\r\nSTARTTLS\r\n".into(),
            "ready encrypted=false",
        ),
        (
            "octets injected behind the 220: a violation, no handshake",
            security(TlsMode::Required, None),
            vec![GREETING, EHLO_TLS, "220 go ahead\r\n250 injected\r\n"],
            "EHLO client.example\r\nSTARTTLS\r\n".into(),
            "protocol violation: octets after the 220 reply to STARTTLS, before the TLS handshake (response injection) (after STARTTLS)",
        ),
        (
            "capabilities from before TLS do not count: AUTH only offered in plain text",
            security(TlsMode::Required, credentials(None)),
            vec![GREETING, "250-mx.example\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n", "220 go\r\n",
                 EHLO_PLAIN, "221 bye\r\n"],
            "EHLO client.example\r\nSTARTTLS\r\n<TLS>\r\nEHLO client.example\r\nQUIT\r\n".into(),
            "cannot authenticate: the relay does not offer AUTH PLAIN or LOGIN (it offers no AUTH at all) (during AUTH)",
        ),
        (
            "credentials never go over plain text unless allowed",
            security(TlsMode::Off, credentials(None)),
            vec![GREETING, EHLO_AUTH, "221 bye\r\n"],
            "EHLO client.example\r\nQUIT\r\n".into(),
            "cannot authenticate: refusing to send the credentials over an unencrypted session (the relay is not on a loopback address; use TLS) (during AUTH)",
        ),
        (
            "plain text allowed (loopback relay)",
            SessionSecurity { plaintext_auth_ok: true, ..security(TlsMode::Off, credentials(None)) },
            vec![GREETING, EHLO_AUTH, "235 ok\r\n"],
            format!("EHLO client.example\r\n{plain}"),
            "ready encrypted=false",
        ),
        (
            "bad password: QUIT, a session failure",
            SessionSecurity { encrypted: true, ..security(TlsMode::Implicit, credentials(None)) },
            vec![GREETING, EHLO_AUTH, "535 5.7.8 Authentication credentials invalid\r\n",
                 "221 bye\r\n"],
            format!("EHLO client.example\r\n{plain}QUIT\r\n"),
            "the relay refused AUTH: 535 5.7.8 Authentication credentials invalid (during AUTH)",
        ),
        (
            "the connection lost during the QUIT still reports the reason",
            security(TlsMode::Required, None),
            vec![GREETING, EHLO_PLAIN],
            "EHLO client.example\r\nQUIT\r\n".into(),
            "the relay does not offer STARTTLS and [smtp] tls = \"required\" (after EHLO/LHLO)",
        ),
    ];
    for (name, security, pieces, client, end) in cases {
        let (got_client, got_end) = open(security, &pieces);
        assert_eq!(got_client, client, "{name}");
        assert_eq!(got_end, end, "{name}");
    }
}
