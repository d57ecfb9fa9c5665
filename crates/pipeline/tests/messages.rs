//! The message corpus in `testdata/messages/`: every well-formed message passes intake, keeps
//! its body bytes through the header handlers, and comes out of decoration as a message that
//! parses and shows the footer; every `malformed-*` message is refused with `550 5.6.0`.

use std::path::Path;

use mail_parser::MessageParser;
use mailcast_model::ListAddress;
use mailcast_model::settings::ListSettings;
use mailcast_pipeline::handlers::{ProcessOptions, process};
use mailcast_pipeline::{ListContext, Message, SiteFacts, intake};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/messages");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("testdata/messages exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            if !name.ends_with(".eml") {
                return None;
            }
            Some((name, std::fs::read(&path).ok()?))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus too small: {files:?}");
    files
}

fn list() -> ListContext {
    let address = ListAddress::parse("ant@example.com").unwrap();
    let settings = ListSettings::defaults_for(&address);
    ListContext::new(address, settings, SiteFacts::default())
}

#[test]
fn malformed_messages_are_refused_and_the_rest_accepted() {
    for (name, raw) in corpus() {
        let result = intake::fix_message(&raw, "anne@example.com", "gen@lists.example.com");
        if name.starts_with("malformed-") {
            let refusal = result.expect_err(&name).refusal();
            assert_eq!((refusal.code, refusal.enhanced), (550, "5.6.0"), "{name}");
        } else {
            let fixed = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            let before = Message::parse(&raw).unwrap();
            let after = Message::parse(&fixed).unwrap();
            assert_eq!(
                before.body(),
                after.body(),
                "{name}: intake changed the body"
            );
            assert_eq!(after.fields_named("Message-ID-Hash").count(), 1, "{name}");
        }
    }
}

#[test]
fn header_handlers_keep_the_body_and_untouched_fields() {
    let list = list();
    let options = ProcessOptions {
        post_number: 3,
        decorate: false,
        anonymous_message_id: "anon@x",
        remove_dkim_headers: false,
    };
    for (name, raw) in corpus()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("malformed-"))
    {
        let fixed = intake::fix_message(&raw, "anne@example.com", "gen@lists.example.com").unwrap();
        let out = process(&fixed, &list, &options).unwrap();
        let (before, after) = (
            Message::parse(&fixed).unwrap(),
            Message::parse(&out).unwrap(),
        );
        assert_eq!(before.body(), after.body(), "{name}: body changed");
        for field in before.fields() {
            let name_of = before.name_of(field);
            if ["subject", "to", "from", "message-id", "content-type"]
                .contains(&name_of.to_ascii_lowercase().as_str())
            {
                let bytes = &fixed[field.start..field.end];
                let kept = name_of.eq_ignore_ascii_case("subject")
                    || out.windows(bytes.len()).any(|w| w == bytes);
                assert!(kept, "{name}: {name_of} was not kept byte for byte");
            }
        }
        assert_eq!(after.fields_named("List-Id").count(), 1, "{name}");
    }
}

#[test]
fn decorated_messages_parse_and_show_the_footer() {
    let list = list();
    let options = ProcessOptions {
        post_number: 3,
        decorate: true,
        anonymous_message_id: "anon@x",
        remove_dkim_headers: false,
    };
    for (name, raw) in corpus()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("malformed-"))
    {
        let fixed = intake::fix_message(&raw, "anne@example.com", "gen@lists.example.com").unwrap();
        let out = process(&fixed, &list, &options).unwrap();
        let parsed = MessageParser::new()
            .parse(&out)
            .unwrap_or_else(|| panic!("{name}: does not parse"));
        let texts: String = (0..parsed.text_body_count())
            .filter_map(|i| parsed.body_text(i))
            .collect();
        assert!(
            texts.contains("Ant mailing list -- ant@example.com"),
            "{name}: no footer in\n{}",
            String::from_utf8_lossy(&out)
        );
        assert!(Message::parse(&out).is_ok(), "{name}");
    }
}
