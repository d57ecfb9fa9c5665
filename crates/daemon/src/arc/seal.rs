//! Sealing one outgoing copy (RFC 8617 §5.1): `ARC-Seal`, `ARC-Message-Signature` and
//! `ARC-Authentication-Results` with instance `i` one more than the copy's last set, put on
//! top. Pure apart from the clock mail-auth reads for `t=`.
//!
//! The chain state comes from the copy itself: the ARC sets it carries (kept through the
//! handlers and decoration) and our `Authentication-Results`, which validation put on top
//! when the message arrived ([`super::results::ours`]): its `arc=` result is the `cv=`
//! (`pass` for a chain that validated, `fail` for any other result of an existing chain,
//! `none` when there is no chain), its text the `ARC-Authentication-Results`. A copy without
//! our `Authentication-Results` (generated mail; a post whose headers a handler removed) is
//! not ours to seal and goes out as it is, as in Mailman.
//!
//! The message signature over-signs as DKIM does ([`header_names`]): From, Subject, Date and
//! the `List-*` headers are named once more than they occur, so none can be added after
//! sealing.

use mail_auth::arc::{ArcError, ArcSealer, Set};
use mail_auth::common::headers::{Header, HeaderWriter};
use mail_auth::dkim::Canonicalization;
use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimResult, Error};

use super::results;
use crate::dkim::PrivateKey;
use crate::dkim::sign::{header_names, wire_form};

/// The longest line RFC 5322 §2.1.1 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// Why a copy was not sealed; it is sent unsealed.
#[derive(Debug, thiserror::Error)]
#[error("cannot ARC-seal: {0}")]
pub struct SealError(String);

/// The site's sealer: `d=`, `s=`, the key, the headers the message signature covers, and
/// the authserv-id of our results.
#[derive(Debug)]
pub struct Sealer {
    authserv_id: String,
    domain: String,
    selector: String,
    key: PrivateKey,
    headers: Vec<String>,
}

impl Sealer {
    /// A sealer for `domain` with `selector`; `headers` are the `ARC-Message-Signature`'s.
    pub fn new(
        authserv_id: &str,
        domain: &str,
        selector: &str,
        key: PrivateKey,
        headers: Vec<String>,
    ) -> Sealer {
        Sealer {
            authserv_id: authserv_id.to_string(),
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_string(),
            key,
            headers,
        }
    }

