//! Intake fix-ups, done once when a message enters the spool (end of LMTP DATA, `mailcast
//! inject`, the Maildir reader), exactly as Mailman 3's LMTP runner does them
//! (mailman3.md §1.5):
//!
//! 1. a leading mbox `From ` line is dropped (Mailman keeps it apart as the Unix-From; ours is
//!    the envelope, recorded in `X-MailFrom` and the spool metadata);
//! 2. a missing `Message-ID` is added (the generated value is a parameter);
//! 3. a bracketed `Message-ID` (`[x]` or `<[x]>`) is rewritten to `<x>`;
//! 4. any `Message-ID-Hash` and `X-Message-ID-Hash` are removed and fresh ones appended;
//! 5. `X-MailFrom: <envelope sender>` is appended.
//!
//! Appended fields go at the end of the header block in that order. The fix-ups need only the
//! header section, so a shell that spilled a large body to disk passes just the header bytes
//! ([`split_header_section`] finds them) and writes the body after the result. A message whose
//! header section cannot be read is refused with [`IntakeError`] (`550 5.6.0`). This module does
//! not look at the body and does no I/O.
//!
//! [`split_header_section`]: crate::header_block::split_header_section

use mailcast_model::message_id::message_id_hash;

use crate::Refusal;
use crate::encoded_word::Value;
use crate::header_block::{ParseError, split_header_section};
use crate::message::Message;
use crate::rewrite::Rewrite;

/// Why a message was refused at intake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// The header section cannot be read at all.
    #[error("message cannot be parsed: {0}")]
    Unparseable(#[from] ParseError),
}

impl IntakeError {
    /// The LMTP reply for this refusal (`mailcast inject` exits with EX_DATAERR instead).
    pub fn refusal(&self) -> Refusal {
        Refusal {
            code: 550,
            enhanced: "5.6.0",
            text: format!(
                "Message cannot be parsed: {}",
                match self {
                    IntakeError::Unparseable(e) => e,
                }
            ),
        }
    }
}

/// Applies the intake fix-ups to a header section (the bytes before the body, with or without
/// the blank line that ends it) and returns the new header section, blank line included.
///
/// `generated_message_id` is used only when the message has no `Message-ID`; angle brackets
/// are added if it has none.
pub fn fix_headers(
    header_section: &[u8],
    envelope_sender: &str,
    generated_message_id: &str,
) -> Result<Vec<u8>, IntakeError> {
    let section = strip_mbox_from_line(header_section);
    let message = Message::parse(section)?;
    if !message.body().is_empty() {
        // The caller passed more than the header section; only headers are ours to return.
        let end = split_header_section(section).unwrap_or(section.len());
        return fix_headers(&section[..end], envelope_sender, generated_message_id);
    }
    let mut rewrite = Rewrite::new(&message);
    let message_id = match message.message_id() {
        Some(id) => {
            let fixed = unbracket(&id);
            if fixed != id {
                rewrite.replace("Message-ID", Value::Raw(&fixed));
            }
            fixed
        }
        None => {
            let generated = with_angle_brackets(generated_message_id);
            rewrite.append("Message-ID", Value::Raw(&generated));
            generated
        }
    };
    let hash = message_id_hash(&message_id);
    rewrite
        .remove("Message-ID-Hash")
        .remove("X-Message-ID-Hash")
        .append("Message-ID-Hash", Value::Raw(&hash))
        .append("X-Message-ID-Hash", Value::Raw(&hash))
        .append("X-MailFrom", Value::Raw(envelope_sender));
    Ok(rewrite.headers())
}

/// Applies the intake fix-ups to a whole message held in memory; see
/// [`fix_message_in_place`] to spare the copy when the caller owns the buffer.
pub fn fix_message(
    raw: &[u8],
    envelope_sender: &str,
    generated_message_id: &str,
) -> Result<Vec<u8>, IntakeError> {
    fix_message_in_place(raw.to_vec(), envelope_sender, generated_message_id)
}

/// Applies the intake fix-ups to a whole message in the caller's buffer: the fixed header
/// section is spliced over the received one (the mbox `From ` line included), so the body
/// moves at most once and is never copied to a new buffer.
pub fn fix_message_in_place(
    mut message: Vec<u8>,
    envelope_sender: &str,
    generated_message_id: &str,
) -> Result<Vec<u8>, IntakeError> {
    let end = split_header_section(&message).unwrap_or(message.len());
    let fixed = fix_headers(&message[..end], envelope_sender, generated_message_id)?;
    splice_head(&mut message, end, &fixed);
    Ok(message)
}

