//! Configuration: find the file, read TOML, validate it into [`Settings`].
//!
//! The flow is one way (aesthetics.md §8.6 habit 10): [`raw::RawConfig`] is what serde reads,
//! [`Settings`] is validated and resolved (absolute paths, parsed addresses), and each
//! subsystem receives only its own part. Lookup order (DESIGN.md §7.1): `--config FILE`, then
//! `$MAILCAST_CONFIG`, then `./mailcast.toml` if it exists, else the built-in defaults.
//! Relative paths resolve against the directory holding the config file, or the current
//! directory when there is none. Every error is one line naming the file and the key.

mod arc;
mod archive;
mod digests;
mod dkim;
mod dns;
mod http;
mod raw;
mod smtp_security;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use mailcast_model::settings::{SettingValue, Span};

pub use raw::RawConfig;

/// Where the LMTP server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(PathBuf),
}

/// Bare CR/LF handling in DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareLineEndings {
    /// Refuse the message with 550 5.6.0 per recipient (default).
    Reject,
    /// Accept, normalising bare LF to CRLF.
    Accept,
}

/// `[lmtp]`, validated.
#[derive(Debug, Clone)]
pub struct LmtpSettings {
    pub listen: Vec<Listen>,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub idle_timeout: Duration,
    pub data_timeout: Duration,
    pub max_connections: usize,
    /// 0 means no per-client limit.
    pub max_connections_per_ip: usize,
    pub max_line_length: usize,
    pub max_command_line: usize,
    pub max_errors: usize,
    pub bare_line_endings: BareLineEndings,
    pub chunking: bool,
    pub spill_threshold: usize,
}

/// `[smtp]`, validated.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub helo_name: String,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub max_sessions_per_connection: usize,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub use_chunking: bool,
    pub personalized_batch_size: usize,
    pub verp_personalized_deliveries: bool,
    pub verp_delivery_interval: u64,
    /// Mailman's `[mta] verp_probes`: at the bounce threshold, probe before disabling.
    pub verp_probes: bool,
    pub delivery_retry_period: Duration,
    pub retry_initial_delay: Duration,
    pub retry_max_delay: Duration,
    /// TLS to the relay (`tls`, `tls_verify`, `tls_ca_file`, `tls_server_name`).
    pub tls: mailcast_outbound::TlsConfig,
    /// SMTP AUTH to the relay (`auth_*`); `Debug` hides the password.
    pub auth: Option<mailcast_outbound::Credentials>,
}

pub use arc::ArcSettings;
pub use archive::{ArchiverSettings, HyperKittySettings};
pub use digests::DigestSettings;
pub use dkim::{
    DkimKeySettings, DkimSettings, default_key_path as default_dkim_key_path,
    is_label_list as is_dkim_selector,
};
pub use dns::DnsSettings;
pub use http::{RestSettings, WebSettings};

/// Postfix map flavour (Mailman 3's `transport_file_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFileType {
    Hash,
    Regex,
}

/// How the MTA hands list mail to mailcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtaDelivery {
    Lmtp,
    Maildir,
    Pipe,
}

/// `[mta]`, validated.
#[derive(Debug, Clone)]
pub struct MtaSettings {
    pub postmap_command: String,
    pub transport_file_type: TransportFileType,
    pub delivery: MtaDelivery,
    pub lmtp_host: String,
    pub lmtp_port: u16,
    pub mailcast_command: PathBuf,
    pub regenerate_on_change: bool,
    /// Remove the poster's DKIM-Signature, DomainKey-Signature, Authentication-Results and
    /// ARC-* headers from posts (Mailman's cleanse-dkim; default off, as in Mailman).
    pub remove_dkim_headers: bool,
}

/// `[runner]`, validated.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    pub enabled: bool,
    pub max_attempts: u32,
    pub concurrency: usize,
}

/// `[site]`'s policies: Mailman's site-wide settings for requests and automatic answers.
#[derive(Debug, Clone)]
pub struct SitePolicy {
    /// This node's name (the hostname unless `[site] node` says otherwise): held posts
    /// record it, so that a decision made on another node reaches the spool that holds them.
    pub node: String,
    /// How long a confirmation token is valid.
    pub pending_request_life: Duration,
    /// Automatic answers to one address per list per day (0: unlimited).
    pub max_autoresponses_per_day: u64,
    /// Body lines read for email commands.
    pub email_commands_max_lines: usize,
    /// Time between two runs of the periodic work.
    pub maintenance_interval: Duration,
}

