//! Pending subscription and unsubscription requests: adding and conflicts, lookups, taking a
//! token once (also under concurrency), reissuing and expiry.

mod fixture;

use fixture::{email, list, store_with};
use jiff::Timestamp;
use mailcast_model::DeliveryMode;
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, PendingRequest, RequestKind, TokenOwner};

/// A fixed instant plus `seconds`.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

/// A subscriber-owned request made at `at(created)`, expiring an hour later.
fn request(token: &str, to: &str, kind: RequestKind, who: &str, created: i64) -> PendingRequest {
    PendingRequest {
        token: token.into(),
        list: list(to),
        kind,
        email: email(who),
        display_name: None,
        delivery_mode: DeliveryMode::Regular,
        token_owner: TokenOwner::Subscriber,
        created_at: at(created),
        expires_at: at(created + 3600),
    }
}

fn tokens(requests: &[PendingRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.token.as_str()).collect()
}

async fn requests_are_added_and_found_by_token_list_kind_and_address(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example"]).await;
    let dev = list("dev@a.example");
    let mut anne = request(
        "t-anne",
        "dev@a.example",
        RequestKind::Subscription,
        "Anne@Example.ORG",
        20,
    );
    anne.display_name = Some("Anne Person".into());
    anne.delivery_mode = DeliveryMode::MimeDigests;
    anne.token_owner = TokenOwner::Moderator;
    store.add_request(&anne).await.unwrap();
    let bob = request(
        "t-bob",
        "dev@a.example",
        RequestKind::Unsubscription,
        "bob@example.org",
        10,
    );
    store.add_request(&bob).await.unwrap();
    let carl = request(
        "t-carl",
        "ops@a.example",
        RequestKind::Subscription,
        "carl@example.org",
        0,
    );
    store.add_request(&carl).await.unwrap();

    let got = store.request("t-anne").await.unwrap();
    assert_eq!(got, anne);
    assert_eq!(got.email.original(), "Anne@Example.ORG");
    assert_eq!(
        store.request("t-carl").await.unwrap().list,
        list("ops@a.example")
    );

    assert_eq!(
        tokens(&store.requests(&dev, None).await.unwrap()),
        ["t-bob", "t-anne"],
        "oldest first"
    );
    assert_eq!(
        tokens(
            &store
                .requests(&dev, Some(RequestKind::Subscription))
                .await
                .unwrap()
        ),
        ["t-anne"]
    );
    let found = store
        .pending_request_for(&dev, RequestKind::Subscription, &email("anne@example.org"))
        .await
        .unwrap();
    assert_eq!(found, Some(anne.clone()), "matched lower-cased");
    let other_kind = store
        .pending_request_for(
            &dev,
            RequestKind::Unsubscription,
            &email("anne@example.org"),
        )
        .await
        .unwrap();
    assert_eq!(other_kind, None);

    let missing = list("nope@a.example");
    let err = store.request("t-none").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store.requests(&missing, None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store
        .pending_request_for(&missing, RequestKind::Subscription, &email("a@x.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store
        .add_request(&request(
            "t-x",
            "nope@a.example",
            RequestKind::Subscription,
            "a@x.example",
            0,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store
        .add_request(&request(
            "",
            "dev@a.example",
            RequestKind::Subscription,
            "a@x.example",
            0,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
}

async fn a_second_request_of_a_kind_for_an_address_conflicts(db: TestDb) {
    let store = store_with(&db, &["ant@example.org", "bee@example.org"]).await;
    let first = request(
        "t1",
        "ant@example.org",
        RequestKind::Subscription,
        "anne@example.com",
        0,
    );
    store.add_request(&first).await.unwrap();

    let again = request(
        "t2",
        "ant@example.org",
        RequestKind::Subscription,
        "Anne@Example.com",
        5,
    );
    match store.add_request(&again).await {
        Err(Error::Conflict(text)) => assert!(
            text.contains("subscription request for")
                && text.to_lowercase().contains("anne@example.com")
                && text.contains("is already pending on ant@example.org"),
            "{text}"
        ),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let reused = request(
        "t1",
        "bee@example.org",
        RequestKind::Subscription,
        "zed@example.com",
        5,
    );
    let err = store.add_request(&reused).await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict(_)),
        "a token is unique: {err}"
    );

    // Another kind, or another list, is another request.
    let mut leave = again.clone();
    leave.kind = RequestKind::Unsubscription;
    store.add_request(&leave).await.unwrap();
    let mut elsewhere = again.clone();
    elsewhere.token = "t3".into();
    elsewhere.list = list("bee@example.org");
    store.add_request(&elsewhere).await.unwrap();
    assert_eq!(store.request("t1").await.unwrap(), first);
}

async fn taking_a_request_uses_its_token_up(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let anne = request(
        "t1",
        "dev@a.example",
        RequestKind::Subscription,
        "anne@x.example",
        0,
    );
    store.add_request(&anne).await.unwrap();

    assert_eq!(store.take_request("t1").await.unwrap(), anne);
    let err = store.take_request("t1").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(matches!(store.request("t1").await, Err(Error::NotFound(_))));
    assert_eq!(
        store
            .pending_request_for(&dev, RequestKind::Subscription, &email("anne@x.example"))
            .await
            .unwrap(),
        None
    );
    // The address may ask again.
    let again = request(
        "t2",
        "dev@a.example",
        RequestKind::Subscription,
        "anne@x.example",
        9,
    );
    store.add_request(&again).await.unwrap();
    assert_eq!(tokens(&store.requests(&dev, None).await.unwrap()), ["t2"]);
}

/// Takers on separate handles (as separate processes) race for each token: exactly one wins.
async fn concurrent_takes_have_exactly_one_winner(db: TestDb) {
    let setup = store_with(&db, &["dev@a.example"]).await;
    let handles = [db.open().await, db.open().await];
    for round in 0..10 {
        let token = format!("race-{round}");
        let who = format!("user{round}@x.example");
        setup
            .add_request(&request(
                &token,
                "dev@a.example",
                RequestKind::Subscription,
                &who,
                0,
            ))
            .await
            .unwrap();
        let takers: Vec<_> = (0..4)
            .map(|i| {
                let store = handles[i % 2].clone();
                let token = token.clone();
                tokio::spawn(async move { store.take_request(&token).await })
            })
            .collect();
        let mut winners = 0;
        for taker in takers {
            match taker.await.unwrap() {
                Ok(taken) => {
                    assert_eq!(taken.token, token);
                    winners += 1;
                }
                Err(Error::NotFound(_)) => {}
                Err(other) => panic!("round {round}: {other}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn reissuing_replaces_the_token_in_one_step(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let confirm = request(
        "sub-1",
        "dev@a.example",
        RequestKind::Subscription,
        "anne@x.example",
        0,
    );
    store.add_request(&confirm).await.unwrap();
    let mut moderate = confirm.clone();
    moderate.token = "mod-1".into();
    moderate.token_owner = TokenOwner::Moderator;
    moderate.expires_at = at(99_999);

    store.reissue_request("sub-1", &moderate).await.unwrap();
    assert!(matches!(
        store.request("sub-1").await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.request("mod-1").await.unwrap(), moderate);
    assert_eq!(
        tokens(&store.requests(&dev, None).await.unwrap()),
        ["mod-1"]
    );

    // The old token is gone: a second confirmation changes nothing.
    let mut other = moderate.clone();
    other.token = "mod-2".into();
    let err = store.reissue_request("sub-1", &other).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert_eq!(
        tokens(&store.requests(&dev, None).await.unwrap()),
        ["mod-1"]
    );

    // A replacement that conflicts leaves the old request in place.
    let bob = request(
        "sub-2",
        "dev@a.example",
        RequestKind::Subscription,
        "bob@x.example",
        5,
    );
    store.add_request(&bob).await.unwrap();
    let mut clash = moderate.clone();
    clash.token = "mod-3".into();
    let err = store.reissue_request("sub-2", &clash).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert_eq!(store.request("sub-2").await.unwrap(), bob);
}

async fn expiry_removes_and_returns_only_expired_requests_of_every_list(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@b.example"]).await;
    // Each expires an hour after it was made.
    let made = [
        ("d-old", "dev@a.example", 0),
        ("o-old", "ops@b.example", 10),
        ("d-edge", "dev@a.example", 20),
        ("d-new", "dev@a.example", 30),
        ("o-new", "ops@b.example", 40),
    ];
    for (token, to, created) in made {
        let who = format!("{token}@x.example");
        store
            .add_request(&request(
                token,
                to,
                RequestKind::Subscription,
                &who,
                created,
            ))
            .await
            .unwrap();
    }
    let expired = store.expire_requests(at(20 + 3600)).await.unwrap();
    assert_eq!(
        tokens(&expired),
        ["d-old", "o-old", "d-edge"],
        "expires_at <= now"
    );
    assert_eq!(expired[1].list, list("ops@b.example"));
    assert!(
        store
            .expire_requests(at(20 + 3600))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tokens(&store.requests(&list("dev@a.example"), None).await.unwrap()),
        ["d-new"]
    );
    assert_eq!(
        tokens(&store.requests(&list("ops@b.example"), None).await.unwrap()),
        ["o-new"]
    );
}

mailcast_store::backend_tests!(
    requests_are_added_and_found_by_token_list_kind_and_address,
    a_second_request_of_a_kind_for_an_address_conflicts,
    taking_a_request_uses_its_token_up,
    concurrent_takes_have_exactly_one_winner,
    reissuing_replaces_the_token_in_one_step,
    expiry_removes_and_returns_only_expired_requests_of_every_list,
);
