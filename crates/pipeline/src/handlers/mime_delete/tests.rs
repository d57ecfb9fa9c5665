//! Unit tests of content filtering; the data-driven cases are in
//! `testdata/content-filter/` (`tests/content_filter.rs`).

use mailcast_model::settings::{FilterAction, ListSettings};

use super::{Disposition, Outcome, Reason, run};
use crate::handlers::testing_list::list;

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn filtering(edit: impl FnOnce(&mut ListSettings)) -> crate::ListContext {
    list(|s| {
        s.filter_content = true;
        edit(s);
    })
}

fn filtered(raw: &[u8], edit: impl FnOnce(&mut ListSettings)) -> String {
    match run(raw, &filtering(edit)).expect("filters") {
        Outcome::Filtered(out) => String::from_utf8(out).expect("UTF-8"),
        other => panic!("expected a filtered post, got {other:?}"),
    }
}

const MIXED: &str = "From: anne@example.com
Subject: report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"XX\"

preamble
--XX
Content-Type: text/plain

Hello.
--XX
Content-Type: application/octet-stream; name=\"Setup.EXE\"
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA
--XX
Content-Type: image/png
Content-Disposition: attachment; filename=\"dot.png\"

iVBORw0KGgo=
--XX--
epilogue
";

#[test]
fn off_means_unchanged() {
    let out = run(
        &crlf(MIXED),
        &list(|s| s.filter_types = vec!["image".into()]),
    )
    .unwrap();
    assert_eq!(out, Outcome::Unchanged);
}

#[test]
fn nothing_matching_leaves_the_bytes_alone() {
    let raw = crlf(MIXED);
    let out = run(&raw, &filtering(|s| s.filter_types = vec!["audio".into()])).unwrap();
    assert_eq!(out, Outcome::Unchanged);
}

#[test]
fn main_types_and_extensions_match_case_insensitively() {
    let out = filtered(&crlf(MIXED), |s| {
        s.filter_types = vec!["IMAGE".into()];
        s.filter_extensions = vec!["Exe".into()];
    });
    // Two parts went; the one left is recast into the message.
    assert!(!out.contains("image/png"), "{out}");
    assert!(!out.contains("Setup.EXE"), "{out}");
    assert!(out.contains("Content-Type: text/plain\r\n"), "{out}");
    assert!(!out.contains("multipart/mixed"), "{out}");
    assert!(
        out.contains("X-Content-Filtered-By: mailcast/MimeDel\r\n"),
        "{out}"
    );
    assert!(out.ends_with("\r\n\r\nHello.\r\n"), "{out}");
}

#[test]
fn removing_one_part_keeps_the_others_byte_for_byte() {
    let out = filtered(&crlf(MIXED), |s| s.filter_types = vec!["image/png".into()]);
    assert!(out.contains("preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--XX\r\n"));
    assert!(
        out.contains("TVqQAAMAAAAEAAAA\r\n--XX--\r\nepilogue\r\n"),
        "{out}"
    );
    assert!(!out.contains("dot.png"));
}

#[test]
fn pass_types_need_the_multipart_too() {
    let raw = crlf(MIXED);
    let out = run(&raw, &filtering(|s| s.pass_types = vec!["text".into()])).unwrap();
    assert!(
        matches!(&out, Outcome::Disposed(d) if d.reason == Reason::TypeNotAllowed),
        "{out:?}"
    );
    let out = filtered(&raw, |s| {
        s.pass_types = vec!["text".into(), "multipart".into()]
    });
    assert!(!out.contains("base64") && !out.contains("png"), "{out}");
}

#[test]
fn pass_extensions_leave_parts_without_a_name() {
    let out = filtered(&crlf(MIXED), |s| s.pass_extensions = vec!["PNG".into()]);
    assert!(out.contains("dot.png") && out.contains("Hello."), "{out}");
    assert!(!out.contains("Setup.EXE"), "{out}");
}

