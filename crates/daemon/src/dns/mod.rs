//! DNS: one resolver for the whole daemon, built once at start from `[dns]`.
//!
//! [`Dns`] wraps mail-auth's [`MessageAuthenticator`] (itself a hickory resolver), so DMARC
//! policy lookups ([`dmarc`]), DKIM and ARC verification share one cache. The cache keeps
//! every answer for its TTL, negative answers (NXDOMAIN, no data) for their SOA minimum.
//! Name servers are `[dns] nameservers` over UDP with a TCP fallback for truncated answers,
//! or, when none are configured, the system's (`/etc/resolv.conf`): a system configuration
//! that cannot be read is an error at start, naming the key to set.

pub mod dmarc;

use std::sync::Arc;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::MessageAuthenticator;

use crate::config::DnsSettings;

/// Why the resolver could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    /// `[dns] nameservers` is empty and the system's configuration is unusable.
    #[error(
        "key `dns.nameservers` is empty and the system's resolver configuration \
         (/etc/resolv.conf) cannot be read: {0}; list the name servers in [dns] nameservers"
    )]
    SystemConf(String),
    /// hickory refused the configuration.
    #[error("cannot build the DNS resolver: {0}")]
    Build(String),
}

/// The daemon's resolver; cheap to clone (one shared cache).
#[derive(Clone)]
pub struct Dns {
    authenticator: Arc<MessageAuthenticator>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns").finish_non_exhaustive()
    }
}

impl Dns {
    /// Builds the resolver from `[dns]`. No query is sent here.
    pub fn from_config(settings: &DnsSettings) -> Result<Dns, DnsSetupError> {
        let (config, mut opts) = if settings.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| DnsSetupError::SystemConf(e.to_string()))?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        opts.timeout = settings.timeout;
        opts.attempts = settings.attempts;
        opts.cache_size = settings.cache_size;
        // Names are always asked as given (absolute), never with search domains appended.
        opts.ndots = 0;
        let authenticator = MessageAuthenticator::new(config, opts)
            .map_err(|e| DnsSetupError::Build(e.to_string()))?;
        Ok(Dns {
            authenticator: Arc::new(authenticator),
        })
    }

    /// mail-auth's authenticator (DKIM, ARC), sharing this resolver and its cache.
    pub fn authenticator(&self) -> &MessageAuthenticator {
        &self.authenticator
    }

    /// The hickory resolver itself, for lookups mail-auth does not make.
    pub fn resolver(&self) -> &hickory_resolver::TokioResolver {
        self.authenticator.resolver()
    }
}
