//! DMARC mitigation: the `dmarc-mitigation` rule in the chain, and golden cases of the
//! `dmarc` handler.
//!
//! Every case in `testdata/dmarc/` is a post (`<case>.in.eml`) from a member, a
//! `<case>.toml` (the list, its `[settings]`, what DNS said about the From domain as `dmarc`
//! — `strict`, `lax`, `failed` or `not_looked_up`, default `strict` —, an optional
//! `member_name`, whether to `decorate`, and `[expect] mitigated`) and the members' copy
//! (`<case>.expected.eml`). The test runs the posting chain (it must accept) and the handlers
//! with the chain's DMARC flag, compares, and checks with mail-parser that the copy is
//! well-formed: From is the list's, the archived copy keeps the author's From, a munged copy
//! keeps the body bytes, a wrapped copy holds the post byte for byte. `UPDATE_EXPECT=1`
//! rewrites the expected files.

mod cases;

use std::path::PathBuf;

use mail_parser::MessageParser;
use mailcast_model::settings::{DmarcMitigateAction, ListSettings};
use mailcast_model::{ListAddress, MemberRole};
use mailcast_pipeline::chain::{self, Disposition, Early};
use mailcast_pipeline::handlers::dmarc::Mitigation;
use mailcast_pipeline::handlers::{ProcessOptions, process_for_members};
use mailcast_pipeline::rules::RuleContext;
use mailcast_pipeline::rules::dmarc_mitigation::domain_to_query;
use mailcast_pipeline::{FromDmarc, ListContext, Message, MessageFacts, SenderFacts, SiteFacts};
use toml::Value;

const WRAPPER_ID: &str = "<dmarc.1@lists.example.org>";

fn cases_dir() -> PathBuf {
    cases::dir("dmarc")
}

#[test]
fn dmarc_golden_cases() {
    let names = cases::names(&cases_dir(), ".toml", 20);
    cases::run_all("dmarc", &names, check);
}

fn dmarc_fact(name: &str) -> Result<FromDmarc, String> {
    Ok(match name {
        "strict" => FromDmarc::Strict,
        "lax" => FromDmarc::Lax,
        "failed" => FromDmarc::Failed,
        "not_looked_up" => FromDmarc::NotLookedUp,
        other => return Err(format!("unknown dmarc fact {other:?}")),
    })
}

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
    let address = ListAddress::parse(&str_of("list", "dev@lists.example.org"))
        .map_err(|e| fail(e.to_string()))?;
    let mut settings = ListSettings::defaults_for(&address);
    settings.footer_text.0.clear();
    cases::apply_settings(&mut settings, &spec).map_err(fail)?;
    let list = ListContext::new(address, settings, SiteFacts::default());
    assert!(list.problems().is_empty(), "[{name}] {:?}", list.problems());

    let message = Message::parse(&raw).map_err(|e| fail(e.to_string()))?;
    let envelope = message
        .addresses("From")
        .first()
        .map_or("sender@example.net".to_string(), |a| a.email.clone());
    let member = SenderFacts {
        address: envelope.clone(),
        roles: vec![MemberRole::Member],
        ..SenderFacts::default()
    };
    let facts = MessageFacts {
        original_size: raw.len() as u64,
        dmarc: dmarc_fact(&str_of("dmarc", "strict")).map_err(fail)?,
        ..MessageFacts::default()
    };
    let ctx = RuleContext::new(&message, &list, &[member], Some(&envelope), facts);
    let result = chain::run(&ctx);
    if result.disposition != Disposition::Accept {
        return Err(fail(format!("the chain did not accept: {result:?}")));
    }
    let kept = result.annotate(&raw);

    let member_name = spec.get("member_name").and_then(Value::as_str);
    let mitigation = Mitigation {
        flagged: result.dmarc,
        original_sender: &envelope,
        member_name,
        message_id: WRAPPER_ID,
    };
    let options = ProcessOptions {
        post_number: 1,
        decorate: spec
            .get("decorate")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        anonymous_message_id: "<anonymous.1@lists.example.org>",
        remove_dkim_headers: false,
    };
    let processed = process_for_members(&kept, &list, &options, Some(&mitigation))
        .map_err(|e| fail(e.to_string()))?;
    let want_mitigated = spec
        .get("expect")
        .and_then(|e| e.get("mitigated"))
        .and_then(Value::as_bool)
        .ok_or_else(|| fail("no [expect] mitigated".into()))?;
    if processed.mitigated.is_some() != want_mitigated {
        return Err(fail(format!(
            "mitigated: {}, expected {want_mitigated}",
            processed.mitigated.is_some()
        )));
    }
    well_formed(
        &list,
        &raw,
        &processed.headed,
        processed.mitigated.as_deref(),
    )
    .map_err(fail)?;
    let out = processed.distributed();
    if MessageParser::default().parse(&out).is_none() {
        return Err(fail("mail-parser cannot parse the copy".into()));
    }
    cases::compare(&dir.join(format!("{name}.expected.eml")), Some(&out)).map_err(fail)
}

