//! The configuration file as written: plain serde data, no I/O, no validation beyond types.
//!
//! Every table denies unknown keys, so a typo is an error that names the key instead of a
//! setting silently ignored. Defaults here are the documented defaults of DESIGN.md §7.2 and
//! of the README's configuration table; [`super::Settings`] validates the values.

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub paths: RawPaths,
    pub database: RawDatabase,
    pub lmtp: RawLmtp,
    pub smtp: RawSmtp,
    pub rest: RawRest,
    pub web: RawWeb,
    pub site: RawSite,
    pub mta: RawMta,
    pub maildir: RawMaildir,
    pub runner: RawRunner,
    pub logging: RawLogging,
    pub archiver: super::archive::RawArchivers,
    pub digests: super::digests::RawDigests,
    /// `[dkim."<list domain>"]`: signing keys.
    pub dkim: std::collections::BTreeMap<String, super::dkim::RawDkimKey>,
    /// `[arc]`: Mailman's `[ARC]`.
    pub arc: super::arc::RawArc,
    /// `[dns]`: the resolver.
    pub dns: super::dns::RawDns,
}

/// `[paths]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPaths {
    pub var_dir: String,
}

impl Default for RawPaths {
    fn default() -> Self {
        RawPaths {
            var_dir: "var".into(),
        }
    }
}

/// `[database]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDatabase {
    pub url: String,
}

impl Default for RawDatabase {
    fn default() -> Self {
        RawDatabase {
            url: "sqlite:var/mailcast.db".into(),
        }
    }
}

/// One listen address or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[lmtp]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLmtp {
    pub listen: OneOrMany,
    pub max_message_size: u64,
    pub max_recipients: u64,
    pub idle_timeout: u64,
    pub data_timeout: u64,
    pub max_connections: u64,
    pub max_connections_per_ip: u64,
    pub max_line_length: u64,
    pub max_command_line: u64,
    pub max_errors: u64,
    pub bare_line_endings: String,
    pub chunking: bool,
    pub spill_threshold: u64,
}

impl Default for RawLmtp {
    fn default() -> Self {
        RawLmtp {
            listen: OneOrMany::One("127.0.0.1:8024".into()),
            max_message_size: 33_554_432,
            max_recipients: 1000,
            idle_timeout: 300,
            data_timeout: 600,
            max_connections: 1000,
            max_connections_per_ip: 0,
            max_line_length: 65_536,
            max_command_line: 2048,
            max_errors: 20,
            bare_line_endings: "reject".into(),
            chunking: true,
            spill_threshold: 1_048_576,
        }
    }
}

/// `[smtp]`: the MTA that relays posts to the members.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSmtp {
    pub host: String,
    pub port: u16,
    pub helo_name: Option<String>,
    pub max_recipients: u64,
    pub max_connections: u64,
    pub max_sessions_per_connection: u64,
    pub connect_timeout: u64,
    pub command_timeout: u64,
    pub data_timeout: u64,
    pub use_chunking: bool,
    pub personalized_batch_size: u64,
    pub verp_personalized_deliveries: bool,
    pub verp_delivery_interval: u64,
    pub verp_probes: bool,
    pub delivery_retry_period: String,
    pub retry_initial_delay: u64,
    pub retry_max_delay: u64,
    /// TLS and AUTH to the relay (`config/smtp_security.rs`).
    pub tls: String,
    pub tls_verify: bool,
    pub tls_ca_file: Option<String>,
    pub tls_server_name: Option<String>,
    pub auth_user: Option<String>,
    pub auth_password: Option<String>,
    pub auth_password_file: Option<String>,
    pub auth_mechanism: Option<String>,
    pub auth_allow_plaintext: bool,
}

