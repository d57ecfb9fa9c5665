//! Property tests: for arbitrary input the session never panics, its output is well-formed
//! replies, and after every end of data the replies match the accepted recipients one for
//! one. The checking lives in `mailcast_proto::fuzzing` (shared with the cargo-fuzz target).

use mailcast_proto::fuzzing;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes, read as a script (mostly plausible commands, some raw bytes).
    #[test]
    fn scripted_sessions_keep_the_invariants(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Err(violation) = fuzzing::check(&data) {
            prop_assert!(false, "{}", violation);
        }
    }

    /// Arbitrary raw client bytes in arbitrary reads, with chunking and small limits on.
    #[test]
    fn raw_bytes_keep_the_invariants(
        flags in 0u8..8,
        reads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..8),
    ) {
        // Script opcode 0 is "raw bytes of the next length"; opcode 3 ends a read.
        let mut data = vec![flags, 0, 0, 0, 0, 0, 0, 0, 7];
        for read in reads {
            for piece in read.chunks(255) {
                data.extend_from_slice(&[0, piece.len() as u8]);
                data.extend_from_slice(piece);
            }
            data.push(3);
        }
        if let Err(violation) = fuzzing::check(&data) {
            prop_assert!(false, "{}", violation);
        }
    }
}

/// The harness must reach deep states (delivered messages, by DATA and by BDAT), or the
/// properties above would hold vacuously. Deterministic inputs, so this cannot flake.
#[test]
fn harness_reaches_delivered_messages() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut total = fuzzing::Summary::default();
    for _ in 0..2000 {
        let len = (next() % 600) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let summary = fuzzing::check(&data).unwrap_or_else(|violation| panic!("{violation}"));
        total.replies += summary.replies;
        total.messages += summary.messages;
        total.chunked_messages += summary.chunked_messages;
    }
    assert!(
        total.messages >= 150,
        "only {} messages delivered",
        total.messages
    );
    assert!(
        total.chunked_messages >= 40,
        "only {} by BDAT",
        total.chunked_messages
    );
    assert!(total.replies >= 20_000, "only {} replies", total.replies);
}
