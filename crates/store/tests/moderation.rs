//! Bans (per list and global) and held posts.

mod fixture;

use fixture::{list, store_with};
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, HeldMessage};

fn held(spool_id: &str, subject: &str) -> HeldMessage {
    HeldMessage {
        spool_id: spool_id.into(),
        sender: "anne@x.example".into(),
        subject: subject.into(),
        message_id: format!("<{spool_id}@x.example>"),
        reasons: vec!["Message has no subject".into(), "Post by non-member".into()],
    }
}

async fn bans_are_added_listed_and_lifted_per_scope(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "other@a.example"]).await;
    let dev = list("dev@a.example");
    assert!(store.add_ban(Some(&dev), "Bad@X.example").await.unwrap());
    assert!(
        !store.add_ban(Some(&dev), "bad@x.example").await.unwrap(),
        "same ban again"
    );
    assert!(
        store
            .add_ban(Some(&dev), "^.*@spam\\.example$")
            .await
            .unwrap()
    );
    assert!(
        store.add_ban(None, "bad@x.example").await.unwrap(),
        "global is another scope"
    );
    assert!(!store.add_ban(None, "bad@x.example").await.unwrap());

    assert_eq!(
        store.bans(Some(&dev)).await.unwrap(),
        ["^.*@spam\\.example$", "bad@x.example"]
    );
    assert_eq!(store.bans(None).await.unwrap(), ["bad@x.example"]);
    assert!(
        store
            .bans(Some(&list("other@a.example")))
            .await
            .unwrap()
            .is_empty()
    );

    assert!(store.remove_ban(Some(&dev), "BAD@x.example").await.unwrap());
    assert!(!store.remove_ban(Some(&dev), "bad@x.example").await.unwrap());
    assert_eq!(store.bans(None).await.unwrap(), ["bad@x.example"]);
}

async fn bad_ban_patterns_and_lists_are_refused(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    for bad in ["^(unclosed", "not an address", ""] {
        let err = store.add_ban(None, bad).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{bad:?}: {err}");
    }
    let err = store
        .add_ban(Some(&list("nope@a.example")), "x@x.example")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(store.bans(None).await.unwrap().is_empty());
}

async fn holds_get_request_ids_and_are_idempotent_on_the_spool_entry(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "other@a.example"]).await;
    let (dev, other) = (list("dev@a.example"), list("other@a.example"));
    let first = store.hold(&dev, &held("s1", "one")).await.unwrap();
    let second = store.hold(&dev, &held("s2", "two")).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(store.hold(&dev, &held("s1", "one")).await.unwrap(), first);
    let elsewhere = store.hold(&other, &held("s1", "one")).await.unwrap();
    assert_ne!(elsewhere, first);

    let records = store.held(&dev).await.unwrap();
    assert_eq!(
        records.iter().map(|r| r.request_id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(records[0].message, held("s1", "one"));

    let got = store.get_held(&dev, second).await.unwrap();
    assert_eq!(got.message.subject, "two");
    assert_eq!(got.message.reasons.len(), 2);
    let err = store.get_held(&other, second).await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound(_)),
        "ids belong to their list: {err}"
    );

    store.remove_held(&dev, first).await.unwrap();
    let err = store.remove_held(&dev, first).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert_eq!(store.held(&dev).await.unwrap().len(), 1);
    let err = store.held(&list("nope@a.example")).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

mailcast_store::backend_tests!(
    bans_are_added_listed_and_lifted_per_scope,
    bad_ban_patterns_and_lists_are_refused,
    holds_get_request_ids_and_are_idempotent_on_the_spool_entry,
);
