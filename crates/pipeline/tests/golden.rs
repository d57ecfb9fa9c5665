//! Golden tests: every case in `testdata/pipeline/` is a received message (`<case>.in.eml`),
//! a small `<case>.toml` (list settings, senders, expected chain decision) and, for outcomes
//! that produce mail, the expected bytes (`<case>.expected.eml`): the distributed post for an
//! accepted one, the moderators' notice for a held one, the rejection notice for a rejected
//! one. `check` is the only code that drives the pipeline; `UPDATE_EXPECT=1` rewrites the
//! expected files.

mod cases;

use std::path::PathBuf;

use mailcast_model::settings::ListSettings;
use mailcast_model::{Action, EmailAddress, ListAddress, MemberRole};
use mailcast_pipeline::chain::{self, Disposition, RejectKind};
use mailcast_pipeline::handlers::{ProcessOptions, process};
use mailcast_pipeline::notice::{self, NoticeIds};
use mailcast_pipeline::personalize::Personalizer;
use mailcast_pipeline::rules::RuleContext;
use mailcast_pipeline::{
    ListContext, Message, MessageFacts, RecipientFacts, SenderFacts, SiteFacts, intake,
};
use toml::{Table, Value};

const NOTICE_IDS: NoticeIds<'static> = NoticeIds {
    message_id: "<notice.1@lists.example.com>",
    date: 1_754_042_400,
    boundary: "notice-boundary-1",
};

fn cases_dir() -> PathBuf {
    cases::dir("pipeline")
}

#[test]
fn golden_cases() {
    let names = cases::names(&cases_dir(), ".toml", 25);
    cases::run_all("golden", &names, check);
}

