//! The builder of generated mails, through its public API and a real parser (mail-parser):
//! hostile values in every field never produce a header line of their own, bodies get the
//! right charset and transfer encoding, attachments stay byte for byte.

use mail_parser::{HeaderName, HeaderValue, MessageParser, MimeHeaders};
use mailcast_pipeline::generated::{AutoSubmitted, GeneratedMail, Mailbox, build};
use mailcast_pipeline::notice::NoticeIds;

const IDS: NoticeIds<'static> = NoticeIds {
    message_id: "<gen.1@lists.example.com>",
    date: 1_754_042_400,
    boundary: "gen-boundary-1",
};

/// A field of the mail a hostile value is put into.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    FromName,
    FromAddress,
    ToName,
    ToAddress,
    Subject,
    Extra,
    InReplyTo,
}

const FIELDS: [Field; 7] = [
    Field::FromName,
    Field::FromAddress,
    Field::ToName,
    Field::ToAddress,
    Field::Subject,
    Field::Extra,
    Field::InReplyTo,
];

fn hostile_values() -> Vec<String> {
    vec![
        "Eve\r\nBcc: victim@x".to_string(),
        "x\nSubject: y".to_string(),
        "bare\rCR".to_string(),
        "nul\0here".to_string(),
        "tab\tand\u{7f}del\u{1b}esc".to_string(),
        "Zoë\r\n\r\nBcc: victim@x".to_string(),
        "=?utf-8?q?Bcc=3A?=\r\n Bcc: victim@x".to_string(),
        "w".repeat(3000),
        "word ".repeat(700),
        format!("{}\r\nBcc: victim@x", "ü".repeat(500)),
        "Zoë =?utf-8?q?Bcc=3A?= x".to_string(),
    ]
}

fn mail_with<'a>(field: Field, value: &'a str, extra: &'a str) -> GeneratedMail<'a> {
    let pick = |f: Field, normal: &'a str| if f == field { value } else { normal };
    GeneratedMail {
        auto_submitted: AutoSubmitted::Generated,
        in_reply_to: Some(pick(Field::InReplyTo, "<orig@example.com>")),
        extra_headers: vec![("X-Test", extra.to_string())],
        attachments: Vec::new(),
        ..GeneratedMail::new(
            Mailbox {
                name: Some(pick(Field::FromName, "Ant List")),
                address: pick(Field::FromAddress, "ant-bounces@example.com"),
            },
            vec![Mailbox {
                name: Some(pick(Field::ToName, "Anne")),
                address: pick(Field::ToAddress, "anne@example.com"),
            }],
            pick(Field::Subject, "Hello"),
            "Body text.\n",
        )
    }
}

/// The header section's lines (CRLF split), without the empty line that ends it.
fn header_lines(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    head.split("\r\n").map(str::to_string).collect()
}

