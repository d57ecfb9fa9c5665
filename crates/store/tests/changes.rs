//! Change visibility across handles (as across processes), the directory snapshot, and
//! concurrent writers on one database.

mod fixture;

use std::time::Duration;

use fixture::{add, domain, email, generated, list, mailbox, store_with};
use mailcast_model::MemberRole;
use mailcast_store::HeldMessage;
use mailcast_store::testing::TestDb;

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
    a_change_through_another_handle_is_seen_within_a_second,
    the_directory_is_a_consistent_snapshot,
    concurrent_writers_on_separate_handles_all_succeed,
);
