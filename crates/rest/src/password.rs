//! Users' passwords as the REST API stores them: never in clear, always a salted, slow hash.
//!
//! Mailman hashes with passlib; mailcast writes passlib's `pbkdf2_sha256` format
//! (`$pbkdf2-sha256$<rounds>$<salt>$<checksum>`, salt and checksum in passlib's "ab64"
//! base64), so a hash can be checked by passlib too. The salt is 16 bytes from the operating
//! system's random source (a version-4 UUID's random bits). Hashing takes tens of
//! milliseconds on purpose; callers run it on the blocking pool ([`hash`], [`verify`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// passlib's default number of rounds for `pbkdf2_sha256`.
pub const ROUNDS: u32 = 29_000;

const PREFIX: &str = "$pbkdf2-sha256$";

/// The stored form of `cleartext`, with a fresh random salt.
pub async fn hash(cleartext: &str) -> String {
    let cleartext = cleartext.to_string();
    let salt = *uuid::Uuid::new_v4().as_bytes();
    tokio::task::spawn_blocking(move || hash_with(&cleartext, &salt, ROUNDS))
        .await
        .unwrap_or_else(|_| unreachable!("hashing does not panic"))
}

/// A random password (Mailman gives a user created without one a random one), hashed.
pub async fn random() -> String {
    hash(&uuid::Uuid::new_v4().simple().to_string()).await
}

/// Whether `cleartext` is the password `stored` is the hash of. Anything not in the format
/// this module writes never matches.
pub async fn verify(cleartext: &str, stored: &str) -> bool {
    let (cleartext, stored) = (cleartext.to_string(), stored.to_string());
    tokio::task::spawn_blocking(move || verify_now(&cleartext, &stored))
        .await
        .unwrap_or(false)
}

fn verify_now(cleartext: &str, stored: &str) -> bool {
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return false;
    };
    let mut parts = rest.split('$');
    let (Some(rounds), Some(salt), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(rounds) = rounds.parse::<u32>() else {
        return false;
    };
    // Refuse work factors nobody wrote (a tampered row must not stall a worker).
    if !(1..=10_000_000).contains(&rounds) {
        return false;
    }
    let Ok(salt) = STANDARD_NO_PAD.decode(salt.replace('.', "+")) else {
        return false;
    };
    let want = hash_with(cleartext, &salt, rounds);
    same(want.as_bytes(), stored.as_bytes())
}

fn hash_with(cleartext: &str, salt: &[u8], rounds: u32) -> String {
    let key = pbkdf2_sha256(cleartext.as_bytes(), salt, rounds);
    format!("{PREFIX}{rounds}${}${}", ab64(salt), ab64(&key))
}

/// PBKDF2-HMAC-SHA256 (RFC 8018) with one output block of 32 bytes.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 32] {
    let keyed =
        <Hmac<Sha256> as KeyInit>::new_from_slice(password).expect("HMAC takes keys of any length");
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..rounds {
        let mut mac = keyed.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (o, b) in out.iter_mut().zip(u) {
            *o ^= b;
        }
    }
    out
}

/// passlib's "adapted base64": standard base64 without padding, `.` for `+`.
fn ab64(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes).replace('+', ".")
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_matches_the_rfc_7914_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1), first 32 bytes.
        let key = pbkdf2_sha256(b"passwd", b"salt", 1);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn matches_passlib() {
        // passlib.hash.pbkdf2_sha256.using(rounds=1000, salt=b"0123456789abcdef").hash("sekrit")
        let stored = hash_with("sekrit", b"0123456789abcdef", 1000);
        assert_eq!(
            stored,
            "$pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg$yOBdgrhlOCZoNBNn30b4nSGlzqk4K9vVkz5a9BUb0eQ"
        );
        assert!(verify_now("sekrit", &stored));
        assert!(!verify_now("Sekrit", &stored));
        assert!(!verify_now("sekrit", "{plaintext}sekrit"));
        assert!(!verify_now("sekrit", "$pbkdf2-sha256$0$MDEy$x"));
    }
}
