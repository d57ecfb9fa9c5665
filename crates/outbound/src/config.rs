//! Settings of the outbound side: the relay to talk to, how hard to use it, and timeouts.
//!
//! Plain data with defaults, validated by construction (every value is meaningful, 0 means
//! "unlimited" where Mailman says so). Reading them from the TOML file is the daemon's job;
//! `[smtp] host` and `port` (DESIGN.md §7.2) map to [`RelayConfig::host`] and
//! [`RelayConfig::port`].

use std::path::PathBuf;
use std::time::Duration;

use crate::connection::Target;
use crate::protocol::SessionConfig;
use crate::security::{Credentials, SessionSecurity, TlsConfig, TlsMode};

/// How long the client waits before it gives up on a session (which then defers every
/// recipient not yet answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the connection. Default 30 s (Postfix `smtp_connect_timeout`).
    pub connect: Duration,
    /// Each command reply: greeting, EHLO/LHLO, MAIL, RCPT, DATA's 354, RSET, QUIT; and each
    /// write of commands. Default 300 s (RFC 5321 §4.5.3.2).
    pub command: Duration,
    /// Each write of body octets, and the reply (LMTP: the replies) to the end of data.
    /// Default 600 s (RFC 5321's 10 minutes for the end of data).
    pub data: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(30),
            command: Duration::from_secs(300),
            data: Duration::from_secs(600),
        }
    }
}

/// Everything [`crate::Relay`] needs to reach one relay (the MTA that delivers to members)
/// and to decide how to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Host name or address of the relay. Default `127.0.0.1`.
    pub host: String,
    /// TCP port of the relay. Default 25.
    pub port: u16,
    /// When set, the relay is reached over this Unix-domain socket (usual for LMTP), and
    /// `host`/`port` are not used.
    pub unix_socket: Option<PathBuf>,
    /// The name sent in EHLO/LHLO/HELO. Default `localhost`.
    pub helo_name: String,
    /// Speak LMTP (LHLO, one reply per recipient after the data) instead of SMTP.
    pub lmtp: bool,
    /// Connections open to this relay at most, busy or idle. Default 4; at least 1 is used.
    pub max_connections: usize,
    /// Recipients per transaction in [`crate::Relay::deliver`] (Mailman's `max_recipients`);
    /// 0 means all recipients in one transaction. Default 500.
    pub max_recipients: usize,
    /// Transactions per connection before it is closed (Mailman's
    /// `max_sessions_per_connection`); 0 means unlimited. Default 0.
    pub max_transactions_per_connection: usize,
    /// How long an idle pooled connection is kept open; zero closes every connection after
    /// its transaction. Default 30 s.
    pub idle_timeout: Duration,
    /// Connect, command and data timeouts.
    pub timeouts: Timeouts,
    /// Use `BDAT <n> LAST` instead of DATA when the relay offers CHUNKING. Default off.
    pub use_chunking: bool,
    /// TLS to the relay. Default off.
    pub tls: TlsConfig,
    /// SMTP AUTH credentials, if the relay wants them. Default none.
    pub auth: Option<Credentials>,
}

impl Default for RelayConfig {
    fn default() -> RelayConfig {
        RelayConfig {
            host: "127.0.0.1".into(),
            port: 25,
            unix_socket: None,
            helo_name: "localhost".into(),
            lmtp: false,
            max_connections: 4,
            max_recipients: 500,
            max_transactions_per_connection: 0,
            idle_timeout: Duration::from_secs(30),
            timeouts: Timeouts::default(),
            use_chunking: false,
            tls: TlsConfig::off(),
            auth: None,
        }
    }
}

impl RelayConfig {
    /// Where connections go.
    pub fn target(&self) -> Target {
        match &self.unix_socket {
            Some(path) => Target::Unix(path.clone()),
            None => Target::Tcp {
                host: self.host.clone(),
                port: self.port,
            },
        }
    }

    /// What the protocol core needs for STARTTLS and AUTH. Credentials go over a plain session
    /// only to a relay on a loopback address or a Unix socket, or when explicitly allowed.
    pub fn session_security(&self) -> SessionSecurity {
        let local = match self.target() {
            Target::Unix(_) => true,
            Target::Tcp { host, .. } => is_loopback(&host),
        };
        SessionSecurity {
            starttls: self.tls.mode,
            encrypted: self.tls.mode == TlsMode::Implicit,
            plaintext_auth_ok: local || self.auth.as_ref().is_some_and(|auth| auth.allow_plaintext),
            credentials: self.auth.clone(),
        }
    }

    /// The protocol core's part of the configuration.
    pub fn session_config(&self) -> SessionConfig {
        SessionConfig {
            helo_name: self.helo_name.clone(),
            lmtp: self.lmtp,
            use_chunking: self.use_chunking,
        }
    }
}

/// Whether a relay host is this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for (host, local) in [
            ("127.0.0.1", true),
            ("127.1.2.3", true),
            ("::1", true),
            ("[::1]", true),
            ("LocalHost", true),
            ("192.0.2.1", false),
            ("relay.example.net", false),
        ] {
            assert_eq!(is_loopback(host), local, "{host}");
        }
    }
}
