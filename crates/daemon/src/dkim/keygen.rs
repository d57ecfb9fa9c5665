//! `mailcast dkim keygen`: a new private key as PEM and the DNS TXT record that publishes
//! its public half. Ed25519 keys are made in-process (ring); RSA-2048 keys by
//! `openssl genpkey`, because ring cannot generate RSA keys and the `rsa` crate would be a
//! second RSA implementation in the tree for one command. The PEM is checked by loading it
//! back before it is written.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::Ed25519Key;

use super::keys::{KeyError, KeyKind, PrivateKey};

/// Why no key was made.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    #[error("{0} exists; refusing to overwrite a DKIM key (remove it first)")]
    Exists(PathBuf),
    #[error("cannot write DKIM key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate an Ed25519 key: {0}")]
    Ed25519(String),
    #[error("cannot run `openssl genpkey` for an RSA key (is OpenSSL's command installed?): {0}")]
    OpensslMissing(std::io::Error),
    #[error("`openssl genpkey` failed: {0}")]
    Openssl(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A generated key: its PEM text and the loaded key.
pub struct Generated {
    pub pem: Vec<u8>,
    pub key: PrivateKey,
}

/// Generates a key of `kind`.
pub fn generate(kind: KeyKind) -> Result<Generated, KeygenError> {
    let pem = match kind {
        KeyKind::Ed25519 => {
            let der =
                Ed25519Key::generate_pkcs8().map_err(|e| KeygenError::Ed25519(e.to_string()))?;
            pem_encode("PRIVATE KEY", &der)
        }
        KeyKind::Rsa => openssl_rsa_2048()?,
    };
    let key = PrivateKey::from_pem(&pem, Path::new("<generated>"))?;
    Ok(Generated { pem, key })
}

/// Writes `pem` to `path` with mode 0600, creating the directory; never replaces a file.
pub fn write_key(path: &Path, pem: &[u8]) -> Result<(), KeygenError> {
    let write_err = |source| KeygenError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeygenError::Exists(path.to_path_buf()),
            _ => write_err(e),
        })?;
    file.write_all(pem).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

/// The record to publish, as one zone-file line:
/// `SELECTOR._domainkey.DOMAIN. IN TXT "v=DKIM1; k=…; p=…"`. A value longer than 255
/// octets (an RSA-2048 key) is split into several quoted strings on that line, which DNS
/// joins (RFC 6376 §3.6.2.2).
pub fn txt_record(domain: &str, selector: &str, key: &PrivateKey) -> String {
    let value = format!(
        "v=DKIM1; k={}; p={}",
        key.kind().tag(),
        STANDARD.encode(key.public_key())
    );
    let strings: Vec<String> = value
        .as_bytes()
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect();
    format!(
        "{selector}._domainkey.{}. IN TXT {}",
        domain.trim_end_matches('.'),
        strings.join(" ")
    )
}

fn openssl_rsa_2048() -> Result<Vec<u8>, KeygenError> {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .map_err(KeygenError::OpensslMissing)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(KeygenError::Openssl(
            stderr.lines().next().unwrap_or("no message").to_string(),
        ));
    }
    Ok(out.stdout)
}

fn pem_encode(label: &str, der: &[u8]) -> Vec<u8> {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_record_is_one_line_with_the_raw_public_key() {
        let generated = generate(KeyKind::Ed25519).unwrap();
        let line = txt_record("lists.example.org", "mc1", &generated.key);
        let prefix = "mc1._domainkey.lists.example.org. IN TXT \"v=DKIM1; k=ed25519; p=";
        assert!(line.starts_with(prefix), "{line}");
        assert!(!line.contains('\n'));
        let p = line[prefix.len()..].trim_end_matches('"');
        assert_eq!(STANDARD.decode(p).unwrap().len(), 32);
        // The PEM loads back as the same key.
        let again = PrivateKey::from_pem(&generated.pem, Path::new("k")).unwrap();
        assert_eq!(again.public_key(), generated.key.public_key());
    }

    #[test]
    fn rsa_record_is_split_into_strings_of_at_most_255_octets() {
        let generated = generate(KeyKind::Rsa).expect("openssl genpkey (install openssl)");
        let line = txt_record("lists.example.org.", "mc1", &generated.key);
        assert!(
            line.starts_with(
                "mc1._domainkey.lists.example.org. IN TXT \"v=DKIM1; k=rsa; p=MIIBIjANBg"
            ),
            "{line}"
        );
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert!(
            strings.len() == 2 && strings.iter().all(|s| s.len() <= 255),
            "{line}"
        );
        let p = strings.concat();
        let p = p.split("p=").nth(1).unwrap();
        // SubjectPublicKeyInfo of a 2048-bit key: 294 octets.
        assert_eq!(STANDARD.decode(p).unwrap().len(), 294);
    }

    #[test]
    fn write_key_is_private_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dkim/d.s.key");
        write_key(&path, b"one").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let err = write_key(&path, b"two").unwrap_err();
        assert!(matches!(err, KeygenError::Exists(_)), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
    }
}
