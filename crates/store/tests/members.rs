//! Members: bulk import (idempotent, batched), rosters, removal and per-member changes.

mod fixture;

use fixture::{add, email, generated, list, mailbox, store_with};
use mailcast_model::{Action, DeliveryMode, DeliveryStatus, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, ImportReport, MemberPreferences};

async fn import_creates_members_keeping_spelling_and_names(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let input = [
        mailbox("Anne Person <Anne.Person@Example.ORG>"),
        mailbox("bob@example.org"),
        mailbox("\"Carl, Jr.\" <carl@example.org>"),
    ];
    let mut calls = Vec::new();
    let report = store
        .add_members(&dev, MemberRole::Member, &input, &mut |n| calls.push(n))
        .await
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            added: 3,
            already_members: 0
        }
    );
    assert_eq!(calls, [3]);

    let members = store.members(&dev, None).await.unwrap();
    let seen: Vec<(String, Option<String>)> = members
        .iter()
        .map(|m| (m.address.original().to_string(), m.display_name.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "Anne.Person@Example.ORG".to_string(),
                Some("Anne Person".to_string())
            ),
            ("bob@example.org".to_string(), None),
            (
                "carl@example.org".to_string(),
                Some("Carl, Jr.".to_string())
            ),
        ]
    );
    let anne = &members[0];
    assert_eq!(anne.role, MemberRole::Member);
    assert_eq!(anne.delivery_mode, DeliveryMode::Regular);
    assert_eq!(anne.delivery_status, DeliveryStatus::Enabled);
    assert_eq!(anne.moderation_action, None);
    assert_eq!(anne.preferences, MemberPreferences::default());
    assert_eq!(anne.bounce.score, 0.0);
}

async fn import_is_idempotent_and_counts_existing_members(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let first = generated(0..10);
    store
        .add_members(&dev, MemberRole::Member, &first, &mut |_| {})
        .await
        .unwrap();
    // Overlapping input, with a repeat in a different case.
    let mut second = generated(5..15);
    second.push(mailbox("USER14@example.org"));
    let report = store
        .add_members(&dev, MemberRole::Member, &second, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            added: 5,
            already_members: 6
        }
    );
    assert_eq!(store.member_count(&dev, None).await.unwrap(), 15);

    // The same addresses in another role are new memberships, on the same addresses.
    let report = store
        .add_members(&dev, MemberRole::Moderator, &first[..2], &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            added: 2,
            already_members: 0
        }
    );
    assert_eq!(
        store
            .member_count(&dev, Some(MemberRole::Member))
            .await
            .unwrap(),
        15
    );
    assert_eq!(
        store
            .member_count(&dev, Some(MemberRole::Moderator))
            .await
            .unwrap(),
        2
    );
    let roles: Vec<MemberRole> = store
        .member(&dev, &email("user0@example.org"))
        .await
        .unwrap()
        .iter()
        .map(|m| m.role)
        .collect();
    assert_eq!(roles, [MemberRole::Member, MemberRole::Moderator]);
}

async fn large_import_commits_in_batches_and_reports_progress(db: TestDb) {
    let store = store_with(&db, &["big@a.example"]).await;
    let big = list("big@a.example");
    let input = generated(0..12_000);
    let mut calls = Vec::new();
    let report = store
        .add_members(&big, MemberRole::Member, &input, &mut |n| calls.push(n))
        .await
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            added: 12_000,
            already_members: 0
        }
    );
    assert_eq!(calls, [5_000, 10_000, 12_000]);
    assert_eq!(store.member_count(&big, None).await.unwrap(), 12_000);
    assert_eq!(store.recipients(&big).await.unwrap().len(), 12_000);
}

async fn import_into_missing_list_is_not_found(db: TestDb) {
    let store = store_with(&db, &[]).await;
    let err = store
        .add_members(
            &list("nope@a.example"),
            MemberRole::Member,
            &generated(0..1),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn rosters_are_sorted_paged_and_filtered_by_role(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["d@x.example", "B@x.example", "a@x.example", "c@x.example"],
    )
    .await;
    add(&store, "dev@a.example", MemberRole::Owner, &["b@x.example"]).await;

    let all: Vec<(String, MemberRole)> = store
        .members(&dev, None)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.address.as_str().to_string(), m.role))
        .collect();
    assert_eq!(
        all,
        [
            ("a@x.example".to_string(), MemberRole::Member),
            ("b@x.example".to_string(), MemberRole::Member),
            ("b@x.example".to_string(), MemberRole::Owner),
            ("c@x.example".to_string(), MemberRole::Member),
            ("d@x.example".to_string(), MemberRole::Member),
        ]
    );
    let page: Vec<String> = store
        .members_page(&dev, Some(MemberRole::Member), 1, 2)
        .await
        .unwrap()
        .iter()
        .map(|m| m.address.as_str().to_string())
        .collect();
    assert_eq!(page, ["b@x.example", "c@x.example"]);
    assert!(
        store
            .members_page(&dev, None, 10, 5)
            .await
            .unwrap()
            .is_empty()
    );
    let owners = store.members(&dev, Some(MemberRole::Owner)).await.unwrap();
    assert_eq!(owners.len(), 1);
    // The owner row shows the address as first registered (as a member: "B@x.example").
    assert_eq!(owners[0].address.original(), "B@x.example");
    assert_eq!(
        store
            .member_count(&dev, Some(MemberRole::Owner))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.member_count(&dev, None).await.unwrap(), 5);
}

