//! Bans (per list and global) and held posts: tokens, nodes and moderators' decisions.

mod fixture;

use fixture::{email, list, store_with};
use jiff::{SignedDuration, Timestamp};
use mailcast_model::Action;
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, HeldDecision, HeldMessage};

fn held(spool_id: &str, subject: &str) -> HeldMessage {
    HeldMessage {
        spool_id: spool_id.into(),
        sender: "anne@x.example".into(),
        subject: subject.into(),
        message_id: format!("<{spool_id}@x.example>"),
        reasons: vec!["Message has no subject".into(), "Post by non-member".into()],
        token: String::new(),
        node: "node-1".into(),
    }
}

/// A held post with a moderators' token, in `node`'s spool.
fn held_on(node: &str, spool_id: &str, token: &str) -> HeldMessage {
    HeldMessage {
        token: token.into(),
        node: node.into(),
        ..held(spool_id, spool_id)
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
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

async fn is_banned_matches_list_bans_and_global_patterns(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "other@a.example"]).await;
    let (dev, other) = (list("dev@a.example"), list("other@a.example"));
    store.add_ban(Some(&dev), "Bad@X.example").await.unwrap();
    store.add_ban(None, "^.*@spam\\.example$").await.unwrap();

    assert!(
        store
            .is_banned(&dev, &email("bad@x.example"))
            .await
            .unwrap()
    );
    assert!(
        store
            .is_banned(&dev, &email("BAD@x.EXAMPLE"))
            .await
            .unwrap(),
        "literal bans ignore case"
    );
    assert!(
        !store
            .is_banned(&other, &email("bad@x.example"))
            .await
            .unwrap(),
        "a list ban is the list's only"
    );
    for (to, who) in [(&dev, "joe@spam.example"), (&other, "Joe@SPAM.Example")] {
        assert!(
            store.is_banned(to, &email(who)).await.unwrap(),
            "{who} on {to}"
        );
    }
    assert!(!store.is_banned(&dev, &email("ok@x.example")).await.unwrap());
    assert!(
        !store
            .is_banned(&dev, &email("joe@spam.example.org"))
            .await
            .unwrap()
    );
    // The same answer as the posting path's.
    let facts = store
        .sender_facts(&dev, &[email("bad@x.example"), email("ok@x.example")])
        .await
        .unwrap();
    assert_eq!(
        facts.iter().map(|f| f.banned).collect::<Vec<_>>(),
        [true, false]
    );
    let err = store
        .is_banned(&list("nope@a.example"), &email("bad@x.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn held_posts_keep_their_token_and_node_and_are_found_by_token(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "other@a.example"]).await;
    let (dev, other) = (list("dev@a.example"), list("other@a.example"));
    let id = store
        .hold(&dev, &held_on("n1", "s1", "tok-1"))
        .await
        .unwrap();

    let found = store.held_by_token("tok-1").await.unwrap();
    assert_eq!(found.list, dev);
    assert_eq!(found.request_id, id);
    assert_eq!(found.message, held_on("n1", "s1", "tok-1"));
    assert_eq!(found.decision, None);
    assert_eq!(store.get_held(&dev, id).await.unwrap(), found);
    assert_eq!(
        store.held(&dev).await.unwrap(),
        std::slice::from_ref(&found)
    );

    for unknown in ["", "tok-2"] {
        let err = store.held_by_token(unknown).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{unknown:?}: {err}");
    }
    // Holding the same entry again keeps the first token and node.
    assert_eq!(
        store
            .hold(&dev, &held_on("n2", "s1", "tok-9"))
            .await
            .unwrap(),
        id
    );
    assert_eq!(store.get_held(&dev, id).await.unwrap(), found);
    assert!(matches!(
        store.held_by_token("tok-9").await,
        Err(Error::NotFound(_))
    ));
    // A token belongs to one post; posts without one are many.
    let err = store
        .hold(&other, &held_on("n1", "s2", "tok-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    store.hold(&other, &held_on("n1", "s3", "")).await.unwrap();
    store.hold(&other, &held_on("n1", "s4", "")).await.unwrap();
    assert_eq!(store.held(&other).await.unwrap().len(), 2);
}

async fn decisions_are_recorded_once_and_found_by_node(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "other@a.example"]).await;
    let (dev, other) = (list("dev@a.example"), list("other@a.example"));
    let a = store.hold(&dev, &held_on("n1", "a", "ta")).await.unwrap();
    let b = store.hold(&dev, &held_on("n2", "b", "tb")).await.unwrap();
    let c = store.hold(&other, &held_on("n1", "c", "tc")).await.unwrap();
    let d = store.hold(&dev, &held_on("n1", "d", "td")).await.unwrap();

    store
        .record_held_decision(&dev, a, Action::Reject, Some("off topic"), at(20))
        .await
        .unwrap();
    store
        .record_held_decision(&other, c, Action::Accept, None, at(10))
        .await
        .unwrap();
    store
        .record_held_decision(&dev, b, Action::Discard, None, at(5))
        .await
        .unwrap();
    let decided = store.get_held(&dev, a).await.unwrap().decision;
    assert_eq!(
        decided,
        Some(HeldDecision {
            action: Action::Reject,
            reason: Some("off topic".into()),
            decided_at: at(20),
        })
    );
    assert_eq!(
        store
            .held_by_token("tc")
            .await
            .unwrap()
            .decision
            .map(|d| d.action),
        Some(Action::Accept)
    );

    match store
        .record_held_decision(&dev, a, Action::Accept, None, at(30))
        .await
    {
        Err(Error::Conflict(text)) => assert!(text.contains("reject"), "{text}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.get_held(&dev, a).await.unwrap().decision, decided);
    let err = store
        .record_held_decision(&dev, d, Action::Hold, None, at(30))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let err = store
        .record_held_decision(&other, a, Action::Accept, None, at(30))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound(_)),
        "ids belong to their list: {err}"
    );
    let err = store
        .record_held_decision(&list("nope@a.example"), a, Action::Accept, None, at(30))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");

    let on_n1: Vec<(String, u64)> = store
        .decided_held("n1")
        .await
        .unwrap()
        .iter()
        .map(|r| (r.list.to_string(), r.request_id))
        .collect();
    assert_eq!(
        on_n1,
        [
            ("other@a.example".to_string(), c),
            ("dev@a.example".to_string(), a)
        ],
        "oldest decision first, every list"
    );
    let on_n2 = store.decided_held("n2").await.unwrap();
    assert_eq!(on_n2.iter().map(|r| r.request_id).collect::<Vec<_>>(), [b]);
    assert!(store.decided_held("n3").await.unwrap().is_empty());

    // Expiry candidates: undecided only, oldest first.
    let e = store.hold(&other, &held_on("n2", "e", "")).await.unwrap();
    let later = Timestamp::now() + SignedDuration::from_hours(1);
    let undecided: Vec<u64> = store
        .held_before(later)
        .await
        .unwrap()
        .iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(undecided, [d, e]);
    assert!(store.held_before(at(0)).await.unwrap().is_empty());
    let d_held_at = store.get_held(&dev, d).await.unwrap().held_at;
    assert!(
        store.held_before(d_held_at).await.unwrap().is_empty(),
        "strictly before"
    );

    // Carrying a decision out removes the row.
    store.remove_held(&dev, a).await.unwrap();
    assert_eq!(store.decided_held("n1").await.unwrap().len(), 1);
}

mailcast_store::backend_tests!(
    bans_are_added_listed_and_lifted_per_scope,
    bad_ban_patterns_and_lists_are_refused,
    holds_get_request_ids_and_are_idempotent_on_the_spool_entry,
    is_banned_matches_list_bans_and_global_patterns,
    held_posts_keep_their_token_and_node_and_are_found_by_token,
    decisions_are_recorded_once_and_found_by_node,
);
