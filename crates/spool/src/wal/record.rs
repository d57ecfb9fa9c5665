//! The write-ahead log record: one submission (one body, N envelopes), self-checking.
//!
//! ```text
//! "MCR1"            4 bytes   magic
//! body_len          8 bytes   little-endian
//! meta_len          4 bytes   little-endian
//! body              body_len  the message, RFC 5322 bytes
//! meta              meta_len  JSON array of the entries' envelopes (EntryMeta)
//! hash             32 bytes   blake3 of everything above
//! "END\n"           4 bytes   commit marker
//! ```
//!
//! A record is valid only if the magic, both lengths, the hash and the END marker all check,
//! so a torn tail (a crash in the middle of an append) is detected and ignored, like Postfix's
//! END record. The body comes first so that a spilled body can be read straight into the
//! record buffer and hashed in place. This module encodes and decodes bytes; it does no I/O.

use std::ops::Range;

use crate::body::Body;
use crate::error::{Error, Result};
use crate::meta::{BodyDigest, EntryMeta};

const MAGIC: &[u8; 4] = b"MCR1";
const END: &[u8; 4] = b"END\n";
const HEADER_LEN: usize = 16;
const TRAILER_LEN: usize = 32 + 4;
/// Largest envelope array accepted when decoding (a sanity bound, far above real use).
const MAX_META_LEN: usize = 64 << 20;

/// An encoded record, ready to be appended to a segment.
#[derive(Debug)]
pub(crate) struct Record {
    /// The record's bytes, exactly as written to the log.
    pub bytes: Vec<u8>,
    /// Where the body is inside `bytes`.
    pub body: Range<usize>,
    /// The envelopes of the entries the record creates.
    pub metas: Vec<EntryMeta>,
}

impl Record {
    /// Encodes a body and the envelopes built for it by `make_metas`, which receives the
    /// body's digest (the body is hashed once, in place).
    pub fn encode(
        mut body: Body,
        make_metas: impl FnOnce(&BodyDigest) -> Vec<EntryMeta>,
    ) -> Result<Record> {
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len() as usize + 1024);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&[0; 12]);
        body.append_to(&mut bytes)?;
        let body_range = HEADER_LEN..bytes.len();
        let digest = BodyDigest::of(&bytes[body_range.clone()]);
        let metas = make_metas(&digest);
        // Serializing plain data with string keys cannot fail.
        let meta_json = serde_json::to_vec(&metas).expect("EntryMeta serializes");
        bytes.extend_from_slice(&meta_json);
        bytes[4..12].copy_from_slice(&(body_range.len() as u64).to_le_bytes());
        bytes[12..16].copy_from_slice(&(meta_json.len() as u32).to_le_bytes());
        let hash = blake3::hash(&bytes);
        bytes.extend_from_slice(hash.as_bytes());
        bytes.extend_from_slice(END);
        Ok(Record {
            bytes,
            body: body_range,
            metas,
        })
    }

    /// The body bytes.
    #[cfg(test)]
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body.clone()]
    }
}

/// The outcome of decoding the record at the start of `bytes`.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A valid record of `len` bytes; `body` is where its body is within those bytes.
    Record {
        len: usize,
        body: Range<usize>,
        metas: Vec<EntryMeta>,
    },
    /// Nothing left to read.
    End,
    /// The bytes do not form a complete, valid record (a torn or damaged tail).
    Torn,
}

/// Decodes the record at the start of `bytes` (without copying its body).
pub(crate) fn decode(bytes: &[u8]) -> Decoded {
    if bytes.is_empty() {
        return Decoded::End;
    }
    if bytes.len() < HEADER_LEN + TRAILER_LEN || &bytes[..4] != MAGIC {
        return Decoded::Torn;
    }
    let body_len = u64::from_le_bytes(array(&bytes[4..12]));
    let meta_len = u32::from_le_bytes(array(&bytes[12..16])) as usize;
    let available = (bytes.len() - HEADER_LEN - TRAILER_LEN) as u64;
    if meta_len > MAX_META_LEN || body_len > available || meta_len as u64 > available - body_len {
        return Decoded::Torn;
    }
    let body_end = HEADER_LEN + body_len as usize;
    let meta_end = body_end + meta_len;
    let hash = blake3::hash(&bytes[..meta_end]);
    if hash.as_bytes() != &bytes[meta_end..meta_end + 32]
        || &bytes[meta_end + 32..meta_end + TRAILER_LEN] != END
    {
        return Decoded::Torn;
    }
    let Ok(metas) = serde_json::from_slice::<Vec<EntryMeta>>(&bytes[body_end..meta_end]) else {
        return Decoded::Torn;
    };
    Decoded::Record {
        len: meta_end + TRAILER_LEN,
        body: HEADER_LEN..body_end,
        metas,
    }
}

/// Checks that a record decoded from the log is internally consistent: every envelope
/// describes `body`.
pub(crate) fn check(body: &[u8], metas: &[EntryMeta]) -> Result<()> {
    let digest = BodyDigest::of(body);
    match metas.iter().find(|meta| !digest.matches(meta)) {
        Some(meta) => Err(Error::Corrupt {
            id: meta.id.to_string(),
            reason: "write-ahead log record body does not match its envelope".into(),
        }),
        None => Ok(()),
    }
}

fn array<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(slice);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::EntryId;
    use crate::stage::Stage;

    fn record(body: &[u8]) -> Record {
        Record::encode(Body::Bytes(body.to_vec()), |digest| {
            let id = EntryId::generate();
            let mut meta = EntryMeta::new(id, Stage::Incoming, "l@x", "f@x", "l@x");
            meta.body_len = digest.len;
            meta.body_hash = digest.hash.clone();
            vec![meta]
        })
        .unwrap()
    }

    #[test]
    fn round_trip_and_every_cut_is_torn() {
        let rec = record(b"Subject: hi\r\n\r\nbody\r\n");
        let Decoded::Record { len, body, metas } = decode(&rec.bytes) else {
            panic!("valid record not decoded");
        };
        assert_eq!(len, rec.bytes.len());
        assert_eq!(&rec.bytes[body.clone()], rec.body());
        assert_eq!(metas, rec.metas);
        check(&rec.bytes[body], &metas).unwrap();
        for cut in 1..rec.bytes.len() {
            assert!(
                matches!(decode(&rec.bytes[..cut]), Decoded::Torn),
                "cut {cut}"
            );
        }
        assert!(matches!(decode(&[]), Decoded::End));
    }

    #[test]
    fn any_flipped_byte_is_torn() {
        let rec = record(b"x");
        for i in 0..rec.bytes.len() {
            let mut bytes = rec.bytes.clone();
            bytes[i] ^= 0x40;
            assert!(matches!(decode(&bytes), Decoded::Torn), "byte {i}");
        }
    }
}
