//! The per-post queries: sender facts (roles, own actions, bans), recipients, and the owners
//! and moderators.

mod fixture;

use fixture::{add, email, generated, list, store_with};
use mailcast_model::{Action, DeliveryMode, DeliveryStatus, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, MemberPreferences, RoleFacts};

async fn sender_facts_report_roles_actions_and_bans(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "other@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["mem@x.example", "own@x.example"],
    )
    .await;
    add(
        &store,
        "dev@a.example",
        MemberRole::Owner,
        &["own@x.example"],
    )
    .await;
    add(
        &store,
        "dev@a.example",
        MemberRole::Nonmember,
        &["non@x.example"],
    )
    .await;
    add(
        &store,
        "other@a.example",
        MemberRole::Member,
        &["elsewhere@x.example"],
    )
    .await;
    store
        .set_moderation_action(
            &dev,
            &email("mem@x.example"),
            MemberRole::Member,
            Some(Action::Hold),
        )
        .await
        .unwrap();
    store
        .set_moderation_action(
            &dev,
            &email("non@x.example"),
            MemberRole::Nonmember,
            Some(Action::Discard),
        )
        .await
        .unwrap();
    store.add_ban(Some(&dev), "banned@x.example").await.unwrap();
    store.add_ban(None, "^spam.*@x\\.example$").await.unwrap();
    store
        .add_ban(Some(&list("other@a.example")), "mem@x.example")
        .await
        .unwrap();

    let asked = [
        email("Mem@X.example"),
        email("own@x.example"),
        email("non@x.example"),
        email("elsewhere@x.example"),
        email("BANNED@x.example"),
        email("SpamKing@X.Example"),
    ];
    let facts = store.sender_facts(&dev, &asked).await.unwrap();
    assert_eq!(facts.len(), asked.len());
    for (fact, address) in facts.iter().zip(&asked) {
        assert_eq!(&fact.address, address);
    }
    let member = RoleFacts {
        role: MemberRole::Member,
        moderation_action: None,
    };
    assert_eq!(
        facts[0].roles,
        [RoleFacts {
            moderation_action: Some(Action::Hold),
            ..member
        }]
    );
    assert_eq!(facts[0].moderation_action(), Some(Action::Hold));
    assert!(!facts[0].banned, "a ban on another list does not apply");
    assert_eq!(
        facts[1].roles,
        [
            member,
            RoleFacts {
                role: MemberRole::Owner,
                moderation_action: None
            }
        ]
    );
    assert!(facts[1].has_role(MemberRole::Owner) && facts[1].has_role(MemberRole::Member));
    assert_eq!(facts[2].roles[0].role, MemberRole::Nonmember);
    assert_eq!(facts[2].moderation_action(), Some(Action::Discard));
    assert!(
        facts[3].roles.is_empty(),
        "members of other lists are strangers here"
    );
    assert!(facts[4].banned && facts[4].roles.is_empty());
    assert!(
        facts[5].banned,
        "global regex bans match case-insensitively"
    );
    assert!(!facts[1].banned && !facts[2].banned && !facts[3].banned);

    let err = store
        .sender_facts(&list("nope@a.example"), &asked)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(store.sender_facts(&dev, &[]).await.unwrap().is_empty());
}

async fn recipients_are_enabled_regular_members_only(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "empty@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &[
            "Zed <Zed@X.example>",
            "amy@x.example",
            "digest@x.example",
            "off@x.example",
            "bounced@x.example",
        ],
    )
    .await;
    add(
        &store,
        "dev@a.example",
        MemberRole::Owner,
        &["owner@x.example"],
    )
    .await;
    add(
        &store,
        "dev@a.example",
        MemberRole::Nonmember,
        &["non@x.example"],
    )
    .await;
    let role = MemberRole::Member;
    store
        .set_delivery_mode(
            &dev,
            &email("digest@x.example"),
            role,
            DeliveryMode::PlaintextDigests,
        )
        .await
        .unwrap();
    store
        .set_delivery_status(&dev, &email("off@x.example"), role, DeliveryStatus::ByUser)
        .await
        .unwrap();
    store
        .set_delivery_status(
            &dev,
            &email("bounced@x.example"),
            role,
            DeliveryStatus::ByBounces,
        )
        .await
        .unwrap();
    let no_own = MemberPreferences {
        receive_own_postings: Some(false),
        ..Default::default()
    };
    store
        .set_preferences(&dev, &email("amy@x.example"), role, &no_own)
        .await
        .unwrap();

    let recipients = store.recipients(&dev).await.unwrap();
    let seen: Vec<(String, Option<String>, bool, bool)> = recipients
        .iter()
        .map(|r| {
            (
                r.address.original().to_string(),
                r.display_name.clone(),
                r.receive_own_postings,
                r.receive_list_copy,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("amy@x.example".to_string(), None, false, true),
            (
                "Zed@X.example".to_string(),
                Some("Zed".to_string()),
                true,
                true
            ),
        ]
    );
    let zed = &store.member(&dev, &email("zed@x.example")).await.unwrap()[0];
    assert_eq!(recipients[1].member_id, zed.id);

    assert!(
        store
            .recipients(&list("empty@a.example"))
            .await
            .unwrap()
            .is_empty()
    );
    let err = store.recipients(&list("nope@a.example")).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn recipients_can_be_read_in_pages(db: TestDb) {
    let store = store_with(&db, &["big@a.example"]).await;
    let big = list("big@a.example");
    store
        .add_members(&big, MemberRole::Member, &generated(0..25), &mut |_| {})
        .await
        .unwrap();
    let all = store.recipients(&big).await.unwrap();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .recipients_page(&big, after.as_ref(), 10)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        after = page.last().map(|r| r.address.clone());
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(all.len(), 25);
    let err = store
        .recipients_page(&list("nope@a.example"), None, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn owners_and_moderators_are_listed_by_email(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "quiet@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Owner,
        &["zoe@x.example", "al@x.example"],
    )
    .await;
    add(
        &store,
        "dev@a.example",
        MemberRole::Moderator,
        &["mo@x.example", "al@x.example"],
    )
    .await;
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["member@x.example"],
    )
    .await;
    let staff: Vec<(String, MemberRole)> = store
        .owners_and_moderators(&dev)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.address.as_str().to_string(), m.role))
        .collect();
    assert_eq!(
        staff,
        [
            ("al@x.example".to_string(), MemberRole::Moderator),
            ("al@x.example".to_string(), MemberRole::Owner),
            ("mo@x.example".to_string(), MemberRole::Moderator),
            ("zoe@x.example".to_string(), MemberRole::Owner),
        ]
    );
    assert!(
        store
            .owners_and_moderators(&list("quiet@a.example"))
            .await
            .unwrap()
            .is_empty()
    );
    let err = store
        .owners_and_moderators(&list("nope@a.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

mailcast_store::backend_tests!(
    sender_facts_report_roles_actions_and_bans,
    recipients_are_enabled_regular_members_only,
    recipients_can_be_read_in_pages,
    owners_and_moderators_are_listed_by_email,
);