#[test]
fn everything_filtered_is_disposed_as_filter_action_says() {
    for (action, want) in [
        (FilterAction::Discard, Disposition::Discard),
        (FilterAction::Reject, Disposition::Reject),
        (FilterAction::Forward, Disposition::Forward),
        (FilterAction::Preserve, Disposition::Preserve),
        (FilterAction::Hold, Disposition::Discard),
    ] {
        let out = run(
            &crlf(MIXED),
            &filtering(|s| {
                s.filter_types = vec!["text".into(), "image".into(), "application".into()];
                s.filter_action = action;
            }),
        )
        .unwrap();
        let Outcome::Disposed(disposal) = out else {
            panic!("{out:?}")
        };
        assert_eq!(disposal.action, want);
        assert_eq!(disposal.configured, action);
        assert_eq!(disposal.reason, Reason::Empty);
        assert_eq!(
            disposal.reason.to_string(),
            "After content filtering, the message was empty"
        );
    }
}

#[test]
fn the_whole_message_is_checked_first() {
    let raw = crlf("From: a@example.com\nContent-Type: text/html\n\n<p>x</p>\n");
    let out = run(
        &raw,
        &filtering(|s| s.filter_types = vec!["Text/HTML".into()]),
    )
    .unwrap();
    assert!(matches!(out, Outcome::Disposed(d) if d.reason == Reason::TypeDisallowed));
    let raw = crlf(
        "From: a@example.com\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"a.PDF\"\n\nxx\n",
    );
    let out = run(
        &raw,
        &filtering(|s| s.filter_extensions = vec!["pdf".into()]),
    )
    .unwrap();
    assert!(matches!(out, Outcome::Disposed(d) if d.reason == Reason::ExtensionDisallowed));
    let out = run(&raw, &filtering(|s| s.pass_extensions = vec!["txt".into()])).unwrap();
    assert!(matches!(out, Outcome::Disposed(d) if d.reason == Reason::ExtensionNotAllowed));
}

const ALTERNATIVE: &str = "From: anne@example.com
Subject: hi
Content-Type: multipart/alternative; boundary=\"alt\"
Content-Transfer-Encoding: 7bit

--alt
Content-Type: text/plain; charset=\"utf-8\"
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9
--alt
Content-Type: text/html; charset=\"utf-8\"

<p>Caf&eacute;</p>
--alt--
";

#[test]
fn an_outer_alternative_becomes_its_first_part() {
    let out = filtered(&crlf(ALTERNATIVE), |_| {});
    assert!(
        out.starts_with(
            "From: anne@example.com\r\nSubject: hi\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\nX-Content-Filtered-By: mailcast/MimeDel\r\n\r\nCaf=C3=A9"
        ),
        "{out}"
    );
}

#[test]
fn without_collapse_the_alternative_stays() {
    let out = run(
        &crlf(ALTERNATIVE),
        &filtering(|s| s.collapse_alternatives = false),
    )
    .unwrap();
    assert_eq!(out, Outcome::Unchanged);
}

#[test]
fn html_is_converted_to_text() {
    let raw = crlf(
        "From: a@example.com\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n<p>Caf=E9 <b>au</b> lait</p>\n",
    );
    let out = filtered(&raw, |s| s.convert_html_to_plaintext = true);
    assert!(
        out.contains("Content-Type: text/plain; charset=\"iso-8859-1\"\r\nContent-Transfer-Encoding: quoted-printable\r\n"),
        "{out}"
    );
    assert!(
        out.contains("X-Content-Filtered-By: mailcast/MimeDel"),
        "{out}"
    );
    assert!(out.contains("Caf=E9 au lait"), "{out}");
}

#[test]
fn an_empty_first_part_gives_way_to_the_attachment() {
    let raw = crlf(
        "From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n--b\nContent-Type: application/pdf; name=x.pdf\nContent-Transfer-Encoding: base64\n\nJVBERg==\n--b--\n",
    );
    let out = filtered(&raw, |_| {});
    assert!(
        out.contains("Content-Type: application/pdf; name=x.pdf\r\n"),
        "{out}"
    );
    assert!(
        out.contains("Content-Transfer-Encoding: base64\r\n"),
        "{out}"
    );
    assert!(!out.contains("multipart"), "{out}");
}