/// The value with control characters made spaces and white space runs collapsed: what a
/// sanitised, folded, encoded and decoded value compares equal to.
fn normalized(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn hostile_values_never_make_header_lines() {
    let expected = [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "X-Test",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ];
    for value in hostile_values() {
        for field in FIELDS {
            let extra = if field == Field::Extra {
                value.as_str()
            } else {
                "plain"
            };
            let out = build(&mail_with(field, &value, extra), &IDS);
            let case = format!("{field:?} = {:?}", &value[..value.len().min(40)]);

            // Every line of the header section is a continuation or starts a field we wrote.
            let lines = header_lines(&out);
            let mut names = Vec::new();
            for line in &lines {
                assert!(line.len() <= 998, "{case}: line of {} octets", line.len());
                assert!(
                    !line.contains('\r') && !line.contains('\0'),
                    "{case}: {line:?}"
                );
                if line.starts_with([' ', '\t']) {
                    continue;
                }
                let name = line.split(':').next().unwrap_or_default();
                assert!(
                    expected.contains(&name),
                    "{case}: unexpected field line {line:?}"
                );
                names.push(name.to_string());
            }
            for name in expected {
                let count = names.iter().filter(|n| *n == name).count();
                let want = if name == "In-Reply-To" || name == "References" {
                    usize::from(
                        field != Field::InReplyTo
                            || value.chars().any(|c| c.is_ascii_alphanumeric()),
                    )
                } else {
                    1
                };
                assert_eq!(count, want, "{case}: {name} appears {count} times");
            }

            let parsed = MessageParser::default()
                .parse(&out)
                .expect("the mail parses");
            assert!(parsed.header(HeaderName::Bcc).is_none(), "{case}");
            assert_eq!(
                parsed
                    .headers()
                    .iter()
                    .filter(|h| h.name == HeaderName::Subject)
                    .count(),
                1,
                "{case}"
            );
            let from = parsed
                .from()
                .and_then(|a| a.first())
                .expect("one From address");
            let to = parsed.to().and_then(|a| a.first()).expect("one To address");
            assert_eq!(parsed.from().map(|a| a.iter().count()), Some(1), "{case}");
            assert_eq!(parsed.to().map(|a| a.iter().count()), Some(1), "{case}");
            let survives = |got: Option<String>| {
                assert_eq!(
                    normalized(&got.unwrap_or_default()),
                    normalized(&value),
                    "{case}"
                );
            };
            let owned = |s: Option<&str>| s.map(str::to_string);
            match field {
                Field::Subject => survives(owned(parsed.subject())),
                Field::FromName => survives(owned(from.name())),
                Field::ToName => survives(owned(to.name())),
                // Unstructured: decode the encoded words mail-builder wrote.
                Field::Extra => survives(parsed.header_raw("X-Test").map(decode)),
                Field::FromAddress | Field::ToAddress => {
                    let address = if field == Field::FromAddress {
                        from
                    } else {
                        to
                    };
                    let got = address.address().unwrap_or_default();
                    assert!(!got.contains(char::is_whitespace), "{case}: {got:?}");
                    let letters = |s: &str| {
                        s.chars()
                            .filter(|c| c.is_alphanumeric())
                            .collect::<String>()
                    };
                    // What is left is the value without the characters an address cannot
                    // hold (a parser may read less of such garbage, never more).
                    assert!(
                        !got.is_empty() && letters(&value).contains(&letters(got)),
                        "{case}: {got:?}"
                    );
                }
                Field::InReplyTo => {
                    let id = parsed
                        .in_reply_to()
                        .as_text()
                        .unwrap_or_default()
                        .to_string();
                    assert!(!id.contains(char::is_whitespace), "{case}: {id:?}");
                }
            }
            assert_eq!(
                parsed.body_text(0).as_deref(),
                Some("Body text.\r\n"),
                "{case}"
            );
        }
    }
}

fn decode(raw: &str) -> String {
    let mut line = raw.as_bytes().to_vec();
    line.extend_from_slice(b"\r\n");
    match mail_parser::parsers::MessageStream::new(&line).parse_unstructured() {
        HeaderValue::Text(text) => text.into_owned(),
        HeaderValue::TextList(list) => list.concat(),
        _ => String::new(),
    }
}

#[test]
fn bodies_get_charset_and_transfer_encoding() {
    for (text, encoding) in [
        ("Plain ASCII text.\nTwo lines.\n", "7bit"),
        ("Grüße aus Köln, schöne Grüße.\n", "encoded"),
        ("Привет! Это сообщение на русском языке.\n", "encoded"),
        (
            "NUL\0in the body, and a line longer than seventy-eight characters, which 7bit allows\n",
            "encoded",
        ),
        ("old\rmac\r\nand unix\nlines", "7bit"),
    ] {
        let mail = GeneratedMail::new(
            Mailbox::bare("ant-bounces@example.com"),
            vec![Mailbox::bare("anne@example.com")],
            "Encodings",
            text,
        );
        let out = build(&mail, &IDS);
        let parsed = MessageParser::default().parse(&out).unwrap();
        let part = parsed.part(0).unwrap();
        let got = part.content_transfer_encoding().unwrap_or_default();
        if encoding == "7bit" {
            assert_eq!(got, "7bit", "{text:?}");
        } else {
            assert!(
                ["quoted-printable", "base64"].contains(&got),
                "{text:?}: {got}"
            );
        }
        let ct = part.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
        assert_eq!(ct.attribute("charset"), Some("utf-8"), "{text:?}");
        // Line ends become CRLF, and NUL (allowed in no text encoding) a space.
        let crlf = text
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\n', "\r\n")
            .replace('\0', " ");
        assert_eq!(
            parsed.body_text(0).as_deref(),
            Some(crlf.as_str()),
            "{text:?}"
        );
        let head = String::from_utf8_lossy(&out);
        assert!(head.contains("\r\nMIME-Version: 1.0\r\n"), "{head}");
        assert!(
            head.contains("\r\nDate: Fri, 1 Aug 2025 10:00:00 +0000\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nMessage-ID: <gen.1@lists.example.com>\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nAuto-Submitted: auto-generated\r\n"),
            "{head}"
        );
        assert!(!head.contains("In-Reply-To"), "{head}");
    }
}

#[test]
fn replies_attachments_and_names() {
    let post = b"From: anne@example.com\r\nSubject: Hi --gen-boundary-1\r\n\r\nbody --gen-boundary-1\r\n\xc3\xa9\r\n";
    let mail = GeneratedMail {
        auto_submitted: AutoSubmitted::Replied,
        in_reply_to: Some("<orig.1@example.com>"),
        extra_headers: vec![("X-Ack", "No".to_string())],
        attachments: vec![&post[..], b"Subject: second\r\n\r\nx\r\n"],
        ..GeneratedMail::new(
            Mailbox {
                name: Some("Jörg, the \"list\""),
                address: "ant-bounces@example.com",
            },
            vec![
                Mailbox::bare("anne@example.com"),
                Mailbox {
                    name: Some("Bart"),
                    address: "bart@example.com",
                },
            ],
            "Auto-response for your message",
            "Thanks.\n",
        )
    };
    let out = build(&mail, &IDS);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains(
            "\r\nIn-Reply-To: <orig.1@example.com>\r\nReferences: <orig.1@example.com>\r\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\r\nAuto-Submitted: auto-replied\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nX-Ack: No\r\n"), "{text}");
    // The caller's boundary occurs in the attached post, so another one is used.
    assert!(!text.contains("boundary=\"gen-boundary-1\""), "{text}");
    assert!(
        text.contains("Content-Transfer-Encoding: 8bit\r\n\r\nFrom: anne@example.com\r\n"),
        "{text}"
    );
    let parsed = MessageParser::default().parse(&out).unwrap();
    assert_eq!(parsed.attachment_count(), 2);
    let start = memfind(&out, post).expect("the post is attached byte for byte");
    assert_eq!(&out[start..start + post.len()], post);
    let from = parsed.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.name(), Some("Jörg, the \"list\""));
    let to: Vec<_> = parsed
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, ["anne@example.com", "bart@example.com"]);
    assert_eq!(parsed.body_text(0).as_deref(), Some("Thanks.\r\n"));
}

fn memfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn building_is_deterministic() {
    let mail = mail_with(Field::Subject, "Same", "x");
    assert_eq!(build(&mail, &IDS), build(&mail, &IDS));
    let no_id = NoticeIds {
        message_id: "< >",
        ..IDS
    };
    let out = String::from_utf8(build(&mail, &no_id)).unwrap();
    assert_eq!(out, String::from_utf8(build(&mail, &no_id)).unwrap());
    assert!(out.contains("@mailcast.invalid>\r\n"), "{out}");
}