impl Default for RawSmtp {
    fn default() -> Self {
        RawSmtp {
            host: "127.0.0.1".into(),
            port: 25,
            helo_name: None,
            max_recipients: 500,
            max_connections: 8,
            max_sessions_per_connection: 0,
            connect_timeout: 30,
            command_timeout: 300,
            data_timeout: 600,
            use_chunking: false,
            personalized_batch_size: 100,
            verp_personalized_deliveries: false,
            verp_delivery_interval: 0,
            verp_probes: false,
            delivery_retry_period: "5d".into(),
            retry_initial_delay: 60,
            retry_max_delay: 3600,
            tls: "off".into(),
            tls_verify: true,
            tls_ca_file: None,
            tls_server_name: None,
            auth_user: None,
            auth_password: None,
            auth_password_file: None,
            auth_mechanism: None,
            auth_allow_plaintext: false,
        }
    }
}

/// `[rest]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRest {
    pub listen: String,
    pub admin_user: String,
    pub admin_pass: String,
}

impl Default for RawRest {
    fn default() -> Self {
        RawRest {
            listen: "127.0.0.1:8001".into(),
            admin_user: "restadmin".into(),
            admin_pass: "restpass".into(),
        }
    }
}

/// `[web]`: the public one-click unsubscribe endpoint (RFC 8058).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWeb {
    /// `IP:port` to listen on; empty: no endpoint, and no one-click header in posts.
    pub listen: String,
    /// The public URL the endpoint is reached at (through a TLS proxy, usually).
    pub base_url: String,
}

/// `[site]`: facts about this installation, and Mailman's site-wide policies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSite {
    pub hostname: Option<String>,
    pub site_owner: Option<String>,
    /// This node's name in a cluster sharing one database (default: the hostname).
    pub node: Option<String>,
    /// Mailman's `[mailman] pending_request_life`: how long a confirmation token lives.
    pub pending_request_life: String,
    /// Mailman's `[mta] max_autoresponses_per_day` (0: no limit).
    pub max_autoresponses_per_day: u64,
    /// Mailman's `[mailman] email_commands_max_lines`.
    pub email_commands_max_lines: u64,
    /// Seconds between two runs of the periodic work (expiring requests and held posts,
    /// decisions made on other nodes).
    pub maintenance_interval: u64,
}

impl Default for RawSite {
    fn default() -> Self {
        RawSite {
            hostname: None,
            site_owner: None,
            node: None,
            pending_request_life: "3d".into(),
            max_autoresponses_per_day: 10,
            email_commands_max_lines: 10,
            maintenance_interval: 60,
        }
    }
}

/// `[mta]`: how `mailcast mta` writes the MTA's files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMta {
    pub postmap_command: String,
    pub transport_file_type: String,
    pub delivery: String,
    pub lmtp_host: Option<String>,
    pub lmtp_port: Option<u16>,
    pub mailcast_command: Option<String>,
    pub regenerate_on_change: bool,
    /// Mailman's `[mta] remove_dkim_headers`: cleanse-dkim on posts.
    pub remove_dkim_headers: bool,
}

impl Default for RawMta {
    fn default() -> Self {
        RawMta {
            postmap_command: "/usr/sbin/postmap".into(),
            transport_file_type: "hash".into(),
            delivery: "lmtp".into(),
            lmtp_host: None,
            lmtp_port: None,
            mailcast_command: None,
            regenerate_on_change: true,
            remove_dkim_headers: false,
        }
    }
}

/// `[maildir]`: ingestion of Maildir drops.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMaildir {
    pub enabled: bool,
    pub path: Option<String>,
    pub scan_interval_ms: u64,
}

impl Default for RawMaildir {
    fn default() -> Self {
        RawMaildir {
            enabled: true,
            path: None,
            scan_interval_ms: 1000,
        }
    }
}

/// `[runner]`: the runners inside `mailcast serve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRunner {
    pub enabled: bool,
    pub max_attempts: u64,
    pub concurrency: u64,
}

impl Default for RawRunner {
    fn default() -> Self {
        RawRunner {
            enabled: true,
            max_attempts: 5,
            concurrency: 8,
        }
    }
}

/// `[logging]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLogging {
    pub level: String,
    pub format: String,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            level: "info".into(),
            format: "text".into(),
        }
    }
}