#[test]
fn signed_multiparts_are_not_recast() {
    let raw = crlf(
        "From: a@example.com\nContent-Type: multipart/signed; boundary=s; protocol=\"application/pgp-signature\"\n\n--s\nContent-Type: text/plain\n\nsigned\n--s\nContent-Type: application/pgp-signature\n\nSIG\n--s--\n",
    );
    let out = filtered(&raw, |s| {
        s.filter_types = vec!["application/pgp-signature".into()]
    });
    assert!(out.contains("multipart/signed"), "{out}");
}

#[test]
fn attached_messages_are_filtered_inside() {
    let raw = crlf(
        "From: a@example.com\nContent-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: text/plain\n\nsee attached\n--o\nContent-Type: message/rfc822\n\nFrom: b@example.com\nSubject: inner\nContent-Type: multipart/alternative; boundary=i\n\n--i\nContent-Type: text/plain\n\nplain\n--i\nContent-Type: text/html\n\n<p>html</p>\n--i--\n--o--\n",
    );
    let out = filtered(&raw, |_| {});
    // The attached message keeps its header and takes its first alternative.
    assert!(out.contains("Subject: inner\r\n"), "{out}");
    assert!(!out.contains("<p>html</p>"), "{out}");
    assert!(out.contains("message/rfc822"), "{out}");
}

#[test]
fn malformed_mime_never_panics() {
    let cases: Vec<Vec<u8>> = vec![
        crlf("From: a@example.com\nContent-Type: multipart/mixed\n\nno boundary\n"),
        crlf("From: a@example.com\nContent-Type: multipart/mixed; boundary=zz\n\nnever there\n"),
        crlf("From: a@example.com\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/html\n\nunterminated"),
        crlf("From: a@example.com\nContent-Type: ;;;/\n\nbody\n"),
        crlf("From: a@example.com\nContent-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n"),
        crlf("From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n--q\nnot a header line\n--q\n\n\n--q--\n"),
        crlf("From: a@example.com\nContent-Type: message/rfc822\n\n"),
        crlf("From: a@example.com\nContent-Type: multipart/alternative; boundary=a\n\n--a--\n"),
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=l\n\n--l\nContent-Type: text/html\n\n<b>lf</b>\n--l--\n".to_vec(),
        nested(5_000),
    ];
    for raw in &cases {
        for html in [false, true] {
            let out = run(
                raw,
                &filtering(|s| {
                    s.filter_types = vec!["image".into()];
                    s.convert_html_to_plaintext = html;
                }),
            );
            assert!(out.is_ok(), "{out:?}");
        }
    }
}

/// `depth` multiparts, each in the one before.
fn nested(depth: usize) -> Vec<u8> {
    let mut out = String::from("From: a@example.com\r\n");
    for i in 0..depth {
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    out.push_str("Content-Type: image/gif\r\n\r\nGIF\r\n");
    for i in (0..depth).rev() {
        out.push_str(&format!("--b{i}--\r\n"));
    }
    out.into_bytes()
}

#[test]
fn deep_nesting_is_bounded() {
    // Past the depth limit the inner containers are opaque: the image deep inside is kept.
    let raw = nested(super::tree::MAX_DEPTH + 10);
    let out = run(&raw, &filtering(|s| s.filter_types = vec!["image".into()])).unwrap();
    assert!(!matches!(out, Outcome::Disposed(_)), "{out:?}");
    // Within the limit it is found, and the emptied multiparts take the message with them.
    let raw = nested(10);
    let out = run(&raw, &filtering(|s| s.filter_types = vec!["image".into()])).unwrap();
    assert!(
        matches!(out, Outcome::Disposed(d) if d.reason == Reason::Empty),
        "{out:?}"
    );
}
