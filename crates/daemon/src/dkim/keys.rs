//! Private keys from PEM files: RSA (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`) and
//! Ed25519 (PKCS#8), and the public half as DKIM publishes it (`p=`: an RSA key's
//! SubjectPublicKeyInfo, an Ed25519 key's 32 raw octets, RFC 6376 §3.6.1 and RFC 8463 §4).

use std::path::{Path, PathBuf};

use mail_auth::common::crypto::{Algorithm, DkimKey, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::Writable;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why a key file cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read DKIM key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("DKIM key {path} is not a PEM private key ({detail})")]
    NotPem { path: PathBuf, detail: String },
    #[error("DKIM key {path} is an unsupported algorithm ({what}); use RSA-2048 or Ed25519")]
    Unsupported { path: PathBuf, what: &'static str },
    #[error("DKIM key {path} cannot be used: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

/// The DKIM tag of a key's algorithm (`k=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ed25519,
}

impl KeyKind {
    /// The `k=` value.
    pub fn tag(self) -> &'static str {
        match self {
            KeyKind::Rsa => "rsa",
            KeyKind::Ed25519 => "ed25519",
        }
    }
}

/// A loaded private key and its public half.
pub struct PrivateKey {
    key: DkimKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads and parses the PEM file at `path`.
    pub fn load(path: &Path) -> Result<PrivateKey, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        PrivateKey::from_pem(&pem, path)
    }

    /// Parses PEM text; `path` only names the key in errors.
    pub fn from_pem(pem: &[u8], path: &Path) -> Result<PrivateKey, KeyError> {
        let at = || path.to_path_buf();
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| KeyError::NotPem {
            path: at(),
            detail: e.to_string(),
        })?;
        let invalid = |e: mail_auth::Error| KeyError::Invalid {
            path: at(),
            detail: e.to_string(),
        };
        match der {
            PrivateKeyDer::Pkcs1(_) => {
                let rsa = RsaKey::<Sha256>::from_key_der(der).map_err(invalid)?;
                Ok(PrivateKey::rsa(rsa))
            }
            PrivateKeyDer::Pkcs8(pkcs8) => {
                PrivateKey::from_pkcs8(&pkcs8).ok_or(KeyError::Invalid {
                    path: at(),
                    detail: "a PKCS#8 key that is neither a usable RSA nor an Ed25519 key".into(),
                })
            }
            PrivateKeyDer::Sec1(_) => Err(KeyError::Unsupported {
                path: at(),
                what: "an EC (SEC1) key",
            }),
            _ => Err(KeyError::Unsupported {
                path: at(),
                what: "an unknown key format",
            }),
        }
    }

    /// An RSA key if the PKCS#8 key is one, else an Ed25519 key (v1 or v2 PKCS#8).
    fn from_pkcs8(pkcs8: &PrivatePkcs8KeyDer<'_>) -> Option<PrivateKey> {
        let der = PrivateKeyDer::Pkcs8(pkcs8.clone_key());
        if let Ok(rsa) = RsaKey::<Sha256>::from_key_der(der) {
            return Some(PrivateKey::rsa(rsa));
        }
        let ed = Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8.secret_pkcs8_der()).ok()?;
        let public = ed.public_key();
        Some(PrivateKey {
            key: DkimKey::Ed25519(ed),
            public,
        })
    }

    fn rsa(rsa: RsaKey<Sha256>) -> PrivateKey {
        let public = rsa_spki(&rsa.public_key());
        PrivateKey {
            key: DkimKey::Rsa(rsa),
            public,
        }
    }

    /// RSA or Ed25519.
    pub fn kind(&self) -> KeyKind {
        match self.key {
            DkimKey::Rsa(_) => KeyKind::Rsa,
            DkimKey::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// The public key as the `p=` tag carries it, before base64.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// A signing handle borrowing this key, for a `mail_auth::dkim::DkimSigner`.
    pub fn signing(&self) -> KeyRef<'_> {
        KeyRef(&self.key)
    }
}

/// A borrowed key, so that a signer can be built per message without copying the key.
pub struct KeyRef<'a>(&'a DkimKey);

impl SigningKey for KeyRef<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
}

/// Wraps a PKCS#1 `RSAPublicKey` in a SubjectPublicKeyInfo (rsaEncryption, NULL parameters),
/// the form DKIM verifiers expect in `p=`.
pub fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    const ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0x00];
    bits.extend_from_slice(pkcs1);
    let mut inner = ALGORITHM.to_vec();
    der_tlv(0x03, &bits, &mut inner);
    let mut out = Vec::with_capacity(inner.len() + 4);
    der_tlv(0x30, &inner, &mut out);
    out
}

/// Appends one DER tag-length-value.
fn der_tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(pem: &str) -> String {
        PrivateKey::from_pem(pem.as_bytes(), Path::new("/k/lists.example.org.mc1.key"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_key_and_say_why() {
        let e = err("not a key at all\n");
        assert!(e.contains("/k/lists.example.org.mc1.key"), "{e}");
        assert!(e.contains("not a PEM private key"), "{e}");
        let e = err("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        assert!(
            e.starts_with("DKIM key /k/lists.example.org.mc1.key cannot be used"),
            "{e}"
        );
        // An EC key (P-256, SEC1) is refused by algorithm.
        let e = err(concat!(
            "-----BEGIN EC PRIVATE KEY-----\n",
            "MHcCAQEEIG/Re/e1F/I/qskcD1xr/AMW7MysdmjpILGcmBkqMTJ2oAoGCCqGSM49\n",
            "AwEHoUQDQgAE8JKJUvUukYjLxn2OOImbvvJz4N4mxs7y6m/+KrlnPKo+CRf9nrBa\n",
            "2oh2v/NxInJWI0AKLMUF5pwcgbzxY6M13w==\n",
            "-----END EC PRIVATE KEY-----\n",
        ));
        assert!(e.contains("unsupported algorithm"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let missing = PrivateKey::load(Path::new("/nonexistent/dkim.key")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("cannot read DKIM key /nonexistent/dkim.key")
        );
    }

    #[test]
    fn spki_has_der_lengths() {
        let spki = rsa_spki(&[0x30, 0x03, 0x02, 0x01, 0x01]);
        assert_eq!(spki[0..2], [0x30, 15 + 2 + 6]);
        assert_eq!(spki[17..20], [0x03, 6, 0x00]);
        let long = rsa_spki(&[0u8; 270]);
        // 270 + 1 unused-bits octet = 271 = 0x010f; total inner 15 + 4 + 271 = 290 = 0x0122.
        assert_eq!(long[0..4], [0x30, 0x82, 0x01, 0x22]);
        assert_eq!(long[19..23], [0x03, 0x82, 0x01, 0x0f]);
    }
}
