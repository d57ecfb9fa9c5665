//! `Message-ID-Hash`: the base32 SHA-1 of a Message-ID, as Mailman 3 and HyperKitty compute it.

use sha1::{Digest, Sha1};

/// Computes Mailman 3's `Message-ID-Hash` for a Message-ID header value: the value without
/// its surrounding angle brackets (or, without brackets, with whitespace stripped), hashed
/// with SHA-1 and encoded in upper-case RFC 4648 base32 (32 characters, no padding).
pub fn message_id_hash(message_id: &str) -> String {
    let trimmed = message_id.trim();
    let id = if trimmed.len() >= 2 && trimmed.starts_with('<') && trimmed.ends_with('>') {
        &trimmed[1..trimmed.len() - 1]
    } else {
        trimmed
    };
    base32(&Sha1::digest(id.as_bytes()))
}

/// RFC 4648 base32 without padding (a 20-byte digest encodes to exactly 32 characters).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u64, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailman_reference_hashes() {
        // shared/reference/mailman3.md §1.5 and §2.
        assert_eq!(message_id_hash("<ant>"), "MS6QLWERIJLGCRF44J7USBFDELMNT2BW");
        assert_eq!(
            message_id_hash("<aardvark>"),
            "75E2XSUXAFQGWANWEROVQ7JGYMNWHJBT"
        );
        assert_eq!(
            message_id_hash("<badger>"),
            "JYMZWSQ4IC2JPKK7ZUONRFRVC4ZYJGKJ"
        );
        assert_eq!(message_id_hash("<dog>"), "4SKREUSPI62BHDMFBSOZ3BMXFETSQHNA");
    }

    #[test]
    fn brackets_and_whitespace() {
        assert_eq!(message_id_hash(" <ant> "), message_id_hash("ant"));
    }
}