/// Everything, validated and resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file read, if any.
    pub config_path: Option<PathBuf>,
    pub var_dir: PathBuf,
    /// Database URL with any relative SQLite path made absolute.
    pub database_url: String,
    pub lmtp: LmtpSettings,
    pub smtp: SmtpSettings,
    pub rest: RestSettings,
    /// `[web]`: the public one-click unsubscribe endpoint; `None` when not configured.
    pub web: Option<WebSettings>,
    pub mta: MtaSettings,
    pub maildir_enabled: bool,
    pub maildir_path: PathBuf,
    pub maildir_scan_interval: Duration,
    pub runner: RunnerSettings,
    pub hostname: String,
    pub site_owner: String,
    /// Site-wide policies (`[site]`).
    pub site: SitePolicy,
    pub log_level: String,
    pub log_json: bool,
    /// `[archiver.*]`: which archivers the site enables.
    pub archivers: ArchiverSettings,
    /// `[digests]`: the built-in periodic digest schedule.
    pub digests: DigestSettings,
    /// `[dkim."<list domain>"]`: the keys outgoing mail is signed with, by list domain.
    pub dkim: DkimSettings,
    /// `[arc]`: validation of incoming and sealing of outgoing mail; `None` when off.
    pub arc: Option<ArcSettings>,
    /// `[dns]`: the resolver (DMARC policies, DKIM and ARC keys).
    pub dns: DnsSettings,
}

impl Settings {
    /// Finds and loads the configuration as DESIGN.md §7.1 orders it.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Settings> {
        let env = std::env::var_os("MAILCAST_CONFIG").filter(|v| !v.is_empty());
        let path = match (explicit, env) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, Some(p)) => Some(PathBuf::from(p)),
            (None, None) => Some(PathBuf::from("mailcast.toml")).filter(|p| p.is_file()),
        };
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                let base = p
                    .canonicalize()
                    .with_context(|| format!("cannot resolve config file {}", p.display()))?
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("/"));
                Settings::from_toml(&text, &base, Some(p))
            }
            None => {
                let cwd = std::env::current_dir().context("cannot determine current directory")?;
                Settings::from_raw(RawConfig::default(), &cwd, None)
            }
        }
    }

    /// Parses TOML text; `base` resolves relative paths.
    pub fn from_toml(text: &str, base: &Path, path: Option<PathBuf>) -> anyhow::Result<Settings> {
        let shown = path
            .as_ref()
            .map_or_else(|| "<config>".to_string(), |p| p.display().to_string());
        let de = toml::Deserializer::parse(text).map_err(|e| {
            anyhow::anyhow!("{shown}{}: {}", line_of(text, e.span()), e.message().trim())
        })?;
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            anyhow::anyhow!(
                "{shown}{}: key `{key}`: {}",
                line_of(text, inner.span()),
                inner.message().trim()
            )
        })?;
        Settings::from_raw(raw, base, path).map_err(|e| anyhow::anyhow!("{shown}: {e:#}"))
    }

    /// Validates parsed values.
    pub fn from_raw(
        raw: RawConfig,
        base: &Path,
        config_path: Option<PathBuf>,
    ) -> anyhow::Result<Settings> {
        let resolve = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let var_dir = resolve(&raw.paths.var_dir);
        let database_url = resolve_database_url(&raw.database.url, &resolve)?;
        let lmtp = lmtp_settings(&raw.lmtp, &resolve)?;
        let smtp = smtp_settings(&raw.smtp, &resolve)?;
        let rest = http::rest_settings(&raw.rest)?;
        let web = http::web_settings(&raw.web)?;
        let hostname = match raw.site.hostname.clone() {
            Some(h) if !h.trim().is_empty() => h,
            _ => system_hostname(),
        };
        let site_owner = raw
            .site
            .site_owner
            .clone()
            .unwrap_or_else(|| format!("postmaster@{hostname}"));
        mailcast_model::EmailAddress::parse(&site_owner)
            .map_err(|e| anyhow::anyhow!("key `site.site_owner`: {e}"))?;
        let site = site_policy(&raw.site, &hostname)?;
        let mta = mta_settings(&raw.mta, &lmtp)?;
        let level = raw.logging.level.to_ascii_lowercase();
        if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
            bail!(
                "key `logging.level`: {:?} is not one of error, warn, info, debug, trace",
                raw.logging.level
            );
        }
        let log_json = match raw.logging.format.as_str() {
            "text" => false,
            "json" => true,
            other => bail!("key `logging.format`: {other:?} is not one of text, json"),
        };
        let maildir_path = raw
            .maildir
            .path
            .as_deref()
            .map(resolve)
            .unwrap_or_else(|| var_dir.join("maildir"));
        Ok(Settings {
            config_path,
            var_dir,
            database_url,
            lmtp,
            smtp,
            rest,
            web,
            mta,
            maildir_enabled: raw.maildir.enabled,
            maildir_path,
            maildir_scan_interval: Duration::from_millis(raw.maildir.scan_interval_ms.max(10)),
            runner: RunnerSettings {
                enabled: raw.runner.enabled,
                max_attempts: positive(raw.runner.max_attempts, "runner.max_attempts")? as u32,
                concurrency: positive(raw.runner.concurrency, "runner.concurrency")? as usize,
            },
            hostname,
            site_owner,
            site,
            log_level: level,
            log_json,
            archivers: ArchiverSettings::from_raw(&raw.archiver)?,
            digests: DigestSettings::from_raw(&raw.digests)?,
            dkim: dkim::dkim_settings(&raw.dkim, &resolve)?,
            arc: arc::arc_settings(&raw.arc, &resolve)?,
            dns: DnsSettings::from_raw(&raw.dns)?,
        })
    }

    /// The spool root, `<var_dir>/spool`.
    pub fn spool_dir(&self) -> PathBuf {
        self.var_dir.join("spool")
    }

    /// Opens the spool at [`Settings::spool_dir`] with the default options; the error names
    /// the directory.
    pub fn open_spool(&self) -> anyhow::Result<mailcast_spool::Spool> {
        let dir = self.spool_dir();
        mailcast_spool::Spool::open(&dir, Default::default())
            .with_context(|| format!("cannot open the spool at {}", dir.display()))
    }

    /// Where generated MTA files go, `<var_dir>/data`.
    pub fn data_dir(&self) -> PathBuf {
        self.var_dir.join("data")
    }
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(r) => format!(
            " line {}",
            text[..r.start.min(text.len())].matches('\n').count() + 1
        ),
        None => String::new(),
    }
}

