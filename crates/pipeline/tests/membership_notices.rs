//! The membership and autoreply notices: Mailman's subjects and senders, the template texts
//! expanded (overrides first), and the mails they turn into.

use mail_parser::MessageParser;
use mailcast_model::ListAddress;
use mailcast_model::settings::ListSettings;
use mailcast_pipeline::bounce_notice::{self as bn, OwnerNotice};
use mailcast_pipeline::generated::{AutoSubmitted, Mailbox, build};
use mailcast_pipeline::membership_notice::{
    self as mn, Autoresponse, Confirmation, Notice, Request,
};
use mailcast_pipeline::notice::NoticeIds;
use mailcast_pipeline::templates::Overrides;
use mailcast_pipeline::{ListContext, SiteFacts};

const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

fn list(edit: impl FnOnce(&mut ListSettings)) -> ListContext {
    let address = ListAddress::parse("ant@example.com").unwrap();
    let mut settings = ListSettings::defaults_for(&address);
    edit(&mut settings);
    let site = SiteFacts {
        site_email: "postmaster@example.com".to_string(),
        ..SiteFacts::default()
    };
    ListContext::new(address, settings, site)
}

/// One notice and what it must show.
struct Case {
    name: &'static str,
    notice: Notice,
    from: &'static str,
    subject: &'static str,
    lines: &'static [&'static str],
}

