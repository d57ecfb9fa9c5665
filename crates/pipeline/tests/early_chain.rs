//! `chain::early` against `chain::run`: for every post, the early chain refuses exactly when
//! the full chain rejects (with the same refusal) and discards exactly when it discards.
//!
//! A table of named cases covers each way to a reject or a discard and each way around one
//! (approval, emergency, a holding header match, moderation that accepts); a property test then
//! draws posts, list settings (DMARC mitigation included), site checks, sender standings and
//! the From domain's DMARC policy from small pools and compares the two chains on each.

use mailcast_model::settings::{DmarcMitigateAction, HeaderMatch, Line, ListSettings};
use mailcast_model::{Action, ListAddress, MemberRole};
use mailcast_pipeline::chain::{self, Disposition, Early};
use mailcast_pipeline::rules::RuleContext;
use mailcast_pipeline::{FromDmarc, ListContext, Message, MessageFacts, SenderFacts, SiteFacts};
use proptest::prelude::*;

/// One post to `ant@example.com` and everything the chain is told about it.
#[derive(Debug, Clone)]
struct Case {
    headers: Vec<String>,
    body: String,
    envelope: Option<String>,
    settings: Settings,
    site_checks: Vec<(String, String)>,
    site_action: Action,
    senders: Vec<SenderFacts>,
    facts: MessageFacts,
}

#[derive(Debug, Clone, Default)]
struct Settings {
    member_action: Option<Action>,
    nonmember_action: Option<Action>,
    emergency: bool,
    password: bool,
    header_matches: Vec<(String, String, Option<Action>)>,
    legacy: Vec<(&'static str, String)>,
    /// `dmarc_mitigate_action`, and whether `dmarc_addresses` names `^anne@`.
    dmarc: Option<(DmarcMitigateAction, bool)>,
}

impl Case {
    fn post(headers: &[&str]) -> Case {
        Case {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            body: "hello\n".into(),
            envelope: None,
            settings: Settings::default(),
            site_checks: Vec::new(),
            site_action: Action::Hold,
            senders: Vec::new(),
            facts: MessageFacts::default(),
        }
    }

    fn sender(mut self, address: &str, roles: &[MemberRole], own: Option<Action>) -> Case {
        self.senders.push(facts(address, roles, own, false));
        self
    }

    fn banned(mut self, address: &str) -> Case {
        self.senders.push(facts(address, &[], None, true));
        self
    }

    fn with(mut self, edit: impl FnOnce(&mut Settings)) -> Case {
        edit(&mut self.settings);
        self
    }

    /// Both chains' answers, as (full disposition, full refusal, early).
    fn outcomes(&self) -> (Disposition, Option<String>, Early) {
        let address = ListAddress::parse("ant@example.com").expect("a valid list address");
        let mut settings = ListSettings::defaults_for(&address);
        if let Some(action) = self.settings.member_action {
            settings.default_member_action = action;
        }
        if let Some(action) = self.settings.nonmember_action {
            settings.default_nonmember_action = action;
        }
        settings.emergency = self.settings.emergency;
        if self.settings.password {
            settings.moderator_password = Some(Line("pw".into()));
        }
        settings.header_matches = self
            .settings
            .header_matches
            .iter()
            .map(|(header, pattern, action)| HeaderMatch {
                header: header.clone(),
                pattern: pattern.clone(),
                action: *action,
            })
            .collect();
        if let Some((action, listed)) = self.settings.dmarc {
            settings.dmarc_mitigate_action = action;
            if listed {
                settings.dmarc_addresses = vec!["^anne@".into()];
            }
        }
        for (key, entry) in &self.settings.legacy {
            let list = match *key {
                "accept" => &mut settings.accept_these_nonmembers,
                "hold" => &mut settings.hold_these_nonmembers,
                "reject" => &mut settings.reject_these_nonmembers,
                _ => &mut settings.discard_these_nonmembers,
            };
            list.push(entry.clone());
        }
        let site = SiteFacts {
            header_checks: self.site_checks.clone(),
            header_checks_action: self.site_action,
            ..SiteFacts::default()
        };
        let list = ListContext::new(address, settings, site);
        let raw = format!("{}\n{}", self.headers.concat(), self.body).replace('\n', "\r\n");
        let message = Message::parse(raw.as_bytes()).expect("the case's post parses");
        let ctx = RuleContext::new(
            &message,
            &list,
            &self.senders,
            self.envelope.as_deref(),
            self.facts,
        );
        let full = chain::run(&ctx);
        let refusal = full
            .refusal()
            .map(|r| format!("{} {} {}", r.code, r.enhanced, r.text));
        (full.disposition, refusal, chain::early(&ctx))
    }