/// What must hold whatever the expected bytes say.
fn well_formed(
    list: &ListContext,
    received: &[u8],
    headed: &[u8],
    mitigated: Option<&[u8]>,
) -> Result<(), String> {
    let original = Message::parse(received).map_err(|e| e.to_string())?;
    let archived = Message::parse(headed).map_err(|e| e.to_string())?;
    // Archives and digests keep the author's From (an anonymous list's handlers remove it).
    let anonymous = list.settings().anonymous_list;
    if (!anonymous && archived.addresses("From") != original.addresses("From"))
        || archived.has("X-Original-From")
    {
        return Err("the archived copy lost the author's From".into());
    }
    let Some(mitigated) = mitigated else {
        return Ok(());
    };
    let parsed = MessageParser::default()
        .parse(mitigated)
        .ok_or("mail-parser cannot parse the mitigated copy")?;
    let from = parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default();
    if from != list.address().posting_address() {
        return Err(format!("the copy is from {from:?}, not the list"));
    }
    let copy = Message::parse(mitigated).map_err(|e| e.to_string())?;
    let original_from: Vec<String> = original
        .fields_named("From")
        .map(|f| original.unfolded(f))
        .collect();
    if copy.text("X-Original-From").is_none()
        || copy
            .fields_named("X-Original-From")
            .map(|f| copy.unfolded(f))
            .next()
            != Some(original_from.join(", "))
    {
        return Err("X-Original-From is not the author's From".into());
    }
    if list.settings().dmarc_mitigate_action == DmarcMitigateAction::WrapMessage {
        // The post, byte for byte, is the wrapped message.
        let inner = parsed
            .parts
            .iter()
            .find_map(|p| p.message())
            .ok_or("no message/rfc822 part in the wrapper")?;
        if inner.raw_message() != headed {
            return Err(format!(
                "the wrapped message differs from the post:\n{}",
                String::from_utf8_lossy(inner.raw_message())
            ));
        }
        if !copy
            .addresses("From")
            .iter()
            .all(|a| a.email == list.address().posting_address())
        {
            return Err("the wrapper is not from the list".into());
        }
    } else if copy.body() != archived.body() {
        return Err("munging changed the body".into());
    }
    Ok(())
}

