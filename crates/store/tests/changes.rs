//! Change visibility across handles (as across processes), the directory snapshot, and
//! concurrent writers on one database.

mod fixture;

use std::time::Duration;

use fixture::{add, domain, email, generated, list, mailbox, store_with};
use jiff::Timestamp;
use mailcast_model::{Action, DeliveryMode, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{
    HeldMessage, PendingRequest, RequestKind, ResponseKind, TemplateScope, TokenOwner,
};

async fn every_daemon_relevant_mutation_bumps_the_counter(db: TestDb) {
    let store = db.open().await;
    let dev = list("dev@a.example");
    let mut last = store.change_counter().await.unwrap();
    let mut expect_bump = |now: i64, what: &str| {
        assert!(
            now > last,
            "{what} did not bump the counter ({now} <= {last})"
        );
        last = now;
    };

    store
        .add_domain(&domain("a.example"), None, "")
        .await
        .unwrap();
    expect_bump(store.change_counter().await.unwrap(), "add_domain");
    store.create_list(&dev).await.unwrap();
    expect_bump(store.change_counter().await.unwrap(), "create_list");
    let mut settings = store.list(&dev).await.unwrap().settings;
    settings.set_from_str("emergency", "true").unwrap();
    store.set_settings(&dev, &settings).await.unwrap();
    expect_bump(store.change_counter().await.unwrap(), "set_settings");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["a@x.example"],
    )
    .await;
    expect_bump(store.change_counter().await.unwrap(), "add_members");
    store.add_ban(Some(&dev), "b@x.example").await.unwrap();
    expect_bump(store.change_counter().await.unwrap(), "add_ban");
    store.remove_ban(Some(&dev), "b@x.example").await.unwrap();
    expect_bump(store.change_counter().await.unwrap(), "remove_ban");
    store
        .remove_members(&dev, None, &[email("a@x.example")])
        .await
        .unwrap();
    expect_bump(store.change_counter().await.unwrap(), "remove_members");

    // Per-post bookkeeping is not a directory change.
    let before = store.change_counter().await.unwrap();
    store.next_post_number(&dev).await.unwrap();
    let held = HeldMessage {
        spool_id: "s".into(),
        sender: "a@x.example".into(),
        subject: String::new(),
        message_id: "<m@x>".into(),
        reasons: vec![],
        token: String::new(),
        node: String::new(),
    };
    store.hold(&dev, &held).await.unwrap();
    // Failed operations change nothing.
    assert!(store.create_list(&dev).await.is_err());
    assert_eq!(store.change_counter().await.unwrap(), before);

    store.remove_list(&dev).await.unwrap();
    expect_bump(store.change_counter().await.unwrap(), "remove_list");
    store
        .remove_domain(&domain("a.example"), false)
        .await
        .unwrap();
    expect_bump(store.change_counter().await.unwrap(), "remove_domain");
}

/// Requests, template overrides and moderators' decisions bump the counter; autoresponse
/// records and address facts do not, nor do operations that change nothing.
async fn requests_templates_and_decisions_bump_the_counter(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let counter = || async { store.change_counter().await.unwrap() };
    let mut last = counter().await;
    let mut expect = |now: i64, bumped: bool, what: &str| {
        assert_eq!(now > last, bumped, "{what}: {now} after {last}");
        assert!(now >= last);
        last = now;
    };
    let request = |token: &str, who: &str| PendingRequest {
        token: token.into(),
        list: dev.clone(),
        kind: RequestKind::Subscription,
        email: email(who),
        display_name: None,
        delivery_mode: DeliveryMode::Regular,
        token_owner: TokenOwner::Subscriber,
        created_at: Timestamp::UNIX_EPOCH,
        expires_at: Timestamp::UNIX_EPOCH,
    };

    store
        .add_request(&request("t1", "a@x.example"))
        .await
        .unwrap();
    expect(counter().await, true, "add_request");
    assert!(
        store
            .add_request(&request("t2", "a@x.example"))
            .await
            .is_err()
    );
    expect(counter().await, false, "a conflicting add_request");
    store
        .reissue_request("t1", &request("t2", "a@x.example"))
        .await
        .unwrap();
    expect(counter().await, true, "reissue_request");
    store.take_request("t2").await.unwrap();
    expect(counter().await, true, "take_request");
    assert!(store.take_request("t2").await.is_err());
    expect(counter().await, false, "a second take_request");
    store
        .add_request(&request("t3", "b@x.example"))
        .await
        .unwrap();
    expect(counter().await, true, "add_request");
    assert_eq!(
        store.expire_requests(Timestamp::now()).await.unwrap().len(),
        1
    );
    expect(counter().await, true, "expire_requests");
    assert!(
        store
            .expire_requests(Timestamp::now())
            .await
            .unwrap()
            .is_empty()
    );
    expect(
        counter().await,
        false,
        "expire_requests with nothing to expire",
    );

    let scope = TemplateScope::List(dev.clone());
    store
        .set_template(&scope, "list:user:notice:welcome", "file:///w", "Hi", None)
        .await
        .unwrap();
    expect(counter().await, true, "set_template");
    assert!(
        store
            .remove_template(&scope, "list:user:notice:welcome")
            .await
            .unwrap()
    );
    expect(counter().await, true, "remove_template");
    assert!(!store.remove_template(&scope, "nothing").await.unwrap());
    expect(counter().await, false, "remove_template of nothing");

    let held = HeldMessage {
        spool_id: "s".into(),
        sender: "a@x.example".into(),
        subject: String::new(),
        message_id: "<m@x>".into(),
        reasons: vec![],
        token: "tok".into(),
        node: "n1".into(),
    };
    let id = store.hold(&dev, &held).await.unwrap();
    expect(counter().await, false, "hold");
    store
        .record_held_decision(&dev, id, Action::Accept, None, Timestamp::now())
        .await
        .unwrap();
    expect(counter().await, true, "record_held_decision");

    let day = jiff::civil::date(2024, 6, 1);
    let anne = email("anne@x.example");
    store
        .note_autoresponse(&dev, &anne, ResponseKind::Hold, day)
        .await
        .unwrap();
    store.verify_address(&anne, Timestamp::now()).await.unwrap();
    store
        .set_address_display_name(&anne, Some("Anne"))
        .await
        .unwrap();
    expect(counter().await, false, "autoresponses and address facts");
}