fn positive(v: u64, key: &str) -> anyhow::Result<u64> {
    if v == 0 {
        bail!("key `{key}`: must be greater than 0");
    }
    Ok(v)
}

fn resolve_database_url(url: &str, resolve: &dyn Fn(&str) -> PathBuf) -> anyhow::Result<String> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let (path, query) = path
            .split_once('?')
            .map_or((path, None), |(p, q)| (p, Some(q)));
        if path.is_empty() || path == ":memory:" {
            bail!("key `database.url`: {url:?} needs a file path (sqlite:var/mailcast.db)");
        }
        let abs = resolve(path);
        Ok(match query {
            Some(q) => format!("sqlite://{}?{q}", abs.display()),
            None => format!("sqlite://{}", abs.display()),
        })
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_string())
    } else {
        bail!(
            "key `database.url`: {:?} must start with sqlite: or postgres://",
            redact_url(url)
        )
    }
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

fn parse_listen(s: &str, resolve: &dyn Fn(&str) -> PathBuf) -> anyhow::Result<Listen> {
    if let Some(path) = s.strip_prefix("unix:") {
        return Ok(Listen::Unix(resolve(path)));
    }
    if s.starts_with('/') || s.starts_with("./") {
        return Ok(Listen::Unix(resolve(s)));
    }
    let s2 = s.replace("localhost:", "127.0.0.1:");
    s2.parse()
        .map(Listen::Tcp)
        .map_err(|_| anyhow::anyhow!("key `lmtp.listen`: {s:?} is neither IP:port nor unix:PATH"))
}

fn lmtp_settings(
    raw: &raw::RawLmtp,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<LmtpSettings> {
    let listen = raw
        .listen
        .to_vec()
        .iter()
        .map(|s| parse_listen(s, resolve))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if listen.is_empty() {
        bail!("key `lmtp.listen`: at least one address is needed");
    }
    let bare_line_endings = match raw.bare_line_endings.as_str() {
        "reject" => BareLineEndings::Reject,
        "accept" => BareLineEndings::Accept,
        other => bail!("key `lmtp.bare_line_endings`: {other:?} is not one of reject, accept"),
    };
    if raw.max_recipients < 100 {
        bail!("key `lmtp.max_recipients`: RFC 5321 requires at least 100");
    }
    if raw.max_command_line < 512 {
        bail!("key `lmtp.max_command_line`: RFC 5321 requires at least 512");
    }
    if raw.max_line_length < 1000 {
        bail!("key `lmtp.max_line_length`: RFC 5321 requires at least 1000");
    }
    Ok(LmtpSettings {
        listen,
        max_message_size: positive(raw.max_message_size, "lmtp.max_message_size")?,
        max_recipients: raw.max_recipients as usize,
        idle_timeout: Duration::from_secs(positive(raw.idle_timeout, "lmtp.idle_timeout")?),
        data_timeout: Duration::from_secs(positive(raw.data_timeout, "lmtp.data_timeout")?),
        max_connections: positive(raw.max_connections, "lmtp.max_connections")? as usize,
        max_connections_per_ip: raw.max_connections_per_ip as usize,
        max_line_length: raw.max_line_length as usize,
        max_command_line: raw.max_command_line as usize,
        max_errors: positive(raw.max_errors, "lmtp.max_errors")? as usize,
        bare_line_endings,
        chunking: raw.chunking,
        spill_threshold: positive(raw.spill_threshold, "lmtp.spill_threshold")? as usize,
    })
}

fn site_policy(raw: &raw::RawSite, hostname: &str) -> anyhow::Result<SitePolicy> {
    let life = Span::parse_cli(&raw.pending_request_life)
        .map_err(|e| anyhow::anyhow!("key `site.pending_request_life`: {e}"))?;
    let node = raw
        .node
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| hostname.to_string());
    if node.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("key `site.node`: {node:?} must be one word");
    }
    Ok(SitePolicy {
        node,
        pending_request_life: Duration::from_secs(positive(
            life.seconds,
            "site.pending_request_life",
        )?),
        max_autoresponses_per_day: raw.max_autoresponses_per_day,
        email_commands_max_lines: raw.email_commands_max_lines as usize,
        maintenance_interval: Duration::from_secs(positive(
            raw.maintenance_interval,
            "site.maintenance_interval",
        )?),
    })
}