/// Replaces `buffer[..old_len]` with `head`, moving the bytes after it once.
fn splice_head(buffer: &mut Vec<u8>, old_len: usize, head: &[u8]) {
    let rest = old_len..buffer.len();
    let rest_len = rest.len();
    if head.len() > old_len {
        buffer.resize(head.len() + rest_len, 0);
    }
    buffer.copy_within(rest, head.len());
    buffer.truncate(head.len() + rest_len);
    buffer[..head.len()].copy_from_slice(head);
}

/// Mailman's fix for bracketed Message-IDs: `[x]`, `<[x]>` (and `<[x]`, `[x]>`) become `<x>`.
fn unbracket(id: &str) -> String {
    let trimmed = id.trim();
    let inner = trimmed.strip_prefix('<').unwrap_or(trimmed);
    let inner = inner.strip_suffix('>').unwrap_or(inner);
    match inner.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(bare) => format!("<{bare}>"),
        None => id.to_string(),
    }
}

fn with_angle_brackets(id: &str) -> String {
    let id = id.trim();
    if id.starts_with('<') && id.ends_with('>') {
        id.to_string()
    } else {
        format!("<{id}>")
    }
}

/// Drops an mbox `From sender date` line at the very top (not a `From:` field).
/// The fields a final delivery agent prepends (Postfix's virtual(8) and local(8)):
/// `Return-Path`, `Delivered-To` and `X-Original-To`, each with its continuation lines. A
/// message that reached mailcast through a Maildir or a pipe starts with them; the LMTP server
/// never sees them. Removing them first gives a post the same headers whatever way it came in.
/// Only leading occurrences are removed: the same names further down were written by others.
pub fn strip_delivery_fields(raw: &[u8]) -> &[u8] {
    const NAMES: [&[u8]; 3] = [b"return-path:", b"delivered-to:", b"x-original-to:"];
    let mut rest = raw;
    loop {
        let is_delivery_field = NAMES
            .iter()
            .any(|n| rest.len() >= n.len() && rest[..n.len()].eq_ignore_ascii_case(n));
        if !is_delivery_field {
            return rest;
        }
        // Skip the field's first line and its continuation lines.
        loop {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => rest = &rest[i + 1..],
                None => return &rest[rest.len()..],
            }
            if !rest.starts_with(b" ") && !rest.starts_with(b"\t") {
                break;
            }
        }
    }
}

