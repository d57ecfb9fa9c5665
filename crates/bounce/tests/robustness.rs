//! `analyse` never panics and stays bounded: on random bytes, on random mutations of the
//! corpus samples (truncation, flipped bytes, inserted junk, cut and repeated ranges), and on
//! hand-made pathological messages (deep nesting, huge headers, many parts, many blocks).

use std::path::Path;
use std::sync::LazyLock;

use mailcast_bounce::{Verdict, analyse};
use proptest::prelude::*;

/// The most recipients a report may hold.
const MAX_RECIPIENTS: usize = 1000;

static SAMPLES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bounces");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/bounces exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
});

fn check(input: &[u8]) {
    let report = analyse(input);
    assert!(report.recipients.len() <= MAX_RECIPIENTS);
    if !matches!(report.verdict, Verdict::Bounce(_)) {
        assert!(report.recipients.is_empty(), "{:?}", report.verdict);
    }
    for r in &report.recipients {
        assert!(r.address.contains('@'));
        assert!(
            r.diagnostic
                .as_ref()
                .is_none_or(|d| d.chars().count() <= 500 && !d.contains('\n'))
        );
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Repeat(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, v)| Mutation::Insert(at, v)),
        (any::<usize>(), 1usize..512).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), 1usize..256, 1usize..20).prop_map(|(at, n, k)| Mutation::Repeat(at, n, k)),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if data.is_empty() {
            break;
        }
        let len = data.len();
        match m {
            Mutation::Truncate(at) => data.truncate(at % len),
            Mutation::Flip(at, b) => data[at % len] ^= b | 1,
            Mutation::Insert(at, bytes) => {
                let at = at % len;
                data.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(at, n) => {
                let at = at % len;
                data.drain(at..(at + n).min(len));
            }
            Mutation::Repeat(at, n, k) => {
                let at = at % len;
                let chunk = data[at..(at + n).min(len)].to_vec();
                for _ in 0..*k {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
        }
    }
    data
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        check(&bytes);
    }

    #[test]
    fn random_header_like_text_never_panics(text in "([A-Za-z-]{1,12}: [ -~]{0,40}\r?\n){0,20}(\r?\n[ -~\t]{0,80}){0,40}") {
        check(text.as_bytes());
    }

    #[test]
    fn mutated_samples_never_panic(
        index in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let sample = index.get(&SAMPLES).clone();
        check(&apply(sample, &mutations));
    }
}

#[test]
fn pathological_messages_stay_bounded() {
    let mut cases: Vec<Vec<u8>> = Vec::new();

    // Deeply nested multiparts, each level its own boundary.
    let depth = 2000;
    let mut nested = String::from("From: MAILER-DAEMON@example.net\r\n");
    for i in 0..depth {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    nested.push_str("Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\nAction: failed\r\n");
    cases.push(nested.into_bytes());

    // Deeply nested attached messages.
    let mut attached = String::new();
    for _ in 0..3000 {
        attached
            .push_str("From: MAILER-DAEMON@example.net\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    attached.push_str("Subject: bottom\r\n\r\nbody\r\n");
    cases.push(attached.into_bytes());

    // An enormous header section (one folded header of a megabyte).
    let mut huge = b"From: x@example.net\r\nX-Junk: ".to_vec();
    for _ in 0..20_000 {
        huge.extend_from_slice(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n ");
    }
    huge.extend_from_slice(b"\r\n\r\nbody\r\n");
    cases.push(huge);

    // Thousands of tiny parts.
    let mut parts = String::from(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=p\r\n\r\n",
    );
    for i in 0..10_000 {
        parts.push_str(&format!("--p\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; u{i}@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
    }
    parts.push_str("--p--\r\n");
    cases.push(parts.into_bytes());

    // One delivery-status part with far more blocks than the limit.
    let mut blocks = String::from(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=q\r\n\r\n--q\r\nContent-Type: message/delivery-status\r\n\r\n",
    );
    for i in 0..5_000 {
        blocks.push_str(&format!(
            "Final-Recipient: rfc822; v{i}@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        ));
    }
    blocks.push_str("--q--\r\n");
    cases.push(blocks.into_bytes());

    // A megabyte text bounce with the intros of every detector repeated, and 8-bit junk.
    let mut text =
        b"From: MAILER-DAEMON@example.net\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
            .to_vec();
    for _ in 0..3_000 {
        text.extend_from_slice(
            b"Hi. This is the qmail-send program at x.\r\n\r\n<a@example.net>:\r\nno\r\n\r\n\
Delivery has failed to these recipients or groups:\r\n\r\nb@example.net\r\n\xff\xfe\x80\r\n\
Diese Nachricht konnte nicht zugestellt werden:\r\n\r\n  c@example.net\r\n\r\n",
        );
    }
    cases.push(text);

    // A boundary that never appears, and one that is empty.
    cases.push(b"Content-Type: multipart/report; boundary=\"never\"\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\nAction: failed\r\n".to_vec());
    cases.push(
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n--\r\n--\r\n".to_vec(),
    );

    for case in &cases {
        check(case);
    }
    let many = analyse(&cases[4]);
    assert_eq!(many.recipients.len(), MAX_RECIPIENTS);
}