/// The rule and the chain, for each action, DNS answer, `dmarc_addresses` entry and
/// `dmarc_mitigate_unconditionally`.
#[test]
fn rule_table() {
    use DmarcMitigateAction::*;
    use FromDmarc::*;
    let mitigating = |action| match action {
        Reject => Want::Reject,
        Discard => Want::Discard,
        _ => Want::Accept { flagged: true },
    };
    let mut cases = 0;
    for action in [NoMitigation, MungeFrom, WrapMessage, Reject, Discard] {
        for fact in [NotLookedUp, Strict, Lax, Failed] {
            for (addresses, listed) in [
                (vec![], false),
                (vec!["Jane@Yahoo.com".to_string()], true),
                (vec!["^.*@yahoo\\.COM$".to_string()], true),
                (
                    vec!["^bob@".to_string(), "other@yahoo.com".to_string()],
                    false,
                ),
            ] {
                for unconditional in [false, true] {
                    let want =
                        if action != NoMitigation && (listed || matches!(fact, Strict | Failed)) {
                            mitigating(action)
                        } else {
                            Want::Accept { flagged: false }
                        };
                    let got = run_chain(action, fact, &addresses, unconditional);
                    assert_eq!(
                        got.0, want,
                        "{action:?} {fact:?} {addresses:?} unconditional={unconditional}"
                    );
                    // A lookup is asked exactly when its answer can matter.
                    let asks = action != NoMitigation
                        && !listed
                        && !(unconditional && matches!(action, MungeFrom | WrapMessage));
                    assert_eq!(got.1, asks.then(|| "yahoo.com".to_string()), "{action:?}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 160);
}

const POST: &str = "From: Jane Doe <Jane@Yahoo.com>\r\nTo: dev@lists.example.org\r\nSubject: hi\r\nMessage-ID: <a@yahoo.com>\r\n\r\nhello\r\n";

fn list_with(edit: impl FnOnce(&mut ListSettings)) -> ListContext {
    let address = ListAddress::parse("dev@lists.example.org").expect("a list address");
    let mut settings = ListSettings::defaults_for(&address);
    edit(&mut settings);
    ListContext::new(address, settings, SiteFacts::default())
}

fn member() -> SenderFacts {
    SenderFacts {
        address: "jane@yahoo.com".into(),
        roles: vec![MemberRole::Member],
        ..SenderFacts::default()
    }
}

/// The chain's outcome (accept with the flag, reject, discard) and the lookup asked for.
fn run_chain(
    action: DmarcMitigateAction,
    fact: FromDmarc,
    addresses: &[String],
    unconditional: bool,
) -> (Got, Option<String>) {
    let list = list_with(|s| {
        s.dmarc_mitigate_action = action;
        s.dmarc_addresses = addresses.to_vec();
        s.dmarc_mitigate_unconditionally = unconditional;
    });
    let message = Message::parse(POST.as_bytes()).expect("the post parses");
    let facts = MessageFacts {
        dmarc: fact,
        ..MessageFacts::default()
    };
    let ctx = RuleContext::new(&message, &list, &[member()], None, facts);
    let result = chain::run(&ctx);
    let early = chain::early(&ctx);
    let got = match result.disposition {
        Disposition::Accept => {
            assert_eq!(early, Early::Store);
            Got::Accept {
                flagged: result.dmarc,
            }
        }
        Disposition::Reject(_) => {
            assert!(matches!(early, Early::Refuse(_)), "{early:?}");
            assert_eq!(result.rule_hits, ["dmarc-mitigation"]);
            Got::Reject
        }
        Disposition::Discard => {
            assert_eq!(early, Early::Discard(vec!["DMARC moderation".into()]));
            Got::Discard
        }
        Disposition::Hold => Got::Hold,
    };
    (got, domain_to_query(&message, &list))
}

#[derive(Debug)]
enum Got {
    Accept { flagged: bool },
    Reject,
    Discard,
    Hold,
}

#[derive(Debug, PartialEq)]
enum Want {
    Accept { flagged: bool },
    Reject,
    Discard,
}

impl PartialEq<Want> for Got {
    fn eq(&self, want: &Want) -> bool {
        match (self, want) {
            (Got::Accept { flagged }, Want::Accept { flagged: w }) => flagged == w,
            (Got::Reject, Want::Reject) | (Got::Discard, Want::Discard) => true,
            _ => false,
        }
    }
}

#[test]
fn early_chain_refuses_with_the_notice_on_one_line() {
    let list = list_with(|s| s.dmarc_mitigate_action = DmarcMitigateAction::Reject);
    let message = Message::parse(POST.as_bytes()).expect("the post parses");
    let facts = MessageFacts {
        dmarc: FromDmarc::Strict,
        ..MessageFacts::default()
    };
    let ctx = RuleContext::new(&message, &list, &[member()], None, facts);
    let Early::Refuse(refusal) = chain::early(&ctx) else {
        panic!("not refused");
    };
    assert_eq!((refusal.code, refusal.enhanced), (550, "5.7.1"));
    assert_eq!(
        refusal.text,
        "You are not allowed to post to this mailing list From: a domain which publishes a \
         DMARC policy of reject or quarantine, and your message has been automatically \
         rejected. If you think that your messages are being rejected in error, contact the \
         mailing list owner at dev-owner@lists.example.org."
    );
    assert_eq!(chain::run(&ctx).refusal(), Some(refusal));

    // The list's own notice, however many lines and whatever control characters it has.
    let list = list_with(|s| {
        s.dmarc_mitigate_action = DmarcMitigateAction::Reject;
        s.dmarc_moderation_notice.0 =
            "Posts from your domain are refused.\r\n\r\n550 5.0.0 forged\rsecond\u{0}line\n".into();
    });
    let ctx = RuleContext::new(&message, &list, &[member()], None, facts);
    let Early::Refuse(refusal) = chain::early(&ctx) else {
        panic!("not refused");
    };
    assert_eq!(
        refusal.text,
        "Posts from your domain are refused. 550 5.0.0 forged second line"
    );
    // The failed lookup mitigates too; a lax policy does not.
    let failed = MessageFacts {
        dmarc: FromDmarc::Failed,
        ..facts
    };
    let ctx = RuleContext::new(&message, &list, &[member()], None, failed);
    assert!(matches!(chain::early(&ctx), Early::Refuse(_)));
    let lax = MessageFacts {
        dmarc: FromDmarc::Lax,
        ..facts
    };
    let ctx = RuleContext::new(&message, &list, &[member()], None, lax);
    assert_eq!(chain::early(&ctx), Early::Store);
}

#[test]
fn the_rule_comes_before_approval() {
    // Mailman's chain runs dmarc-mitigation first: an approved post is still rejected.
    let post = POST.replace("Subject: hi", "Approved: pw\r\nSubject: hi");
    let list = list_with(|s| {
        s.dmarc_mitigate_action = DmarcMitigateAction::Reject;
        s.moderator_password = Some(mailcast_model::settings::Line("pw".into()));
    });
    let message = Message::parse(post.as_bytes()).expect("the post parses");
    let facts = MessageFacts {
        dmarc: FromDmarc::Strict,
        ..MessageFacts::default()
    };
    let ctx = RuleContext::new(&message, &list, &[member()], None, facts);
    assert!(matches!(
        chain::run(&ctx).disposition,
        Disposition::Reject(_)
    ));
    // A munging list records the rule among the misses and flags the post.
    let list = list_with(|s| s.dmarc_mitigate_action = DmarcMitigateAction::MungeFrom);
    let ctx = RuleContext::new(&message, &list, &[member()], None, facts);
    let result = chain::run(&ctx);
    assert!(result.dmarc);
    assert_eq!(
        result.rule_misses.first().map(String::as_str),
        Some("dmarc-mitigation")
    );
}