    /// Asserts that the chains agree; returns the full chain's disposition.
    fn check(&self) -> Result<Disposition, String> {
        let (disposition, refusal, early) = self.outcomes();
        let agree = match (&disposition, &early) {
            (Disposition::Reject(_), Early::Refuse(r)) => {
                refusal.as_deref() == Some(&*format!("{} {} {}", r.code, r.enhanced, r.text))
            }
            (Disposition::Discard, Early::Discard(_)) => true,
            (Disposition::Accept | Disposition::Hold, Early::Store) => true,
            _ => false,
        };
        if agree {
            Ok(disposition)
        } else {
            Err(format!(
                "full {disposition:?} ({refusal:?}), early {early:?} for {self:#?}"
            ))
        }
    }
}

fn facts(address: &str, roles: &[MemberRole], own: Option<Action>, banned: bool) -> SenderFacts {
    SenderFacts {
        address: address.into(),
        roles: roles.to_vec(),
        moderation_action: own,
        banned,
        member_of: Vec::new(),
    }
}

const FROM_ANNE: &str = "From: anne@example.com\n";
const SUBJECT: &str = "Subject: hi\n";
const TO_ANT: &str = "To: ant@example.com\n";
const MEMBER: &[MemberRole] = &[MemberRole::Member];

#[test]
fn each_way_to_and_around_a_refusal() {
    use Action::*;
    let member =
        || Case::post(&[FROM_ANNE, TO_ANT, SUBJECT]).sender("anne@example.com", MEMBER, None);
    let x_spam = |action: Option<Action>| {
        move |s: &mut Settings| s.header_matches = vec![("x-spam".into(), "yes".into(), action)]
    };
    let spam_post = || {
        Case::post(&[FROM_ANNE, TO_ANT, "X-Spam: yes\n", SUBJECT]).sender(
            "anne@example.com",
            MEMBER,
            None,
        )
    };
    let cases: Vec<(&str, Case, &str)> = vec![
        ("member post", member(), "accept"),
        ("no senders", Case::post(&[SUBJECT]), "discard"),
        (
            "loop",
            Case::post(&[FROM_ANNE, "List-Id: <ant.example.com>\n"]),
            "reject",
        ),
        (
            "loop but approved",
            Case::post(&[
                FROM_ANNE,
                "Approved: pw\n",
                "X-BeenThere: ant@example.com\n",
            ])
            .with(|s| s.password = true),
            "accept",
        ),
        (
            "banned",
            Case::post(&[FROM_ANNE]).banned("anne@example.com"),
            "reject",
        ),
        (
            "nonmember rejected",
            Case::post(&[FROM_ANNE]).with(|s| s.nonmember_action = Some(Reject)),
            "reject",
        ),
        (
            "nonmember discarded",
            Case::post(&[FROM_ANNE]).with(|s| s.nonmember_action = Some(Discard)),
            "discard",
        ),
        (
            "nonmember rejected by the legacy list",
            Case::post(&[FROM_ANNE])
                .with(|s| s.legacy = vec![("reject", "^.*@example.com$".into())]),
            "reject",
        ),
        (
            "emergency holds before moderation",
            Case::post(&[FROM_ANNE]).with(|s| {
                s.emergency = true;
                s.nonmember_action = Some(Reject);
            }),
            "hold",
        ),
        (
            "moderated member rejected",
            Case::post(&[FROM_ANNE, SUBJECT]).sender("anne@example.com", MEMBER, Some(Reject)),
            "reject",
        ),
        (
            "moderated member discarded",
            Case::post(&[FROM_ANNE, SUBJECT]).sender("anne@example.com", MEMBER, Some(Discard)),
            "discard",
        ),
        (
            "member accepted before a rejecting nonmember default",
            member().with(|s| s.nonmember_action = Some(Reject)),
            "accept",
        ),
        (
            "header match rejects",
            spam_post().with(x_spam(Some(Reject))),
            "reject",
        ),
        (
            "header match discards",
            spam_post().with(x_spam(Some(Discard))),
            "discard",
        ),
        ("header match holds", spam_post().with(x_spam(None)), "hold"),
        (
            "header match accepts before moderation rejects",
            spam_post()
                .with(x_spam(Some(Accept)))
                .with(|s| s.member_action = Some(Reject)),
            "accept",
        ),
        (
            "deferred header match, then moderation rejects with its own reason",
            spam_post()
                .with(x_spam(Some(Defer)))
                .with(|s| s.member_action = Some(Reject)),
            "reject",
        ),
        (
            "site check with a rejecting action",
            Case {
                site_checks: vec![("x-spam".into(), "yes".into())],
                site_action: Reject,
                ..spam_post()
            },
            "reject",
        ),
        (
            "site check holds before a rejecting list match",
            Case {
                site_checks: vec![("x-spam".into(), "yes".into())],
                ..spam_post().with(x_spam(Some(Reject)))
            },
            "hold",
        ),
        (
            "dmarc reject before moderation accepts",
            Case {
                facts: MessageFacts {
                    dmarc: FromDmarc::Strict,
                    ..MessageFacts::default()
                },
                ..Case::post(&[FROM_ANNE, SUBJECT])
                    .sender("anne@example.com", MEMBER, Some(Accept))
                    .with(|s| s.dmarc = Some((DmarcMitigateAction::Reject, false)))
            },
            "reject",
        ),
        (
            "dmarc discard by dmarc_addresses",
            member().with(|s| s.dmarc = Some((DmarcMitigateAction::Discard, true))),
            "discard",
        ),
        (
            "dmarc munge accepts",
            member().with(|s| s.dmarc = Some((DmarcMitigateAction::MungeFrom, true))),
            "accept",
        ),
        (
            "owner mail",
            Case {
                facts: MessageFacts {
                    to_owner: true,
                    ..MessageFacts::default()
                },
                ..Case::post(&[SUBJECT])
            },
            "accept",
        ),
    ];
    for (name, case, want) in cases {
        let got = case.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = match got {
            Disposition::Accept => "accept",
            Disposition::Hold => "hold",
            Disposition::Reject(_) => "reject",
            Disposition::Discard => "discard",
        };
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn refusal_text_is_that_of_the_deciding_rule() {
    let case = Case::post(&[FROM_ANNE, "X-Spam: yes\n"])
        .sender("anne@example.com", MEMBER, Some(Action::Reject))
        .with(|s| s.header_matches = vec![("x-spam".into(), "yes".into(), Some(Action::Defer))]);
    let (_, refusal, early) = case.outcomes();
    assert_eq!(
        refusal.as_deref(),
        Some("550 5.7.1 The message comes from a moderated member")
    );
    let Early::Refuse(r) = early else {
        panic!("{early:?}")
    };
    assert_eq!(r.text, "The message comes from a moderated member");
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Hold),
        Just(Action::Reject),
        Just(Action::Discard),
        Just(Action::Accept),
        Just(Action::Defer),
    ]
}

const ADDRESSES: [&str; 3] = ["anne@example.com", "bart@example.com", "ant@example.com"];

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(FROM_ANNE.to_string()),
        Just("From: bart@example.com\n".to_string()),
        Just("Reply-To: bart@example.com\n".to_string()),
        Just("Sender: ant@example.com\n".to_string()),
        Just(SUBJECT.to_string()),
        Just("Subject: help\n".to_string()),
        Just("List-Id: Ant <ant.example.com>\n".to_string()),
        Just("X-BeenThere: ant@example.com\n".to_string()),
        Just("List-Post: <mailto:other@example.com>\n".to_string()),
        Just("Approved: pw\n".to_string()),
        Just("X-Approve: wrong\n".to_string()),
        Just("X-Spam: yes\n".to_string()),
        Just("X-Spam: no\n".to_string()),
        Just("To: ant@example.com\n".to_string()),
        Just("Precedence: bulk\n".to_string()),
    ]
}

