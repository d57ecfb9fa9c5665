//! Signing one message as a list domain: which headers `h=` names, line endings as they go
//! on the wire, and the `DKIM-Signature` header put on top. Pure apart from the clock that
//! mail-auth reads for `t=`.
//!
//! `h=` names every configured header (RFC 6376 §5.4): a header that is absent is named
//! once, which forbids adding it; From, Subject, Date and the `List-*` headers, when present,
//! are named once more than they occur ("over-signing", RFC 6376 §8.15), so that no second
//! instance can be added after signing either. Canonicalization is relaxed/relaxed.

use std::borrow::Cow;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};

use super::keys::PrivateKey;

/// The headers signed when the config names none: the author and routing headers, and
/// every header the list adds (RFC 2369, RFC 2919, RFC 8058, RFC 5064).
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Post",
    "List-Help",
    "List-Subscribe",
    "List-Archive",
    "Archived-At",
];

/// Why a message was not signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot DKIM-sign for {domain}: {detail}")]
pub struct SignError {
    domain: String,
    detail: String,
}

/// One list domain's signer: `d=`, `s=`, the key and the headers to sign.
#[derive(Debug)]
pub struct DomainSigner {
    domain: String,
    selector: String,
    key: PrivateKey,
    headers: Vec<String>,
}

impl DomainSigner {
    /// A signer for `domain` with `selector`; `headers` `None` means [`DEFAULT_HEADERS`].
    pub fn new(
        domain: &str,
        selector: &str,
        key: PrivateKey,
        headers: Option<&[String]>,
    ) -> DomainSigner {
        let headers = match headers {
            Some(names) => names.to_vec(),
            None => DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect(),
        };
        DomainSigner {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_string(),
            key,
            headers,
        }
    }

    /// The `d=` domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The `h=` names for this message's header block, before mail-auth adds the instances
    /// it finds (see the module documentation).
    pub fn header_names(&self, message: &[u8]) -> Vec<String> {
        header_names(&self.headers, message)
    }

    /// The `DKIM-Signature` header (with its CRLF) for `message`, which must already have
    /// CRLF line endings ([`wire_form`]).
    pub fn signature(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let signer = DkimSigner::from_key(self.key.signing())
            .domain(self.domain.as_str())
            .selector(self.selector.as_str())
            .headers(self.header_names(message))
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        let signature = signer.sign(message).map_err(|e| SignError {
            domain: self.domain.clone(),
            detail: e.to_string(),
        })?;
        let mut header = Vec::with_capacity(512);
        signature.write_header(&mut header);
        Ok(header)
    }

    /// `message` in its wire form with the signature on top.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let wire = wire_form(message);
        let header = self.signature(&wire)?;
        let mut out = Vec::with_capacity(header.len() + wire.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&wire);
        Ok(out)
    }

    /// Signs a message buffer in place (the personalized copies reuse their buffers).
    pub fn sign_in_place(&self, message: &mut Vec<u8>) -> Result<(), SignError> {
        if let Cow::Owned(wire) = wire_form(message) {
            *message = wire;
        }
        let header = self.signature(message)?;
        message.splice(0..0, header);
        Ok(())
    }
}

/// The `h=` names for `message` from the `configured` ones, before mail-auth adds the
/// instances it finds: the over-signed names present in the message named twice (see the
/// module documentation). ARC's message signature uses it too ([`crate::arc::Sealer`]).
pub fn header_names(configured: &[String], message: &[u8]) -> Vec<String> {
    let present = field_names(message);
    let mut names = Vec::with_capacity(configured.len() + 8);
    for name in configured {
        names.push(name.clone());
        let there = present
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name.as_bytes()));
        if there && oversigned(name) {
            // mail-auth signs every instance of a name it lists and names each listed
            // name it did not find once more: a repeated name is that extra one.
            names.push(name.clone());
        }
    }
    names
}

