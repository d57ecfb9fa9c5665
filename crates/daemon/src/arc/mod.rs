//! ARC (RFC 8617) under `[arc]`, Mailman's `[ARC]`: incoming messages are validated and
//! outgoing copies sealed, so that a receiver who trusts the list can tell what the
//! message's authentication looked like before the list changed it.
//!
//! - `validate.rs`: Mailman's `validate-authenticity`, run by the incoming runner on every
//!   message before anything else: DKIM, DMARC and the ARC chain as received (mail-auth over
//!   the daemon's resolver), written as our `Authentication-Results` on top.
//! - `results.rs` (pure): the `Authentication-Results` fields: authserv-ids, which are kept
//!   (trusted upstream ones), ours put on top and read back.
//! - `seal.rs`: the new ARC set on an outgoing copy, after all decoration and before the
//!   DKIM signature; once per bulk job, per copy for personalized jobs.
//!
//! **How the validation result reaches the sealer:** in the message itself. The header
//! validation writes travels with the post through the spool, holds and approvals, the
//! handlers and decoration; at delivery the sealer reads the topmost `Authentication-Results`
//! with our authserv-id (validation removed every other one claiming it, so it is ours) for
//! `cv=` and the `ARC-Authentication-Results`, and the chain's earlier sets from the
//! copy's own ARC headers. No spool metadata is needed, and a copy whose results a handler
//! removed (`remove_dkim_headers`, a wrapped post) is simply not sealed, as in Mailman.
//!
//! **Invariant:** an `Authentication-Results` with our authserv-id that reaches the sealer
//! was written by validation: no other one survives it.

pub mod results;
pub mod seal;
pub mod validate;

use std::sync::Arc;

pub use seal::{SealError, Sealer};
pub use validate::Authenticity;

use crate::config::ArcSettings;
use crate::dkim::{KeyError, KeyKind, PrivateKey};
use crate::dns::Dns;

/// Why `[arc]`'s key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArcKeyError {
    /// The file is not a usable key (the error names it).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An Ed25519 key: RFC 8617 seals are `rsa-sha256`, and verifiers (dkimpy among them)
    /// refuse any other algorithm, so every seal would fail.
    #[error(
        "{0} is an Ed25519 key; ARC seals must be rsa-sha256 (RFC 8617), which verifiers \
         insist on: make one with `mailcast dkim keygen DOMAIN SELECTOR`"
    )]
    Ed25519(std::path::PathBuf),
}

/// The two halves of `[arc]`, loaded at start.
#[derive(Debug, Clone)]
pub struct ArcSite {
    /// The validation of incoming messages.
    pub authenticity: Arc<Authenticity>,
    /// The seal of outgoing copies.
    pub sealer: Arc<Sealer>,
}

impl ArcSite {
    /// Reads the key (RSA only) and builds both halves; `dns` is the daemon's resolver.
    pub fn load(settings: &ArcSettings, dns: Dns) -> Result<ArcSite, ArcKeyError> {
        let key = PrivateKey::load(&settings.key)?;
        if key.kind() == KeyKind::Ed25519 {
            return Err(ArcKeyError::Ed25519(settings.key.clone()));
        }
        let sealer = Sealer::new(
            &settings.authserv_id,
            &settings.domain,
            &settings.selector,
            key,
            settings.sig_headers.clone(),
        );
        Ok(ArcSite {
            authenticity: Arc::new(Authenticity::new(settings, dns)),
            sealer: Arc::new(sealer),
        })
    }
}