/// Line ends as RFC 5322 stores them: every bare LF becomes CRLF (pipes and Maildirs deliver
/// Unix line ends); CRLF stays as it is. Borrows when there is nothing to change.
pub fn crlf_line_ends(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare = raw
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'));
    if !bare {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    std::borrow::Cow::Owned(out)
}

fn strip_mbox_from_line(raw: &[u8]) -> &[u8] {
    let Some(rest) = raw.strip_prefix(b"From ") else {
        return raw;
    };
    if rest.trim_ascii_start().starts_with(b":") {
        return raw;
    }
    match raw.iter().position(|&b| b == b'\n') {
        Some(i) => &raw[i + 1..],
        None => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_fields_are_stripped_only_at_the_top() {
        let raw = b"Return-Path: <a@x>\nDelivered-To: l+x@d\nX-Original-To: l@d\n\tcontinued\nFrom: a@x\nDelivered-To: kept@d\n\nbody\n";
        assert_eq!(
            strip_delivery_fields(raw),
            b"From: a@x\nDelivered-To: kept@d\n\nbody\n"
        );
        assert_eq!(
            strip_delivery_fields(b"From: a@x\r\n\r\n"),
            b"From: a@x\r\n\r\n"
        );
        assert_eq!(strip_delivery_fields(b"Return-Path: <>"), b"");
    }

    #[test]
    fn splice_head_replaces_the_header_section_whatever_its_new_length() {
        for (head, want) in [
            (
                &b"Longer: header\r\n\r\n"[..],
                &b"Longer: header\r\n\r\nbody\r\n"[..],
            ),
            (b"S: x\r\n\r\n", b"S: x\r\n\r\nbody\r\n"),
            (b"", b"body\r\n"),
        ] {
            let mut buffer = b"Subj: x\r\n\r\nbody\r\n".to_vec();
            splice_head(&mut buffer, 11, head);
            assert_eq!(buffer, want, "{:?}", String::from_utf8_lossy(head));
        }
        let mut all_head = b"A: b\r\n".to_vec();
        splice_head(&mut all_head, 6, b"A: b\r\nX: y\r\n\r\n");
        assert_eq!(all_head, b"A: b\r\nX: y\r\n\r\n");
    }

    #[test]
    fn in_place_fix_is_the_fixed_header_section_followed_by_the_body() {
        for raw in [
            &b"From: a@x\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n.\r\n"[..],
            b"From a@x Mon Jan  1 00:00:00 2024\r\nFrom: a@x\r\n\r\nbody\r\n",
            b"Subject: no body\r\n",
        ] {
            let stripped = strip_mbox_from_line(raw);
            let split = split_header_section(stripped).unwrap_or(stripped.len());
            let mut want = fix_headers(&stripped[..split], "a@x", "<gen@h>").unwrap();
            want.extend_from_slice(&stripped[split..]);
            let got = fix_message_in_place(raw.to_vec(), "a@x", "<gen@h>").unwrap();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
        }
        assert!(fix_message_in_place(b"\r\nno headers\r\n".to_vec(), "a@x", "<gen@h>").is_err());
    }

    #[test]
    fn crlf_line_ends_normalises_bare_lf_only() {
        assert_eq!(&*crlf_line_ends(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert!(matches!(
            crlf_line_ends(b"a\r\nb\r\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    fn fixed(raw: &str, sender: &str) -> String {
        String::from_utf8(
            fix_message(raw.as_bytes(), sender, "generated.1@lists.example.com").unwrap(),
        )
        .unwrap()
    }

    fn header<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
        out.split("\r\n\r\n")
            .next()
            .unwrap()
            .split("\r\n")
            .filter_map(|l| {
                l.split_once(": ")
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .collect()
    }

    // mailman3.md §2 test 1: the envelope sender is recorded.
    #[test]
    fn test_01_envelope_sender_is_recorded() {
        let out = fixed(
            "From: anne@example.com\r\nTo: test@example.com\r\nMessage-ID: <msg@example.com>\r\n\r\n",
            "anne@example.com",
        );
        assert_eq!(header(&out, "X-MailFrom"), vec!["anne@example.com"]);
    }

    // Test 2: a missing Message-ID is supplied (the generated value, hashed).
    #[test]
    fn test_02_message_id_supplied_if_missing() {
        let out = fixed(
            "From: anne@example.com\r\nSubject: no id\r\n\r\n",
            "anne@example.com",
        );
        assert_eq!(
            header(&out, "Message-ID"),
            vec!["<generated.1@lists.example.com>"]
        );
        let hash = message_id_hash("<generated.1@lists.example.com>");
        assert_eq!(header(&out, "Message-ID-Hash"), vec![hash.as_str()]);
    }

    // Tests 3 and 4: bracketed Message-IDs are fixed in place.
    #[test]
    fn test_03_04_bogus_message_ids_are_fixed() {
        for bogus in ["[bogus@example.com]", "<[bogus@example.com]>"] {
            let out = fixed(
                &format!("Message-ID: {bogus}\r\nSubject: x\r\n\r\n"),
                "anne@example.com",
            );
            assert!(
                out.starts_with("Message-ID: <bogus@example.com>\r\nSubject: x\r\n"),
                "{out}"
            );
            assert_eq!(
                header(&out, "Message-ID-Hash"),
                vec![message_id_hash("<bogus@example.com>").as_str()]
            );
        }
    }

    // Test 5: the hash of <ant>.
    #[test]
    fn test_05_message_id_hash_is_added() {
        let out = fixed(
            "From: anne@example.com\r\nTo: test@example.com\r\nMessage-ID: <ant>\r\nSubject: s\r\n\r\n",
            "anne@example.com",
        );
        assert_eq!(
            header(&out, "Message-ID-Hash"),
            vec!["MS6QLWERIJLGCRF44J7USBFDELMNT2BW"]
        );
        assert_eq!(
            header(&out, "X-Message-ID-Hash"),
            vec!["MS6QLWERIJLGCRF44J7USBFDELMNT2BW"]
        );
    }

    // Test 6: an existing Message-ID-Hash is overwritten, leaving exactly one.
    #[test]
    fn test_06_original_message_id_hash_is_overwritten() {
        let out = fixed(
            "From: anne@example.com\r\nMessage-ID: <ant>\r\nMessage-ID-Hash: IGNOREME\r\nX-Message-ID-Hash: ME-TOO\r\n\r\n",
            "anne@example.com",
        );
        assert_eq!(
            header(&out, "Message-ID-Hash"),
            vec!["MS6QLWERIJLGCRF44J7USBFDELMNT2BW"]
        );
        assert_eq!(
            header(&out, "X-Message-ID-Hash"),
            vec!["MS6QLWERIJLGCRF44J7USBFDELMNT2BW"]
        );
    }

    // Test 11: the exact queued text.
    #[test]
    fn test_11_exact_queued_text() {
        let out = fixed(
            "From: anne.person@example.com\r\nTo: test@example.com\r\nSubject: An interesting message\r\nMessage-ID: <aardvark>\r\n\r\n",
            "anne@example.com",
        );
        assert_eq!(
            out,
            "From: anne.person@example.com\r\n\
To: test@example.com\r\n\
Subject: An interesting message\r\n\
Message-ID: <aardvark>\r\n\
Message-ID-Hash: 75E2XSUXAFQGWANWEROVQ7JGYMNWHJBT\r\n\
X-Message-ID-Hash: 75E2XSUXAFQGWANWEROVQ7JGYMNWHJBT\r\n\
X-MailFrom: anne@example.com\r\n\
\r\n"
        );
    }

    // Test 19: raw 8-bit body bytes pass untouched and the Message-ID is preserved.
    #[test]
    fn test_19_non_utf8_body_is_accepted() {
        let raw = b"From: anne@example.com\r\nTo: ant@example.com\r\nSubject: My subject\r\nMessage-ID: <alpha>\r\n\r\n\xa0\r\n";
        let out = fix_message(raw, "anne@example.com", "unused@x").unwrap();
        assert!(out.ends_with(b"\r\n\r\n\xa0\r\n"));
        assert!(out.starts_with(b"From: anne@example.com\r\nTo: ant@example.com\r\nSubject: My subject\r\nMessage-ID: <alpha>\r\n"));
    }

    // Doctest D2 and D3: hashes of <badger> and <dog>, X-MailFrom last.
    #[test]
    fn doctest_d2_d3_hashes() {
        for (id, hash, sender) in [
            (
                "<badger>",
                "JYMZWSQ4IC2JPKK7ZUONRFRVC4ZYJGKJ",
                "anne.person@example.com",
            ),
            (
                "<dog>",
                "4SKREUSPI62BHDMFBSOZ3BMXFETSQHNA",
                "anne.person@example.com",
            ),
        ] {
            let out = fixed(
                &format!("From: anne.person@example.com\r\nMessage-ID: {id}\r\n\r\n"),
                sender,
            );
            let tail = format!(
                "Message-ID-Hash: {hash}\r\nX-Message-ID-Hash: {hash}\r\nX-MailFrom: {sender}\r\n\r\n"
            );
            assert!(out.ends_with(&tail), "{out}");
        }
    }

    #[test]
    fn header_section_alone_is_fixed_and_body_can_follow() {
        let raw = b"Message-ID: <ant>\r\n\r\nbig body on disk\r\n";
        let n = split_header_section(raw).unwrap();
        let headers = fix_headers(&raw[..n], "a@example.com", "x").unwrap();
        assert!(headers.ends_with(b"X-MailFrom: a@example.com\r\n\r\n"));
        // Passing the whole message gives the same header section.
        assert_eq!(fix_headers(raw, "a@example.com", "x").unwrap(), headers);
    }

    #[test]
    fn mbox_from_line_is_dropped_but_a_from_field_is_kept() {
        let out = fixed(
            "From anne@example.com Mon Jan  1 00:00:00 2024\r\nFrom: anne@example.com\r\nMessage-ID: <a>\r\n\r\n",
            "anne@example.com",
        );
        assert!(out.starts_with("From: anne@example.com\r\n"), "{out}");
        let out = fixed(
            "From : anne@example.com\r\nMessage-ID: <a>\r\n\r\n",
            "anne@example.com",
        );
        assert!(out.starts_with("From : anne@example.com\r\n"), "{out}");
    }

    #[test]
    fn unparseable_messages_are_refused_with_550_5_6_0() {
        for raw in [
            &b""[..],
            b"\r\nno headers at all\r\n",
            b"  continuation first: x\r\n\r\n",
            b"Subject: ok\r\nnot a header line\r\n\r\nbody",
            b"Subject: nul \0 here\r\n\r\n",
        ] {
            let err = fix_message(raw, "a@example.com", "x").unwrap_err();
            let refusal = err.refusal();
            assert_eq!((refusal.code, refusal.enhanced), (550, "5.6.0"), "{err}");
        }
    }
}