fn smtp_settings(
    raw: &raw::RawSmtp,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<SmtpSettings> {
    if raw.host.trim().is_empty() {
        bail!("key `smtp.host`: must not be empty");
    }
    let (tls, auth) = smtp_security::security(raw, resolve)?;
    let retry = Span::parse_cli(&raw.delivery_retry_period)
        .map_err(|e| anyhow::anyhow!("key `smtp.delivery_retry_period`: {e}"))?;
    Ok(SmtpSettings {
        host: raw.host.clone(),
        port: raw.port,
        helo_name: raw.helo_name.clone().unwrap_or_else(system_hostname),
        max_recipients: raw.max_recipients as usize,
        max_connections: positive(raw.max_connections, "smtp.max_connections")? as usize,
        max_sessions_per_connection: raw.max_sessions_per_connection as usize,
        connect_timeout: Duration::from_secs(positive(
            raw.connect_timeout,
            "smtp.connect_timeout",
        )?),
        command_timeout: Duration::from_secs(positive(
            raw.command_timeout,
            "smtp.command_timeout",
        )?),
        data_timeout: Duration::from_secs(positive(raw.data_timeout, "smtp.data_timeout")?),
        use_chunking: raw.use_chunking,
        personalized_batch_size: positive(
            raw.personalized_batch_size,
            "smtp.personalized_batch_size",
        )? as usize,
        verp_personalized_deliveries: raw.verp_personalized_deliveries,
        verp_delivery_interval: raw.verp_delivery_interval,
        verp_probes: raw.verp_probes,
        delivery_retry_period: Duration::from_secs(retry.seconds),
        retry_initial_delay: Duration::from_secs(positive(
            raw.retry_initial_delay,
            "smtp.retry_initial_delay",
        )?),
        retry_max_delay: Duration::from_secs(positive(
            raw.retry_max_delay,
            "smtp.retry_max_delay",
        )?),
        tls,
        auth,
    })
}

fn mta_settings(raw: &raw::RawMta, lmtp: &LmtpSettings) -> anyhow::Result<MtaSettings> {
    let transport_file_type = match raw.transport_file_type.as_str() {
        "hash" => TransportFileType::Hash,
        "regex" => TransportFileType::Regex,
        other => bail!("key `mta.transport_file_type`: {other:?} is not one of hash, regex"),
    };
    let delivery = match raw.delivery.as_str() {
        "lmtp" => MtaDelivery::Lmtp,
        "maildir" => MtaDelivery::Maildir,
        "pipe" => MtaDelivery::Pipe,
        other => bail!("key `mta.delivery`: {other:?} is not one of lmtp, maildir, pipe"),
    };
    let tcp = lmtp.listen.iter().find_map(|l| match l {
        Listen::Tcp(a) => Some(*a),
        Listen::Unix(_) => None,
    });
    let lmtp_host = raw
        .lmtp_host
        .clone()
        .or_else(|| tcp.map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "127.0.0.1".into());
    let lmtp_port = raw.lmtp_port.or(tcp.map(|a| a.port())).unwrap_or(8024);
    let mailcast_command = match &raw.mailcast_command {
        Some(c) => PathBuf::from(c),
        None => {
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/mailcast"))
        }
    };
    Ok(MtaSettings {
        postmap_command: raw.postmap_command.clone(),
        transport_file_type,
        delivery,
        lmtp_host,
        lmtp_port,
        mailcast_command,
        regenerate_on_change: raw.regenerate_on_change,
        remove_dkim_headers: raw.remove_dkim_headers,
    })
}

/// The machine's host name (from the kernel), or `localhost`.
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests;