/// Runs one case: intake, chain, then the handlers or the notice, and compares.
fn check(name: &str) -> Result<(), String> {
    let dir = cases_dir();
    let fail = |what: String| format!("[{name}] {what}");
    let (raw, spec) = cases::load(&dir, name).map_err(fail)?;
    let str_of = |key: &str, default: &str| {
        spec.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let address =
        ListAddress::parse(&str_of("list", "ant@example.com")).map_err(|e| fail(e.to_string()))?;
    let envelope = str_of("envelope_sender", "anne@example.com");

    let mut settings = ListSettings::defaults_for(&address);
    cases::apply_settings(&mut settings, &spec).map_err(fail)?;
    let list = ListContext::new(address, settings, SiteFacts::default());
    assert!(list.problems().is_empty(), "[{name}] {:?}", list.problems());

    let fixed = intake::fix_message(&raw, &envelope, "generated.1@lists.example.com")
        .map_err(|e| fail(e.to_string()))?;
    let message = Message::parse(&fixed).map_err(|e| fail(e.to_string()))?;
    let senders = sender_facts(&spec).map_err(fail)?;
    let facts = MessageFacts {
        original_size: raw.len() as u64,
        ..MessageFacts::default()
    };
    let ctx = RuleContext::new(&message, &list, &senders, Some(&envelope), facts);
    let result = chain::run(&ctx);

    let expect = spec
        .get("expect")
        .and_then(Value::as_table)
        .ok_or_else(|| fail("no [expect]".into()))?;
    let want = expect
        .get("disposition")
        .and_then(Value::as_str)
        .unwrap_or("");
    let got = match result.disposition {
        Disposition::Accept => "accept",
        Disposition::Hold => "hold",
        Disposition::Reject(_) => "reject",
        Disposition::Discard => "discard",
    };
    if want != got {
        return Err(fail(format!(
            "disposition {got}, expected {want}: {result:?}"
        )));
    }
    if let (Some(kind), Disposition::Reject(actual)) = (
        expect.get("reject").and_then(Value::as_str),
        result.disposition,
    ) {
        let actual = match actual {
            RejectKind::Loop => "loop",
            RejectKind::Banned => "banned",
            RejectKind::Policy => "policy",
        };
        if kind != actual {
            return Err(fail(format!("reject kind {actual}, expected {kind}")));
        }
    }
    let strings = |key: &str| -> Option<Vec<String>> {
        expect.get(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
    };
    if let Some(reasons) = strings("reasons")
        && reasons != result.reasons
    {
        return Err(fail(format!(
            "reasons {:?}, expected {reasons:?}",
            result.reasons
        )));
    }
    if let Some(hits) = strings("rule_hits")
        && hits != result.rule_hits
    {
        return Err(fail(format!(
            "rule hits {:?}, expected {hits:?}",
            result.rule_hits
        )));
    }
    if let Some(refusal) = expect.get("refusal").and_then(Value::as_str) {
        let got = result
            .refusal()
            .map(|r| format!("{} {} {}", r.code, r.enhanced, r.text))
            .unwrap_or_default();
        if got != refusal {
            return Err(fail(format!("refusal {got:?}, expected {refusal:?}")));
        }
    }

    // The LMTP server's early chain refuses and discards exactly these posts.
    let early = match chain::early(&ctx) {
        chain::Early::Refuse(r) => format!("refuse {} {} {}", r.code, r.enhanced, r.text),
        chain::Early::Discard(_) => "discard".to_string(),
        chain::Early::Store => "store".to_string(),
    };
    let full = match (result.disposition, result.refusal()) {
        (Disposition::Reject(_), Some(r)) => format!("refuse {} {} {}", r.code, r.enhanced, r.text),
        (Disposition::Discard, _) => "discard".to_string(),
        _ => "store".to_string(),
    };
    if early != full {
        return Err(fail(format!(
            "early chain says {early:?}, full chain {full:?}"
        )));
    }

    let kept = result.annotate(&fixed);
    let sender = result.moderation_sender.clone().unwrap_or(envelope.clone());
    let output = match result.disposition {
        Disposition::Accept => Some(accepted(&spec, &list, &kept).map_err(fail)?),
        Disposition::Hold => Some(notice::held_for_moderators(
            &list,
            &kept,
            &sender,
            &result.reasons,
            "TOKEN1234",
            &NOTICE_IDS,
        )),
        Disposition::Reject(RejectKind::Policy) => Some(notice::rejected(
            &list,
            &kept,
            &sender,
            &result.reasons,
            &NOTICE_IDS,
        )),
        Disposition::Reject(_) | Disposition::Discard => None,
    };
    cases::compare(&dir.join(format!("{name}.expected.eml")), output.as_deref()).map_err(fail)
}

fn accepted(spec: &Table, list: &ListContext, kept: &[u8]) -> Result<Vec<u8>, String> {
    let recipient = spec.get("recipient").and_then(Value::as_table);
    let options = ProcessOptions {
        post_number: spec
            .get("post_number")
            .and_then(Value::as_integer)
            .unwrap_or(1) as u64,
        decorate: recipient.is_none(),
        anonymous_message_id: "anonymous.1@lists.example.com",
        remove_dkim_headers: false,
    };
    let processed = process(kept, list, &options).map_err(|e| e.to_string())?;
    let Some(recipient) = recipient else {
        return Ok(processed);
    };
    let address = recipient
        .get("address")
        .and_then(Value::as_str)
        .ok_or("recipient without address")?;
    let address = EmailAddress::parse(address).map_err(|e| e.to_string())?;
    let facts = RecipientFacts {
        address: &address,
        display_name: recipient.get("name").and_then(Value::as_str),
        language: Some("English (USA)"),
        one_click: None,
    };
    let personalizer = Personalizer::new(&processed, list).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    personalizer.render(&facts, &mut out);
    Ok(out)
}

fn sender_facts(spec: &Table) -> Result<Vec<SenderFacts>, String> {
    let Some(senders) = spec.get("senders").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    senders
        .iter()
        .map(|s| {
            let roles = s
                .get("roles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| MemberRole::parse(r.as_str().unwrap_or("")).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let moderation_action = match s.get("moderation_action").and_then(Value::as_str) {
                Some(a) => Some(Action::parse(a).map_err(|e| e.to_string())?),
                None => None,
            };
            Ok(SenderFacts {
                address: s
                    .get("address")
                    .and_then(Value::as_str)
                    .ok_or("sender without address")?
                    .to_lowercase(),
                roles,
                moderation_action,
                banned: s.get("banned").and_then(Value::as_bool).unwrap_or(false),
                member_of: Vec::new(),
            })
        })
        .collect()
}
