//! The DMARC policy of a From domain, looked up as Mailman 3 does (mailman3-more.md §3.2
//! steps 4–5), for the `dmarc-mitigation` rule.
//!
//! TXT `_dmarc.<domain>`: NXDOMAIN or no answer keeps looking; any other failure (timeout,
//! SERVFAIL, no name server) is [`FromDmarc::Failed`], which Mailman mitigates; CNAMEs are
//! followed by the resolver. Exactly one DMARC record with `p=reject` or `p=quarantine` is
//! [`FromDmarc::Strict`]; any other record, or several (RFC 7489 §6.6.3), is
//! [`FromDmarc::Lax`] and ends the search. With nothing at the domain, the organizational
//! domain (the Public Suffix List, compiled in by the `psl` crate) is asked the same way,
//! its `sp=` winning over `p=`. Nothing anywhere is [`FromDmarc::Lax`].

pub mod carry;
mod record;

use std::fmt;

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use mailcast_pipeline::context::FromDmarc;

pub use record::{RecordSet, is_dmarc_record};

use super::Dns;

/// Why a `_dmarc` query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No answer within `[dns] timeout` on any attempt.
    #[error("the query timed out")]
    Timeout,
    /// The server answered with an error code (SERVFAIL, REFUSED, …).
    #[error("the name server answered {0}")]
    Server(String),
    /// No name server could be reached.
    #[error("no name server could be reached")]
    NoNameServers,
    /// The domain is not a name that can be asked.
    #[error("{0:?} is not a domain name that can be queried")]
    BadName(String),
    /// Any other resolver failure.
    #[error("{0}")]
    Other(String),
}

/// What the lookup found, with what the log and the metrics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmarcOutcome {
    /// One record asking for `reject` or `quarantine` (`sp=` at the organizational domain).
    Strict {
        /// The `_dmarc` name that held it.
        name: String,
        /// `reject` or `quarantine`.
        policy: String,
        /// The record as published.
        record: String,
    },
    /// One record whose policy asks for no mitigation (`none`, or a value not understood).
    Relaxed {
        /// The `_dmarc` name that held it.
        name: String,
        /// The policy value.
        policy: String,
    },
    /// Several DMARC records at one name: no policy applies (RFC 7489 §6.6.3).
    Several {
        /// The `_dmarc` name that held them.
        name: String,
        /// How many.
        count: usize,
    },
    /// No DMARC record at the domain or its organizational domain.
    NoRecord,
    /// A query failed: Mailman mitigates when in doubt.
    Failed {
        /// The `_dmarc` name asked.
        name: String,
        /// Why.
        error: LookupError,
    },
}

impl DmarcOutcome {
    /// What the pipeline's rule is told.
    pub fn facts(&self) -> FromDmarc {
        match self {
            DmarcOutcome::Strict { .. } => FromDmarc::Strict,
            DmarcOutcome::Failed { .. } => FromDmarc::Failed,
            DmarcOutcome::Relaxed { .. }
            | DmarcOutcome::Several { .. }
            | DmarcOutcome::NoRecord => FromDmarc::Lax,
        }
    }

    /// The `result` label of `mailcast_dmarc_lookups_total`.
    pub fn label(&self) -> &'static str {
        match self {
            DmarcOutcome::Strict { .. } => "strict",
            DmarcOutcome::Relaxed { .. } => "relaxed",
            DmarcOutcome::Several { .. } => "several",
            DmarcOutcome::NoRecord => "no_record",
            DmarcOutcome::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for DmarcOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DmarcOutcome::Strict {
                name,
                policy,
                record,
            } => write!(f, "{name} publishes p={policy} ({record:?})"),
            DmarcOutcome::Relaxed { name, policy } => {
                write!(f, "{name} publishes p={policy:?}: no mitigation")
            }
            DmarcOutcome::Several { name, count } => write!(
                f,
                "{name} has {count} DMARC records: ignored (RFC 7489 §6.6.3), no mitigation"
            ),
            DmarcOutcome::NoRecord => write!(f, "no DMARC record"),
            DmarcOutcome::Failed { name, error } => {
                write!(f, "unable to query DMARC policy at {name}: {error}")
            }
        }
    }
}

/// The organizational domain of `domain` by the Public Suffix List (lower case, no final
/// dot), or `None` when the domain is itself a public suffix.
pub fn organizational_domain(domain: &str) -> Option<String> {
    let domain = normalize(domain);
    psl::domain_str(&domain).map(str::to_owned)
}