/// A reader polling the counter through its own pool sees a change made through another
/// handle (another pool, as another process would have) within one second.
async fn a_change_through_another_handle_is_seen_within_a_second(db: TestDb) {
    let daemon = db.open().await;
    let cli = db.open().await;
    let baseline = daemon.change_counter().await.unwrap();
    let poller = tokio::spawn(async move {
        loop {
            let value = daemon.change_counter().await.unwrap();
            if value > baseline {
                return daemon.directory().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    cli.add_domain(&domain("a.example"), None, "")
        .await
        .unwrap();
    cli.create_list(&list("dev@a.example")).await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(1), poller)
        .await
        .expect("the change was not seen within 1 s")
        .unwrap();
    assert_eq!(
        seen.domains.len(),
        1,
        "the domain committed before the list is visible"
    );
}

async fn the_directory_is_a_consistent_snapshot(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@b.example"]).await;
    store
        .add_domain(&domain("c.example"), Some(&domain("lists.c.example")), "")
        .await
        .unwrap();
    let mut settings = store.list(&list("ops@b.example")).await.unwrap().settings;
    settings.set_from_str("subject_prefix", "[ops] ").unwrap();
    store
        .set_settings(&list("ops@b.example"), &settings)
        .await
        .unwrap();

    let directory = store.directory().await.unwrap();
    assert_eq!(
        directory.change_counter,
        store.change_counter().await.unwrap()
    );
    let domains: Vec<(String, Option<String>)> = directory
        .domains
        .iter()
        .map(|d| {
            (
                d.mail_host.to_string(),
                d.alias_domain.as_ref().map(|a| a.to_string()),
            )
        })
        .collect();
    assert_eq!(
        domains,
        [
            ("a.example".to_string(), None),
            ("b.example".to_string(), None),
            ("c.example".to_string(), Some("lists.c.example".to_string())),
        ]
    );
    let lists: Vec<(String, String)> = directory
        .lists
        .iter()
        .map(|l| (l.address.to_string(), l.list_id.clone()))
        .collect();
    assert_eq!(
        lists,
        [
            ("dev@a.example".to_string(), "dev.a.example".to_string()),
            ("ops@b.example".to_string(), "ops.b.example".to_string()),
        ]
    );
    assert_eq!(directory.lists[1].settings, settings);
}

/// Writers on separate handles (separate pools, as separate processes) never fail with
/// "database is locked" and never lose an increment.
async fn concurrent_writers_on_separate_handles_all_succeed(db: TestDb) {
    let setup = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let store = db.open().await;
        let dev = dev.clone();
        tasks.push(tokio::spawn(async move {
            let start = writer * 3_000;
            let import = generated(start..start + 3_000);
            for (i, chunk) in import.chunks(1_000).enumerate() {
                store
                    .add_members(&dev, MemberRole::Member, chunk, &mut |_| {})
                    .await
                    .unwrap();
                store.next_post_number(&dev).await.unwrap();
                let ban = format!("w{writer}-{i}@x.example");
                store.add_ban(Some(&dev), &ban).await.unwrap();
                store
                    .add_members(&dev, MemberRole::Owner, &[mailbox(&ban)], &mut |_| {})
                    .await
                    .unwrap();
                for _ in 0..10 {
                    store.next_post_number(&dev).await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        setup
            .member_count(&dev, Some(MemberRole::Member))
            .await
            .unwrap(),
        12_000
    );
    assert_eq!(
        setup
            .member_count(&dev, Some(MemberRole::Owner))
            .await
            .unwrap(),
        12
    );
    assert_eq!(setup.bans(Some(&dev)).await.unwrap().len(), 12);
    assert_eq!(
        setup.list(&dev).await.unwrap().state.post_id,
        1 + 4 * 3 * 11
    );
}

mailcast_store::backend_tests!(
    every_daemon_relevant_mutation_bumps_the_counter,
    requests_templates_and_decisions_bump_the_counter,
    a_change_through_another_handle_is_seen_within_a_second,
    the_directory_is_a_consistent_snapshot,
    concurrent_writers_on_separate_handles_all_succeed,
);