/// Whether `name` is over-signed: From, Subject, Date and the `List-*` headers.
fn oversigned(name: &str) -> bool {
    ["From", "Subject", "Date"]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || name
            .get(..5)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("List-"))
}

/// The field names of the header block, in order, one per instance.
fn field_names(message: &[u8]) -> Vec<&[u8]> {
    let mut names = Vec::new();
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            names.push(line[..colon].trim_ascii_end());
        }
    }
    names
}

/// The bytes as the relay puts them on the wire: every bare LF and bare CR a CRLF, and a
/// final CRLF (the outbound body writer does the same, so the signature covers what is sent).
pub fn wire_form(message: &[u8]) -> Cow<'_, [u8]> {
    let clean = {
        let mut ok = message.ends_with(b"\r\n");
        let mut i = 0;
        while ok && i < message.len() {
            match message[i] {
                b'\r' if message.get(i + 1) == Some(&b'\n') => i += 2,
                b'\r' | b'\n' => ok = false,
                _ => i += 1,
            }
        }
        ok
    };
    if clean {
        return Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 2);
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                i += if message.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    // A throwaway Ed25519 key (PKCS#8 v1, as `openssl genpkey -algorithm ed25519` writes it).
    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEIJFxr/rvfbfk1BRIR8st5LZhb4PnH3EsBxsH19MSib6d\n\
-----END PRIVATE KEY-----\n";

    fn signer(headers: Option<&[String]>) -> DomainSigner {
        let key = PrivateKey::from_pem(ED25519_PEM.as_bytes(), Path::new("test.key")).unwrap();
        DomainSigner::new("Lists.Example.org", "mc1", key, headers)
    }

    #[test]
    fn present_oversigned_headers_are_named_once_more() {
        let message = b"From: a@example.com\r\nSubject: s\r\nList-Id: <l.example.org>\r\n\
To: l@example.org\r\nX-Other: 1\r\n\r\nbody\r\n";
        let names = signer(None).header_names(message);
        let count = |n: &str| names.iter().filter(|h| h.as_str() == n).count();
        assert_eq!(count("From"), 2);
        assert_eq!(count("Subject"), 2);
        assert_eq!(count("List-Id"), 2);
        // Present but not over-signed, and absent (over-signed or not): named once.
        assert_eq!(count("To"), 1);
        assert_eq!(count("Date"), 1);
        assert_eq!(count("Cc"), 1);
        assert_eq!(count("List-Post"), 1);
        assert_eq!(count("X-Other"), 0);
    }

    #[test]
    fn signature_header_names_domain_selector_and_every_instance() {
        let message = "From: a@example.com\nSubject: s\nSubject: again\n\nbody\n";
        let signed = signer(Some(&["From".into(), "Subject".into()]))
            .sign(message.as_bytes())
            .unwrap();
        let text = String::from_utf8(signed).unwrap();
        assert!(text.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; s=mc1; d=lists.example.org; c=relaxed/relaxed;"), "{text}");
        let h = text.split("h=").nth(1).unwrap().split(';').next().unwrap();
        let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(h, "Subject:Subject:From:From:Subject");
        assert!(
            text.ends_with("\r\n\r\nbody\r\n"),
            "CRLF everywhere: {text:?}"
        );
        assert!(!text.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn wire_form_makes_every_line_end_crlf() {
        assert!(matches!(wire_form(b"a\r\nb\r\n"), Cow::Borrowed(_)));
        assert_eq!(&*wire_form(b"a\nb\rc\r\nd"), b"a\r\nb\r\nc\r\nd\r\n");
        let mut buf = b"From: a@example.com\n\nx\n".to_vec();
        signer(None).sign_in_place(&mut buf).unwrap();
        assert!(buf.starts_with(b"DKIM-Signature: "));
        assert!(buf.ends_with(b"\r\nFrom: a@example.com\r\n\r\nx\r\n"));
    }
}