fn header_match() -> impl Strategy<Value = (String, String, Option<Action>)> {
    (
        prop_oneof![Just("x-spam"), Just("subject"), Just("from")],
        prop_oneof![Just("yes"), Just("help"), Just("anne"), Just(".")],
        prop::option::of(action()),
    )
        .prop_map(|(h, p, a)| (h.to_string(), p.to_string(), a))
}

fn sender_facts() -> impl Strategy<Value = SenderFacts> {
    (
        prop::sample::select(&ADDRESSES[..]),
        prop::sample::subsequence(
            vec![MemberRole::Member, MemberRole::Nonmember, MemberRole::Owner],
            0..=2,
        ),
        prop::option::of(action()),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(address, roles, own, banned)| facts(address, &roles, own, banned))
}

fn case() -> impl Strategy<Value = Case> {
    let settings = (
        prop::option::of(action()),
        prop::option::of(action()),
        prop::bool::weighted(0.1),
        any::<bool>(),
        prop::collection::vec(header_match(), 0..3),
        prop::option::of((
            prop_oneof![
                Just(DmarcMitigateAction::NoMitigation),
                Just(DmarcMitigateAction::MungeFrom),
                Just(DmarcMitigateAction::WrapMessage),
                Just(DmarcMitigateAction::Reject),
                Just(DmarcMitigateAction::Discard),
            ],
            prop::bool::weighted(0.3),
        )),
        prop::collection::vec(
            (
                prop_oneof![
                    Just("accept"),
                    Just("hold"),
                    Just("reject"),
                    Just("discard")
                ],
                prop_oneof![
                    Just("anne@example.com".to_string()),
                    Just("^b.*".to_string())
                ],
            ),
            0..2,
        ),
    )
        .prop_map(
            |(
                member_action,
                nonmember_action,
                emergency,
                password,
                header_matches,
                dmarc,
                legacy,
            )| {
                Settings {
                    member_action,
                    nonmember_action,
                    emergency,
                    password,
                    header_matches,
                    legacy,
                    dmarc,
                }
            },
        );
    let dmarc = prop_oneof![
        Just(FromDmarc::NotLookedUp),
        Just(FromDmarc::Strict),
        Just(FromDmarc::Lax),
        Just(FromDmarc::Failed),
    ];
    let facts = (
        any::<bool>(),
        prop::bool::weighted(0.1),
        0u64..60_000,
        dmarc,
    )
        .prop_map(
            |(moderator_approved, to_owner, original_size, dmarc)| MessageFacts {
                original_size,
                moderator_approved,
                to_owner,
                dmarc,
                ..MessageFacts::default()
            },
        );
    (
        prop::collection::vec(header(), 0..6),
        prop_oneof![
            Just("hello\n".to_string()),
            Just("\nApproved: pw\nhello\n".to_string()),
            Just("subscribe\n".to_string()),
        ],
        prop::option::of(prop::sample::select(&ADDRESSES[..]).prop_map(String::from)),
        settings,
        prop::collection::vec(
            (
                prop_oneof![Just("x-spam"), Just("subject")],
                prop_oneof![Just("yes"), Just("help")],
            )
                .prop_map(|(h, p)| (h.to_string(), p.to_string())),
            0..2,
        ),
        action(),
        prop::collection::vec(sender_facts(), 0..3),
        facts,
    )
        .prop_map(
            |(headers, body, envelope, settings, site_checks, site_action, senders, facts)| Case {
                headers,
                body,
                envelope,
                settings,
                site_checks,
                site_action,
                senders,
                facts,
            },
        )
}

/// A post needs one header field to parse at all.
fn parseable(mut case: Case) -> Case {
    if case.headers.is_empty() {
        case.headers.push("X-Nothing: x\n".into());
    }
    case
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn early_refuses_and_discards_exactly_when_the_full_chain_does(case in case()) {
        if let Err(e) = parseable(case).check() {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// The drawn cases reach every disposition often, so the property above is not vacuous.
#[test]
fn drawn_cases_cover_every_disposition() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut counts = [0usize; 4];
    for _ in 0..1000 {
        let case = parseable(case().new_tree(&mut runner).expect("a case").current());
        let (disposition, _, _) = case.outcomes();
        counts[match disposition {
            Disposition::Accept => 0,
            Disposition::Hold => 1,
            Disposition::Reject(_) => 2,
            Disposition::Discard => 3,
        }] += 1;
    }
    assert!(
        counts.iter().all(|&n| n >= 50),
        "accept, hold, reject, discard: {counts:?}"
    );
}
