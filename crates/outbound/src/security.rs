//! How a relay session is protected: TLS (none, STARTTLS when offered, STARTTLS required,
//! implicit TLS) and SMTP AUTH credentials. Plain data; the TLS machinery is in `tls`, the
//! protocol side (STARTTLS, AUTH exchanges) in `protocol::session` and `protocol::auth`.

use std::fmt;
use std::path::PathBuf;

/// When the session is encrypted (Mailman's `[mta] smtp_secure_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain SMTP/LMTP; STARTTLS is never sent (Mailman's `smtp`). The default.
    #[default]
    Off,
    /// STARTTLS when the relay offers it, plain otherwise (RFC 7435 opportunistic security,
    /// Postfix's `may`): the relay's certificate is not checked, and a failed handshake is
    /// followed by a plain session on a new connection.
    Opportunistic,
    /// STARTTLS, and the certificate checked unless verification is off; a relay that does
    /// not offer it gets no mail (Mailman's `starttls`, Postfix's `encrypt`/`secure`).
    Required,
    /// TLS from the first octet, usually port 465 (RFC 8314; Mailman's `smtps`).
    Implicit,
}

impl TlsMode {
    /// The name used in the configuration file.
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::Required => "required",
            TlsMode::Implicit => "implicit",
        }
    }

    /// Whether the relay's certificate is checked in this mode (when verification is on).
    pub fn authenticates(self) -> bool {
        matches!(self, TlsMode::Required | TlsMode::Implicit)
    }
}

/// TLS settings of a relay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// When to use TLS.
    pub mode: TlsMode,
    /// Check the certificate chain and that it names the relay (`required` and `implicit`).
    /// Default on.
    pub verify: bool,
    /// A PEM bundle of the certificate authorities to trust instead of the built-in webpki
    /// roots (Mozilla's list).
    pub ca_file: Option<PathBuf>,
    /// The name to check the certificate against and to send in SNI, when it is not the
    /// relay's host (for example when the host is an IP address).
    pub server_name: Option<String>,
}

impl TlsConfig {
    /// TLS off, verification on (for when it is turned on).
    pub fn off() -> TlsConfig {
        TlsConfig {
            mode: TlsMode::Off,
            verify: true,
            ca_file: None,
            server_name: None,
        }
    }
}

/// A SASL mechanism for SMTP AUTH (RFC 4954).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    /// PLAIN (RFC 4616): the credentials in the AUTH command.
    Plain,
    /// LOGIN: the user name and the password each after a 334 prompt.
    Login,
}

impl AuthMechanism {
    /// The mechanism's name on the wire and in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::Login => "LOGIN",
        }
    }

    /// Parses a mechanism name, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<AuthMechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(AuthMechanism::Plain),
            "LOGIN" => Some(AuthMechanism::Login),
            _ => None,
        }
    }
}

/// SMTP AUTH credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (authentication identity).
    pub user: String,
    /// The password.
    pub password: String,
    /// The mechanism to use; `None` picks PLAIN, then LOGIN, by what the relay offers.
    pub mechanism: Option<AuthMechanism>,
    /// Send the credentials even when the session is not encrypted. Off by default: only a
    /// relay on a loopback address or a Unix socket gets them in clear.
    pub allow_plaintext: bool,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("mechanism", &self.mechanism)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish()
    }
}

/// What the protocol core needs to know about TLS and AUTH for one session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionSecurity {
    /// Whether to send STARTTLS after the hello (never in `Off` or `Implicit`).
    pub starttls: TlsMode,
    /// The session is encrypted from the start (implicit TLS).
    pub encrypted: bool,
    /// Authenticate before the first transaction.
    pub credentials: Option<Credentials>,
    /// Credentials may go over this session unencrypted (loopback relay, or allowed).
    pub plaintext_auth_ok: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let credentials = Credentials {
            user: "lists".into(),
            password: "s3cret-Pa55".into(),
            mechanism: None,
            allow_plaintext: false,
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("lists"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(AuthMechanism::parse("plain"), Some(AuthMechanism::Plain));
        assert_eq!(AuthMechanism::parse("LOGIN"), Some(AuthMechanism::Login));
        assert_eq!(AuthMechanism::parse("CRAM-MD5"), None);
    }
}