    /// The three ARC headers (with their CRLFs) for `message`, which must already have CRLF
    /// line endings ([`wire_form`]); `None` when the message carries no results of ours.
    pub fn arc_set(&self, message: &[u8]) -> Result<Option<Vec<u8>>, SealError> {
        let Some(ours) = results::ours(message, &self.authserv_id) else {
            return Ok(None);
        };
        // "ARC-Authentication-Results: i=NN; " and the CRLF around our one line.
        if ours.text.len() + 40 > MAX_LINE {
            return Err(SealError(format!(
                "our Authentication-Results ({} octets) do not fit on one header line",
                ours.text.len()
            )));
        }
        let parsed = AuthenticatedMessage::parse(message)
            .ok_or_else(|| SealError("the header cannot be parsed".into()))?;
        if parsed.has_arc_errors {
            return Err(SealError(
                "the ARC headers it carries cannot be parsed; the chain ends here".into(),
            ));
        }
        let sets = parsed.as_headers.len();
        if sets != parsed.ams_headers.len() || sets != parsed.aar_headers.len() {
            return Err(SealError(format!(
                "its ARC sets are incomplete ({} ARC-Seal, {} ARC-Message-Signature, {} \
                 ARC-Authentication-Results)",
                sets,
                parsed.ams_headers.len(),
                parsed.aar_headers.len()
            )));
        }
        let mut chain = ArcOutput::default();
        for ((seal, signature), aar) in parsed
            .as_headers
            .iter()
            .zip(&parsed.ams_headers)
            .zip(&parsed.aar_headers)
        {
            chain = chain.with_set(Set {
                signature: Header::new(signature.name, signature.value, &signature.header),
                seal: Header::new(seal.name, seal.value, &seal.header),
                results: Header::new(aar.name, aar.value, &aar.header),
            });
        }
        let validated = match ours.arc.as_str() {
            "pass" => DkimResult::Pass,
            _ if sets == 0 => DkimResult::None,
            _ => DkimResult::Fail(Error::Arc(ArcError::BrokenChain)),
        };
        let chain = chain.with_result(validated);
        // mail-auth writes an AuthenticationResults it did not compute only this way: its
        // "host name" is written verbatim, so ours is given whole, on one line (the form
        // relaxed canonicalization gives it, so the seal covers what verifiers see).
        let aar = AuthenticationResults::new(&ours.text);
        let set = ArcSealer::from_key(self.key.signing())
            .domain(self.domain.as_str())
            .selector(self.selector.as_str())
            .headers(header_names(&self.headers, message))
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed)
            .seal(&parsed, &aar, &chain)
            .map_err(|e| SealError(e.to_string()))?;
        let mut out = Vec::with_capacity(1024);
        set.write_header(&mut out);
        Ok(Some(out))
    }

    /// `message` in its wire form with a new ARC set on top; `None` when not ours to seal.
    pub fn seal(&self, message: &[u8]) -> Result<Option<Vec<u8>>, SealError> {
        let wire = wire_form(message);
        let Some(set) = self.arc_set(&wire)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(set.len() + wire.len());
        out.extend_from_slice(&set);
        out.extend_from_slice(&wire);
        Ok(Some(out))
    }

    /// Seals a message buffer in place (the personalized copies reuse their buffers);
    /// `false` when it was not ours to seal (the buffer may be in wire form then).
    pub fn seal_in_place(&self, message: &mut Vec<u8>) -> Result<bool, SealError> {
        if let std::borrow::Cow::Owned(wire) = wire_form(message) {
            *message = wire;
        }
        let Some(set) = self.arc_set(message)? else {
            return Ok(false);
        };
        message.splice(0..0, set);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    // A throwaway Ed25519 key (PKCS#8 v1, as `openssl genpkey -algorithm ed25519` writes it).
    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEIJFxr/rvfbfk1BRIR8st5LZhb4PnH3EsBxsH19MSib6d\n\
-----END PRIVATE KEY-----\n";

    fn sealer() -> Sealer {
        let key = PrivateKey::from_pem(ED25519_PEM.as_bytes(), Path::new("arc.key")).unwrap();
        let headers = ["From", "Subject", "To"].map(String::from).to_vec();
        Sealer::new("lists.example.org", "Example.ORG", "arc1", key, headers)
    }

    fn field<'a>(text: &'a str, name: &str) -> &'a str {
        text.split("\r\n")
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    #[test]
    fn a_message_without_a_chain_gets_instance_one_with_cv_none() {
        let message = "Authentication-Results: lists.example.org;\n\tdkim=none;\n\tarc=none\n\
From: a@example.com\nSubject: s\n\nbody\n";
        let sealed = sealer().seal(message.as_bytes()).unwrap().unwrap();
        let text = String::from_utf8(sealed).unwrap();
        assert!(
            text.starts_with("ARC-Seal: i=1; a=ed25519-sha256; s=arc1; d=example.org; cv=none;"),
            "{text}"
        );
        assert!(field(&text, "ARC-Message-Signature: ").starts_with("ARC-Message-Signature: i=1;"));
        assert_eq!(
            field(&text, "ARC-Authentication-Results: "),
            "ARC-Authentication-Results: i=1; lists.example.org; dkim=none; arc=none"
        );
        assert!(text.ends_with("\r\n\r\nbody\r\n"), "wire form: {text:?}");
    }

    #[test]
    fn the_next_seal_continues_the_chain_with_our_arc_result() {
        let first = sealer()
            .seal(b"Authentication-Results: lists.example.org; arc=none\r\nFrom: a@example.com\r\n\r\nx\r\n")
            .unwrap()
            .unwrap();
        let mut again = b"Authentication-Results: lists.example.org; arc=pass\r\n".to_vec();
        again.extend_from_slice(&first);
        assert!(sealer().seal_in_place(&mut again).unwrap());
        let text = String::from_utf8(again).unwrap();
        assert!(
            text.starts_with("ARC-Seal: i=2; a=ed25519-sha256; s=arc1; d=example.org; cv=pass;"),
            "{text}"
        );
        // A failed validation of an existing chain seals with cv=fail.
        let mut failed = b"Authentication-Results: lists.example.org; arc=fail\r\n".to_vec();
        failed.extend_from_slice(&first);
        let text = String::from_utf8(sealer().seal(&failed).unwrap().unwrap()).unwrap();
        assert!(text.contains("; cv=fail;"), "{text}");
    }

    #[test]
    fn results_too_long_for_one_line_are_refused() {
        let long = format!(
            "Authentication-Results: lists.example.org; arc=none; {}\r\nFrom: a\r\n\r\nx\r\n",
            "x-note=long ".repeat(90)
        );
        let err = sealer().seal(long.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("do not fit on one header line"), "{err}");
    }

    #[test]
    fn copies_without_our_results_are_not_sealed() {
        let forged = b"Authentication-Results: other.example; arc=pass\r\nFrom: a\r\n\r\nx\r\n";
        assert!(sealer().seal(forged).unwrap().is_none());
        let mut buf = b"From: a\n\nx\n".to_vec();
        assert!(!sealer().seal_in_place(&mut buf).unwrap());
    }
}
