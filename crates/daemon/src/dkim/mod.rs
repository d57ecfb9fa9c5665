//! DKIM signing of the mail mailcast sends (RFC 6376, RFC 8463): one key per list domain
//! from `[dkim."<domain>"]`, loaded at start ([`Signers::load`]); the outgoing runner signs
//! each copy after all decoration, just before it goes to the relay, with `d=` the list's
//! domain. Mail of a domain without a key goes out unsigned.
//!
//! - `keys.rs`: PEM private keys (RSA, Ed25519) and their public halves.
//! - `sign.rs`: the headers to sign (over-signing), the wire form, the signature header.
//! - `keygen.rs`: `mailcast dkim keygen` (new keys, the DNS TXT record).

pub mod keygen;
pub mod keys;
pub mod sign;

use std::collections::HashMap;
use std::sync::Arc;

pub use keys::{KeyError, KeyKind, PrivateKey};
pub use sign::{DEFAULT_HEADERS, DomainSigner, SignError};

use crate::config::DkimSettings;

/// The signers of every configured list domain.
#[derive(Debug, Clone, Default)]
pub struct Signers {
    by_domain: HashMap<String, Arc<DomainSigner>>,
}

impl Signers {
    /// Reads every configured key; the first that cannot be used is the error (it names the
    /// file and the domain).
    pub fn load(settings: &DkimSettings) -> Result<Signers, KeyError> {
        let mut by_domain = HashMap::with_capacity(settings.len());
        for (domain, key) in settings {
            let private = PrivateKey::load(&key.key)?;
            let signer = DomainSigner::new(domain, &key.selector, private, key.headers.as_deref());
            by_domain.insert(domain.to_ascii_lowercase(), Arc::new(signer));
        }
        Ok(Signers { by_domain })
    }

    /// The signer of `domain`, if it has a key.
    pub fn for_domain(&self, domain: &str) -> Option<Arc<DomainSigner>> {
        if self.by_domain.is_empty() {
            return None;
        }
        self.by_domain
            .get(domain)
            .or_else(|| self.by_domain.get(&domain.to_ascii_lowercase()))
            .cloned()
    }

    /// Whether no domain signs.
    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }
}
