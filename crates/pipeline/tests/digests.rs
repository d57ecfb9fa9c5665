//! Golden digests: every directory in `testdata/digests/` holds the posts a list accumulated
//! (`NN.eml`, in order, as they left the handlers), a `case.toml` (the numbers, list settings,
//! template texts) and the expected MIME and plain digests (`mime.expected.eml`,
//! `plain.expected.eml`), compared byte for byte. `UPDATE_EXPECT=1` rewrites the expected
//! files. Each digest is also read back with mail-parser and checked for Mailman's structure.

mod cases;

use std::path::PathBuf;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mailcast_model::ListAddress;
use mailcast_model::settings::ListSettings;
use mailcast_pipeline::digest::{self, Issue};
use mailcast_pipeline::notice::NoticeIds;
use mailcast_pipeline::templates::Overrides;
use mailcast_pipeline::{ListContext, SiteFacts};
use toml::{Table, Value};

const IDS: NoticeIds<'static> = NoticeIds {
    message_id: "<digest.1@example.com>",
    date: 1_765_180_800,
    boundary: "",
};

fn cases_dir() -> PathBuf {
    cases::dir("digests")
}

#[test]
fn golden_digests() {
    let names = cases::names(&cases_dir(), "", 2);
    cases::run_all("digest", &names, check);
}

fn check(name: &str) -> Result<(), String> {
    let dir = cases_dir().join(name);
    let spec: Table = std::fs::read_to_string(dir.join("case.toml"))
        .map_err(|e| e.to_string())?
        .parse()
        .map_err(|e: toml::de::Error| e.to_string())?;
    let address = ListAddress::parse("ant@example.com").unwrap();
    let mut settings = ListSettings::defaults_for(&address);
    cases::apply_settings(&mut settings, &spec)?;
    let templates: Overrides = spec
        .get("templates")
        .and_then(Value::as_table)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let list = ListContext::new(address, settings, SiteFacts::default());
    let number = |key: &str| spec.get(key).and_then(Value::as_integer).unwrap_or(1) as u64;
    let issue = Issue {
        list: &list,
        templates: &templates,
        volume: number("volume"),
        number: number("number"),
        ids: IDS,
    };
    let mut posts: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| {
            let e = e.ok()?;
            let file = e.file_name().into_string().ok()?;
            (file.ends_with(".eml") && !file.contains("expected"))
                .then(|| Some((file, std::fs::read(e.path()).ok()?)))?
        })
        .collect();
    posts.sort();
    let raws: Vec<&[u8]> = posts.iter().map(|(_, raw)| raw.as_slice()).collect();
    let built = digest::build(&issue, &raws).ok_or("no digest built")?;

    structure(
        name,
        &built.mime,
        &built.plain,
        posts.len(),
        &issue.digest_id(),
    )?;
    for (file, actual) in [
        ("mime.expected.eml", &built.mime),
        ("plain.expected.eml", &built.plain),
    ] {
        cases::compare(&dir.join(file), Some(actual)).map_err(|e| format!("[{name}] {e}"))?;
    }
    Ok(())
}

/// Mailman's layout, read back by a MIME parser.
fn structure(name: &str, mime: &[u8], plain: &[u8], posts: usize, id: &str) -> Result<(), String> {
    let fail = |what: String| Err(format!("[{name}] {what}"));
    let parsed = MessageParser::default()
        .parse(mime)
        .ok_or("MIME digest does not parse")?;
    if parsed.subject() != Some(id) {
        return fail(format!("subject {:?}", parsed.subject()));
    }
    let descriptions: Vec<&str> = parsed
        .parts
        .iter()
        .filter_map(|p| p.content_description())
        .collect();
    let topics = format!("Today's Topics ({posts} messages)");
    if descriptions.first() != Some(&id) || !descriptions.contains(&topics.as_str()) {
        return fail(format!("descriptions {descriptions:?}"));
    }
    let embedded: Vec<_> = parsed
        .parts
        .iter()
        .filter_map(|p| match &p.body {
            PartType::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    if embedded.len() != posts {
        return fail(format!("{} embedded posts", embedded.len()));
    }
    for (i, post) in embedded.iter().enumerate() {
        let number = post.header_raw("Message").map(str::trim);
        if number != Some((i + 1).to_string().as_str()) {
            return fail(format!("post {i} has Message: {number:?}"));
        }
    }
    if !mime.ends_with(format!("End of {id}\r\n").as_bytes()) {
        return fail("no End of line".into());
    }
    if parsed.header_raw("List-Id").is_none() || parsed.header_raw("Archived-At").is_some() {
        return fail("list headers".into());
    }
    let plain = MessageParser::default()
        .parse(plain)
        .ok_or("plain digest does not parse")?;
    let text = plain.body_text(0).ok_or("plain digest has no text")?;
    let sign_off = format!("End of {id}");
    if !text.contains(&format!("{sign_off}\r\n{}", "*".repeat(sign_off.len())))
        && !text.contains(&format!("{sign_off}\n{}", "*".repeat(sign_off.len())))
    {
        return fail("plain digest sign-off".into());
    }
    for n in 1..=posts {
        if !text.contains(&format!("Message: {n}")) {
            return fail(format!("plain digest lacks message {n}"));
        }
    }
    Ok(())
}