fn cases(list: &ListContext, none: &Overrides) -> Vec<Case> {
    vec![
        Case {
            name: "subscribe confirmation",
            notice: mn::confirmation_request(
                list,
                none,
                Confirmation::Subscribe,
                "anne@example.com",
                TOKEN,
                true,
            ),
            from: "ant-confirm+0123456789abcdef0123456789abcdef01234567@example.com",
            subject: "Your confirmation is needed to join the ant@example.com mailing list.",
            lines: &[
                "    anne@example.com",
                "    confirm 0123456789abcdef0123456789abcdef01234567",
                "You can also send a message to ant-request@example.com whose only content is",
                "    ant-owner@example.com",
            ],
        },
        Case {
            name: "unsubscribe confirmation without VERP",
            notice: mn::confirmation_request(
                list,
                none,
                Confirmation::Unsubscribe,
                "anne@example.com",
                TOKEN,
                false,
            ),
            from: "ant-request@example.com",
            subject: "confirm 0123456789abcdef0123456789abcdef01234567",
            lines: &[
                "unsubscribe this email address:",
                "    confirm 0123456789abcdef0123456789abcdef01234567",
            ],
        },
        Case {
            name: "invitation",
            notice: mn::confirmation_request(
                list,
                none,
                Confirmation::Invite,
                "bart@example.com",
                TOKEN,
                true,
            ),
            from: "ant-confirm+0123456789abcdef0123456789abcdef01234567@example.com",
            subject: "You have been invited to join the ant@example.com mailing list.",
            lines: &[
                "The owner of the ant mailing list at example.com has invited",
                "your address \"bart@example.com\" to join the list. To accept, just reply to",
            ],
        },
        Case {
            name: "welcome",
            notice: mn::welcome(list, none, Some("Anne"), "anne@example.com", false),
            from: "ant-request@example.com",
            subject: "Welcome to the \"Ant\" mailing list",
            lines: &[
                "Welcome to the \"Ant\" mailing list!",
                "  ant@example.com",
                "  ant-request@example.com",
            ],
        },
        Case {
            name: "welcome, digest",
            notice: mn::welcome(list, none, None, "anne@example.com", true),
            from: "ant-request@example.com",
            subject: "Welcome to the \"Ant\" mailing list (Digest mode)",
            lines: &["To post to the list, send your message to:"],
        },
        Case {
            name: "goodbye",
            notice: mn::goodbye(list, none, "anne@example.com"),
            from: "ant-bounces@example.com",
            subject: "You have been unsubscribed from the Ant mailing list",
            lines: &[],
        },
        Case {
            name: "owners: subscribed",
            notice: mn::owner_subscribed(list, none, Some("Person, Anne"), "anne@example.com"),
            from: "postmaster@example.com",
            subject: "Ant subscription notification",
            lines: &["\"Person, Anne\" <anne@example.com> is now subscribed to Ant."],
        },
        Case {
            name: "owners: unsubscribed",
            notice: mn::owner_unsubscribed(list, none, Some("Zoë"), "zoe@example.com"),
            from: "postmaster@example.com",
            subject: "Ant unsubscription notification",
            lines: &["Zoë <zoe@example.com> is no longer subscribed to Ant."],
        },
        Case {
            name: "moderators: subscription to approve",
            notice: mn::moderator_approval(
                list,
                none,
                Request::Subscription,
                Some("Anne"),
                "anne@example.com",
                TOKEN,
            ),
            from: "ant-owner@example.com",
            subject: "New subscription request to Ant from anne@example.com",
            lines: &[
                "    For:  Anne <anne@example.com>",
                "    List: ant@example.com",
                "    confirm 0123456789abcdef0123456789abcdef01234567",
            ],
        },
        Case {
            name: "moderators: unsubscription to approve",
            notice: mn::moderator_approval(
                list,
                none,
                Request::Unsubscription,
                None,
                "anne@example.com",
                TOKEN,
            ),
            from: "ant-owner@example.com",
            subject: "New unsubscription request to Ant from anne@example.com",
            lines: &[
                "An unsubscription request needs a moderator's approval:",
                "    For:  anne@example.com",
            ],
        },
        Case {
            name: "no more today",
            notice: mn::no_more_today(list, none, "anne@example.com", 10),
            from: "ant-owner@example.com",
            subject: "Last autoresponse notification for today",
            lines: &[
                "A message from your address <anne@example.com> asked the",
                "We have seen 10 such messages from you today.  To keep mail robots",
            ],
        },
        Case {
            name: "post acknowledgement",
            notice: mn::post_acknowledgement(list, none, Some("Hello\r\n ants")),
            from: "ant-bounces@example.com",
            subject: "Ant post acknowledgment",
            lines: &[
                "    Hello ants",
                "has been received by the Ant mailing list.",
            ],
        },
        Case {
            name: "held post expired, poster",
            notice: mn::held_expired_for_poster(list, none, None, 14),
            from: "ant-bounces@example.com",
            subject: "Your held message to ant@example.com was discarded",
            lines: &[
                "    (no subject)",
                "waited 14 days for a moderator and has now been discarded.  It was not",
            ],
        },
        Case {
            name: "held post expired, moderators",
            notice: mn::held_expired_for_moderators(
                list,
                none,
                "zed@example.net",
                Some("Buy now"),
                3,
            ),
            from: "ant-owner@example.com",
            subject: "ant@example.com: a held post from zed@example.net was discarded",
            lines: &[
                "    From:    zed@example.net",
                "    Subject: Buy now",
                "no moderator decided on it within 3 days:",
            ],
        },
        Case {
            name: "bounce score increment",
            notice: bn::owner_notice(list, none, OwnerNotice::Increment, None, "bob@x.org"),
            from: "postmaster@example.com",
            subject: "bob@x.org's bounce score incremented on Ant",
            lines: &["The bounce score of bob@x.org on ant@example.com went up."],
        },
        Case {
            name: "delivery disabled by bounces",
            notice: bn::owner_notice(list, none, OwnerNotice::Disable, Some("Anne"), "anne@x.org"),
            from: "postmaster@example.com",
            subject: "Anne <anne@x.org>'s subscription disabled on Ant",
            lines: &["Delivery to Anne <anne@x.org> on ant@example.com has been turned off:"],
        },
        Case {
            name: "removed for bounces",
            notice: bn::owner_notice(list, none, OwnerNotice::Removal, None, "bob@x.org"),
            from: "postmaster@example.com",
            subject: "bob@x.org unsubscribed from Ant mailing list due to bounces",
            lines: &[],
        },
        Case {
            name: "disabled warning",
            notice: bn::disabled_warning(list, none, "bob@x.org"),
            from: "ant-bounces@example.com",
            subject: "Your subscription for Ant mailing list has been disabled",
            lines: &[],
        },
        Case {
            name: "probe",
            notice: bn::probe(list, none, "bob@x.org", "ant-bounces+0123@example.com"),
            from: "ant-bounces+0123@example.com",
            subject: "Ant mailing list probe message",
            lines: &["This is a test message; you do not need to do anything about it."],
        },
        Case {
            name: "unrecognized bounce",
            notice: bn::unrecognized(list, none),
            from: "postmaster@example.com",
            subject: "Uncaught bounce notification",
            lines: &[],
        },
    ]
}

