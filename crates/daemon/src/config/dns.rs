//! `[dns]`: the resolver the daemon asks for DMARC policies (and DKIM/ARC keys).
//!
//! `nameservers` lists `IP:port` addresses (IPv6 as `[addr]:port`), asked over UDP with a TCP
//! fallback; empty or absent means the system's (`/etc/resolv.conf`). `timeout` is Mailman's
//! `[dmarc] resolver_timeout` (seconds per attempt, default 3), `attempts` the tries per
//! name server, `cache_size` the entries of the answer cache (answers are kept for their TTL,
//! negative answers too).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

/// `[dns]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDns {
    /// `IP:port` of each name server; empty: the system's.
    pub nameservers: Vec<String>,
    /// Seconds per query attempt.
    pub timeout: u64,
    /// Attempts per name server before a lookup fails.
    pub attempts: u64,
    /// Entries in the answer cache.
    pub cache_size: u64,
}

impl Default for RawDns {
    fn default() -> RawDns {
        RawDns {
            nameservers: Vec::new(),
            timeout: 3,
            attempts: 2,
            cache_size: 8192,
        }
    }
}

/// The resolver's configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// The name servers asked, in order; empty: read the system's configuration at start.
    pub nameservers: Vec<SocketAddr>,
    /// How long one attempt waits for an answer.
    pub timeout: Duration,
    /// Attempts per name server.
    pub attempts: usize,
    /// Entries kept in the answer cache.
    pub cache_size: u64,
}

impl Default for DnsSettings {
    fn default() -> DnsSettings {
        DnsSettings::from_raw(&RawDns::default()).expect("the defaults are valid")
    }
}

impl DnsSettings {
    /// From the file's table; every error names its key.
    pub fn from_raw(raw: &RawDns) -> anyhow::Result<DnsSettings> {
        let mut nameservers = Vec::with_capacity(raw.nameservers.len());
        for (i, text) in raw.nameservers.iter().enumerate() {
            match text.trim().parse::<SocketAddr>() {
                Ok(addr) if addr.port() != 0 => nameservers.push(addr),
                _ => bail!(
                    "key `dns.nameservers[{i}]`: {text:?} is not IP:port \
                     (for example \"127.0.0.1:53\" or \"[::1]:53\")"
                ),
            }
        }
        if raw.timeout == 0 || raw.timeout > 300 {
            bail!(
                "key `dns.timeout`: {} is not a number of seconds from 1 to 300",
                raw.timeout
            );
        }
        if raw.attempts == 0 || raw.attempts > 10 {
            bail!(
                "key `dns.attempts`: {} is not a number from 1 to 10",
                raw.attempts
            );
        }
        if raw.cache_size == 0 {
            bail!("key `dns.cache_size`: must be at least 1");
        }
        Ok(DnsSettings {
            nameservers,
            timeout: Duration::from_secs(raw.timeout),
            attempts: raw.attempts as usize,
            cache_size: raw.cache_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(nameservers: &[&str]) -> RawDns {
        RawDns {
            nameservers: nameservers.iter().map(|s| s.to_string()).collect(),
            ..RawDns::default()
        }
    }

    #[test]
    fn name_servers() {
        let ok = DnsSettings::from_raw(&raw(&["127.0.0.1:5353", "[::1]:53"])).unwrap();
        assert_eq!(ok.nameservers.len(), 2);
        assert_eq!(ok.nameservers[1].port(), 53);
        assert_eq!(ok.timeout, Duration::from_secs(3));
        for bad in ["127.0.0.1", "::1:53", "localhost:53", "127.0.0.1:0", ""] {
            let err = DnsSettings::from_raw(&raw(&["127.0.0.1:53", bad])).unwrap_err();
            assert!(
                err.to_string().contains("`dns.nameservers[1]`"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bounds() {
        let zero = RawDns {
            timeout: 0,
            ..RawDns::default()
        };
        assert!(
            DnsSettings::from_raw(&zero)
                .unwrap_err()
                .to_string()
                .contains("dns.timeout")
        );
        let many = RawDns {
            attempts: 0,
            ..RawDns::default()
        };
        assert!(
            DnsSettings::from_raw(&many)
                .unwrap_err()
                .to_string()
                .contains("dns.attempts")
        );
    }
}
