//! The sink's SMTP AUTH (RFC 4954): PLAIN (RFC 4616, with or without an initial response)
//! and LOGIN, checked against the one user of [`SinkAuth`]. MAIL is refused with 530 until a
//! client authenticated. The continuation lines (base64 after a 334) are read by `session`
//! and handed to [`ServerSession::auth_line`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::session::ServerSession;

/// The credentials the sink accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkAuth {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

/// Which continuation line the sink waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AuthPending {
    /// PLAIN without an initial response: the response.
    Plain,
    /// LOGIN: the user name.
    LoginUser,
    /// LOGIN: the password, for this user.
    LoginPassword(String),
}

impl ServerSession<'_> {
    /// `AUTH <mechanism> [initial-response]`.
    pub(super) fn auth(&mut self, mechanism: u64, initial: &str) {
        let Some(_) = &self.shared.config.auth else {
            self.shared.count(|c| c.bad_commands += 1);
            return self.say_line("502 5.5.1 Command not implemented");
        };
        if self.authenticated.is_some() {
            return self.say_line("503 5.5.1 Already authenticated");
        }
        if !self.greeted || self.txn.is_some() {
            return self.say_line("503 5.5.1 Bad sequence of commands");
        }
        match mechanism {
            smtp_proto::AUTH_PLAIN if initial.is_empty() => {
                self.auth_pending = Some(AuthPending::Plain);
                self.say_line("334 ");
            }
            smtp_proto::AUTH_PLAIN => self.check_plain(initial),
            smtp_proto::AUTH_LOGIN if initial.is_empty() => {
                self.auth_pending = Some(AuthPending::LoginUser);
                self.say_line("334 VXNlcm5hbWU6");
            }
            smtp_proto::AUTH_LOGIN => self.login_user(initial),
            _ => self.say_line("504 5.5.4 Unrecognized authentication type"),
        }
    }

    /// A continuation line of an AUTH exchange (without its CRLF).
    pub(super) fn auth_line(&mut self, line: &str) {
        let Some(pending) = self.auth_pending.take() else {
            return;
        };
        if line == "*" {
            return self.say_line("501 5.7.0 Authentication cancelled");
        }
        match pending {
            AuthPending::Plain => self.check_plain(line),
            AuthPending::LoginUser => self.login_user(line),
            AuthPending::LoginPassword(user) => {
                let password = decode(line).unwrap_or_default();
                self.verdict(&user, &password);
            }
        }
    }

    fn login_user(&mut self, encoded: &str) {
        match decode(encoded) {
            Some(user) => {
                self.auth_pending = Some(AuthPending::LoginPassword(user));
                self.say_line("334 UGFzc3dvcmQ6");
            }
            None => self.say_line("501 5.5.2 Cannot decode the response"),
        }
    }

    fn check_plain(&mut self, encoded: &str) {
        let Some(decoded) = decode(encoded) else {
            return self.say_line("501 5.5.2 Cannot decode the response");
        };
        // authzid NUL authcid NUL password
        let mut parts = decoded.splitn(3, '\0');
        let (_authzid, user, password) = (parts.next(), parts.next(), parts.next());
        match (user, password) {
            (Some(user), Some(password)) => self.verdict(user, password),
            _ => self.say_line("501 5.5.2 Malformed PLAIN response"),
        }
    }

    fn verdict(&mut self, user: &str, password: &str) {
        let accepted = self
            .shared
            .config
            .auth
            .as_ref()
            .is_some_and(|auth| auth.user == user && auth.password == password);
        if accepted {
            self.authenticated = Some(user.to_string());
            self.shared.count(|c| c.auth_successes += 1);
            self.say_line("235 2.7.0 Authentication successful");
        } else {
            self.shared.count(|c| c.auth_failures += 1);
            self.say_line("535 5.7.8 Authentication credentials invalid");
        }
    }
}

fn decode(encoded: &str) -> Option<String> {
    let bytes = STANDARD.decode(encoded.trim()).ok()?;
    String::from_utf8(bytes).ok()
}