/// The facts for the pipeline when `domain` must be looked up: with no resolver (a process
/// started without one), the lookup counts as failed, and Mailman mitigates.
pub async fn facts_for(dns: Option<&Dns>, domain: &str) -> FromDmarc {
    match dns {
        Some(dns) => lookup(dns, domain).await.facts(),
        None => {
            tracing::warn!(domain, "DMARC: no resolver in this process; mitigating");
            FromDmarc::Failed
        }
    }
}

/// Looks up the policy for a From domain; logs the outcome and counts it.
pub async fn lookup(dns: &Dns, domain: &str) -> DmarcOutcome {
    let outcome = search(dns, &normalize(domain)).await;
    metrics::counter!("mailcast_dmarc_lookups_total", "result" => outcome.label()).increment(1);
    match &outcome {
        DmarcOutcome::Failed { .. } => tracing::warn!(domain, "DMARC: {outcome}; mitigating"),
        DmarcOutcome::Strict { .. } => tracing::info!(domain, "DMARC: {outcome}"),
        _ => tracing::debug!(domain, "DMARC: {outcome}"),
    }
    outcome
}

async fn search(dns: &Dns, domain: &str) -> DmarcOutcome {
    if let Some(found) = at(dns, domain, false).await {
        return found;
    }
    match organizational_domain(domain) {
        Some(org) if org != domain => at(dns, &org, true).await.unwrap_or(DmarcOutcome::NoRecord),
        _ => DmarcOutcome::NoRecord,
    }
}

/// One `_dmarc.<domain>` query; `None` means keep looking.
async fn at(dns: &Dns, domain: &str, organizational: bool) -> Option<DmarcOutcome> {
    let name = format!("_dmarc.{domain}.");
    let txts = match query(dns, &name).await {
        Ok(txts) => txts,
        Err(error) => return Some(DmarcOutcome::Failed { name, error }),
    };
    let set = RecordSet::read(&txts);
    let policy = set.policy(organizational).map(str::to_owned);
    match (set, policy) {
        (RecordSet::None, _) => None,
        (RecordSet::Several(count), _) => Some(DmarcOutcome::Several { name, count }),
        (RecordSet::One { text, .. }, Some(policy))
            if policy == "reject" || policy == "quarantine" =>
        {
            Some(DmarcOutcome::Strict {
                name,
                policy,
                record: text,
            })
        }
        (RecordSet::One { .. }, policy) => Some(DmarcOutcome::Relaxed {
            name,
            policy: policy.unwrap_or_default(),
        }),
    }
}

/// The TXT strings at `name` (each record's character-strings joined); NXDOMAIN and no data
/// are an empty set.
async fn query(dns: &Dns, name: &str) -> Result<Vec<Vec<u8>>, LookupError> {
    let parsed = Name::from_utf8(name).map_err(|_| LookupError::BadName(name.to_owned()))?;
    let lookup = match dns.resolver().lookup(parsed, RecordType::TXT).await {
        Ok(lookup) => lookup,
        Err(e) if e.is_no_records_found() => return Ok(Vec::new()),
        Err(e) => return Err(classify(e)),
    };
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

fn classify(error: NetError) -> LookupError {
    match error {
        NetError::Timeout => LookupError::Timeout,
        NetError::NoConnections => LookupError::NoNameServers,
        NetError::Dns(DnsError::ResponseCode(code)) => LookupError::Server(code.to_string()),
        other => LookupError::Other(other.to_string()),
    }
}

fn normalize(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizational_domains() {
        for (domain, org) in [
            ("example.com", Some("example.com")),
            ("mail.Example.COM.", Some("example.com")),
            ("a.b.example.co.uk", Some("example.co.uk")),
            ("co.uk", None),
            // Not in the list: the default rule, one label of suffix.
            ("mail.orgsp.test", Some("orgsp.test")),
        ] {
            assert_eq!(organizational_domain(domain).as_deref(), org, "{domain}");
        }
    }

    #[test]
    fn outcomes_to_facts() {
        let failed = DmarcOutcome::Failed {
            name: "_dmarc.x.".into(),
            error: LookupError::Timeout,
        };
        assert_eq!(failed.facts(), FromDmarc::Failed);
        assert_eq!(DmarcOutcome::NoRecord.facts(), FromDmarc::Lax);
        let several = DmarcOutcome::Several {
            name: "_dmarc.x.".into(),
            count: 2,
        };
        assert_eq!(several.facts(), FromDmarc::Lax);
    }
}
