//! SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN: choosing the mechanism and writing
//! the client's lines. The session decides when (after the hello, and after TLS when it is
//! used) and what a reply means.
//!
//! PLAIN goes in one command with its initial response: `AUTH PLAIN base64(\0user\0password)`.
//! LOGIN answers two 334 prompts, the user name and then the password, each in base64. The
//! credentials are written only into the output buffer, never into an error or a log.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::security::{AuthMechanism, Credentials};

/// Where an AUTH exchange stands: which reply the client waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthWait {
    /// The reply to `AUTH PLAIN <response>`: 235, or a refusal.
    Plain,
    /// The reply to `AUTH LOGIN`: the 334 prompt for the user name.
    LoginUser,
    /// The reply to the user name: the 334 prompt for the password.
    LoginPassword,
    /// The reply to the password: 235, or a refusal.
    LoginDone,
}

/// The mechanism to use: the configured one if the server offers it, else PLAIN, then LOGIN.
/// The error says what the server offers.
pub(crate) fn choose(
    wanted: Option<AuthMechanism>,
    offered: &[String],
) -> Result<AuthMechanism, String> {
    let is_offered = |mechanism: AuthMechanism| offered.iter().any(|m| m == mechanism.name());
    let candidates = match wanted {
        Some(mechanism) => vec![mechanism],
        None => vec![AuthMechanism::Plain, AuthMechanism::Login],
    };
    if let Some(mechanism) = candidates.into_iter().find(|&m| is_offered(m)) {
        return Ok(mechanism);
    }
    let offers = if offered.is_empty() {
        "no AUTH at all".to_string()
    } else {
        format!("AUTH {}", offered.join(" "))
    };
    let wanted = match wanted {
        Some(mechanism) => format!("AUTH {}", mechanism.name()),
        None => "AUTH PLAIN or LOGIN".to_string(),
    };
    Err(format!(
        "the relay does not offer {wanted} (it offers {offers})"
    ))
}

/// Writes the first AUTH command; returns the reply to wait for.
pub(crate) fn start(out: &mut Vec<u8>, mechanism: AuthMechanism, creds: &Credentials) -> AuthWait {
    match mechanism {
        AuthMechanism::Plain => {
            let mut response = Vec::with_capacity(creds.user.len() + creds.password.len() + 2);
            response.push(0);
            response.extend_from_slice(creds.user.as_bytes());
            response.push(0);
            response.extend_from_slice(creds.password.as_bytes());
            out.extend_from_slice(b"AUTH PLAIN ");
            out.extend_from_slice(STANDARD.encode(&response).as_bytes());
            out.extend_from_slice(b"\r\n");
            AuthWait::Plain
        }
        AuthMechanism::Login => {
            out.extend_from_slice(b"AUTH LOGIN\r\n");
            AuthWait::LoginUser
        }
    }
}

/// Answers a 334 prompt of LOGIN; returns the reply to wait for next.
pub(crate) fn answer(out: &mut Vec<u8>, wait: AuthWait, creds: &Credentials) -> Option<AuthWait> {
    let (secret, next) = match wait {
        AuthWait::LoginUser => (&creds.user, AuthWait::LoginPassword),
        AuthWait::LoginPassword => (&creds.password, AuthWait::LoginDone),
        AuthWait::Plain | AuthWait::LoginDone => return None,
    };
    out.extend_from_slice(STANDARD.encode(secret.as_bytes()).as_bytes());
    out.extend_from_slice(b"\r\n");
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            user: "tim".into(),
            password: "tanstaaftanstaaf".into(),
            mechanism: None,
            allow_plaintext: false,
        }
    }

    #[test]
    fn plain_is_one_line_with_the_initial_response() {
        let mut out = Vec::new();
        assert_eq!(
            start(&mut out, AuthMechanism::Plain, &creds()),
            AuthWait::Plain
        );
        // RFC 4616's example identity, base64 of "\0tim\0tanstaaftanstaaf".
        assert_eq!(out, b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    }

    #[test]
    fn login_answers_two_prompts() {
        let mut out = Vec::new();
        let wait = start(&mut out, AuthMechanism::Login, &creds());
        let wait = answer(&mut out, wait, &creds()).unwrap();
        let wait = answer(&mut out, wait, &creds()).unwrap();
        assert_eq!(wait, AuthWait::LoginDone);
        assert_eq!(answer(&mut out, wait, &creds()), None);
        assert_eq!(out, b"AUTH LOGIN\r\ndGlt\r\ndGFuc3RhYWZ0YW5zdGFhZg==\r\n");
    }

    #[test]
    fn choice_by_what_is_offered() {
        let offered = |list: &[&str]| list.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        type Case<'a> = (
            Option<AuthMechanism>,
            &'a [&'a str],
            Result<AuthMechanism, &'a str>,
        );
        let cases: &[Case] = &[
            (None, &["LOGIN", "PLAIN"], Ok(AuthMechanism::Plain)),
            (None, &["CRAM-MD5", "LOGIN"], Ok(AuthMechanism::Login)),
            (
                Some(AuthMechanism::Login),
                &["PLAIN", "LOGIN"],
                Ok(AuthMechanism::Login),
            ),
            (
                Some(AuthMechanism::Login),
                &["PLAIN"],
                Err("the relay does not offer AUTH LOGIN (it offers AUTH PLAIN)"),
            ),
            (
                None,
                &[],
                Err("the relay does not offer AUTH PLAIN or LOGIN (it offers no AUTH at all)"),
            ),
        ];
        for (wanted, list, expected) in cases {
            let got = choose(*wanted, &offered(list));
            assert_eq!(got, expected.map_err(String::from), "{wanted:?} {list:?}");
        }
    }
}