#[test]
fn notices_have_mailmans_subjects_senders_and_texts() {
    let list = list(|_| {});
    for case in cases(&list, &Overrides::new()) {
        let Case {
            name,
            notice,
            from,
            subject,
            lines,
        } = case;
        assert_eq!(notice.from, from, "{name}");
        assert_eq!(notice.subject, subject, "{name}");
        for line in lines {
            assert!(
                notice.text.lines().any(|l| l == *line),
                "{name}: no line {line:?} in\n{}",
                notice.text
            );
        }
        assert!(
            !notice.text.contains("$"),
            "{name}: unexpanded placeholder in\n{}",
            notice.text
        );
        assert!(
            notice.text.lines().all(|l| l.chars().count() <= 78),
            "{name}:\n{}",
            notice.text
        );
        assert_eq!(notice.auto_submitted, AutoSubmitted::Generated, "{name}");
    }
}

#[test]
fn overrides_replace_the_default_texts() {
    let list = list(|_| {});
    let overrides: Overrides = [
        (
            "list:user:notice:welcome",
            "Hi $user_name ($user_email), welcome to $fqdn_listname; ask $list_requests.",
        ),
        (
            "list:user:action:subscribe",
            "Reply to $confirm_email or send 'confirm $token' to $request_email. $unknown",
        ),
        (
            "list:user:notice:goodbye",
            "Bye $user_address from $list_name.",
        ),
    ]
    .into_iter()
    .collect();
    let welcome = mn::welcome(&list, &overrides, Some("Anne"), "anne@example.com", false);
    assert_eq!(
        welcome.text,
        "Hi Anne (anne@example.com), welcome to ant@example.com; ask\nant-request@example.com."
    );
    let confirm = mn::confirmation_request(
        &list,
        &overrides,
        Confirmation::Subscribe,
        "a@x",
        "abc",
        true,
    );
    assert_eq!(
        confirm.text,
        "Reply to ant-confirm+abc@example.com or send 'confirm abc' to ant-request@example.com. $unknown"
    );
    assert_eq!(
        mn::goodbye(&list, &overrides, "a@x").text,
        "Bye a@x from Ant."
    );
}

#[test]
fn autoresponses_are_expanded_wrapped_and_marked() {
    let list = list(|s| {
        s.autoresponse_postings_text.0 = "Thanks for writing to $display_name ($list_name). We read every message and answer what we can; the owners are at $owneremail and commands go to $requestemail.".to_string();
        s.autoresponse_owner_text.0 = "The owners of $listname are away.".to_string();
    });
    let notice = mn::autoresponse(&list, Autoresponse::Postings);
    assert_eq!(
        notice.subject,
        "Auto-response for your message to the \"Ant\" mailing list"
    );
    assert_eq!(notice.from, "ant-bounces@example.com");
    assert_eq!(notice.auto_submitted, AutoSubmitted::Replied);
    assert_eq!(
        notice.text,
        // What Mailman's wrap gives (no second space after "(ant).": no letter before the dot).
        "Thanks for writing to Ant (ant). We read every message and answer what\nwe can; the owners are at ant-owner@example.com and commands go to\nant-request@example.com."
    );
    assert!(notice.extra_headers.contains(&("X-Ack", "No".to_string())));
    assert_eq!(
        mn::autoresponse(&list, Autoresponse::Owner).text,
        "The owners of ant@example.com are away."
    );
    assert_eq!(mn::autoresponse(&list, Autoresponse::Request).text, "");
}

#[test]
fn a_notice_becomes_a_mail() {
    let list = list(|_| {});
    let notice = mn::welcome(
        &list,
        &Overrides::new(),
        Some("Zoë"),
        "zoe@example.com",
        false,
    );
    let ids = NoticeIds {
        message_id: "<welcome.1@example.com>",
        date: 1_754_042_400,
        boundary: "b",
    };
    let out = build(
        &notice.mail(vec![Mailbox {
            name: Some("Zoë"),
            address: "zoe@example.com",
        }]),
        &ids,
    );
    let parsed = MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Welcome to the \"Ant\" mailing list")
    );
    assert_eq!(
        parsed.header_raw("X-No-Archive").map(str::trim),
        Some("yes")
    );
    assert_eq!(
        parsed.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    let to = parsed.to().and_then(|a| a.first()).unwrap();
    assert_eq!(
        (to.name(), to.address()),
        (Some("Zoë"), Some("zoe@example.com"))
    );
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .starts_with("Welcome to the \"Ant\" mailing list!\r\n")
    );
    assert_eq!(
        mn::confirmation_address(&list, "tok"),
        "ant-confirm+tok@example.com"
    );
}