async fn removal_reports_removed_and_non_members(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["a@x.example", "b@x.example", "c@x.example"],
    )
    .await;
    add(&store, "dev@a.example", MemberRole::Owner, &["a@x.example"]).await;

    let report = store
        .remove_members(
            &dev,
            Some(MemberRole::Member),
            &[email("A@x.example"), email("zz@x.example")],
        )
        .await
        .unwrap();
    assert_eq!(report.removed, 1);
    assert_eq!(report.not_members, [email("zz@x.example")]);
    // Still an owner.
    assert_eq!(
        store
            .member(&dev, &email("a@x.example"))
            .await
            .unwrap()
            .len(),
        1
    );

    let report = store
        .remove_members(
            &dev,
            None,
            &[
                email("a@x.example"),
                email("b@x.example"),
                email("b@x.example"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(report.removed, 2);
    assert!(report.not_members.is_empty());
    assert_eq!(store.member_count(&dev, None).await.unwrap(), 1);

    let err = store
        .remove_members(&list("nope@a.example"), None, &[email("c@x.example")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn member_moderation_delivery_and_preferences_are_updated(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let anne = email("anne@x.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["anne@x.example"],
    )
    .await;

    store
        .set_moderation_action(&dev, &anne, MemberRole::Member, Some(Action::Hold))
        .await
        .unwrap();
    store
        .set_delivery_status(&dev, &anne, MemberRole::Member, DeliveryStatus::ByUser)
        .await
        .unwrap();
    store
        .set_delivery_mode(&dev, &anne, MemberRole::Member, DeliveryMode::MimeDigests)
        .await
        .unwrap();
    let preferences = MemberPreferences {
        acknowledge_posts: Some(true),
        hide_address: None,
        preferred_language: Some("de".into()),
        receive_list_copy: Some(false),
        receive_own_postings: Some(false),
    };
    store
        .set_preferences(&dev, &anne, MemberRole::Member, &preferences)
        .await
        .unwrap();
    let member = store.member(&dev, &anne).await.unwrap().remove(0);
    assert_eq!(member.moderation_action, Some(Action::Hold));
    assert_eq!(member.delivery_status, DeliveryStatus::ByUser);
    assert_eq!(member.delivery_mode, DeliveryMode::MimeDigests);
    assert_eq!(member.preferences, preferences);

    store
        .set_moderation_action(&dev, &anne, MemberRole::Member, None)
        .await
        .unwrap();
    assert_eq!(
        store.member(&dev, &anne).await.unwrap()[0].moderation_action,
        None
    );

    let err = store
        .set_moderation_action(&dev, &anne, MemberRole::Owner, Some(Action::Accept))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store
        .set_delivery_status(
            &dev,
            &email("nobody@x.example"),
            MemberRole::Member,
            DeliveryStatus::Enabled,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

/// `member_tally` (which answers `member_count` and roster totals) follows every way a
/// membership starts and ends: import, removal, deleting the address, and removing the list.
async fn member_counts_follow_every_change(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example"]).await;
    let (dev, ops) = (list("dev@a.example"), list("ops@a.example"));
    let people = ["a@x.example", "b@x.example", "c@x.example", "d@x.example"];
    add(&store, "dev@a.example", MemberRole::Member, &people).await;
    add(&store, "dev@a.example", MemberRole::Owner, &people[..1]).await;
    add(&store, "ops@a.example", MemberRole::Member, &people[..2]).await;
    let counts = async |list| {
        (
            store.member_count(list, None).await.unwrap(),
            store
                .member_count(list, Some(MemberRole::Member))
                .await
                .unwrap(),
            store
                .member_count(list, Some(MemberRole::Owner))
                .await
                .unwrap(),
        )
    };
    assert_eq!(counts(&dev).await, (5, 4, 1));
    assert_eq!(counts(&ops).await, (2, 2, 0));

    store
        .remove_members(&dev, Some(MemberRole::Member), &[email("d@x.example")])
        .await
        .unwrap();
    assert_eq!(counts(&dev).await, (4, 3, 1));

    assert!(store.delete_address(&email("a@x.example")).await.unwrap());
    assert_eq!(counts(&dev).await, (2, 2, 0));
    assert_eq!(counts(&ops).await, (1, 1, 0));

    store.remove_list(&dev).await.unwrap();
    store.create_list(&dev).await.unwrap();
    assert_eq!(counts(&dev).await, (0, 0, 0));
    add(&store, "dev@a.example", MemberRole::Member, &people[1..3]).await;
    assert_eq!(counts(&dev).await, (2, 2, 0));
    assert_eq!(counts(&ops).await, (1, 1, 0));
}

mailcast_store::backend_tests!(
    import_creates_members_keeping_spelling_and_names,
    import_is_idempotent_and_counts_existing_members,
    large_import_commits_in_batches_and_reports_progress,
    import_into_missing_list_is_not_found,
    rosters_are_sorted_paged_and_filtered_by_role,
    removal_reports_removed_and_non_members,
    member_moderation_delivery_and_preferences_are_updated,
    member_counts_follow_every_change,
);
