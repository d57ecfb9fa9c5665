//! Delivery failures: Mailman's once-a-day bounce score with staleness and threshold.

mod fixture;

use fixture::{add, email, list, store_with};
use jiff::{Timestamp, ToSpan};
use mailcast_model::{DeliveryStatus, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{BounceContext, BounceOutcome, Error};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn bounce_scores_count_once_per_day_and_go_stale(db: TestDb) {
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
    let fail = |when: &str| {
        let (store, dev, anne, when) = (store.clone(), dev.clone(), anne.clone(), at(when));
        async move {
            store
                .record_delivery_failure(&dev, &anne, when, Some("<m@x>"), BounceContext::Normal)
                .await
                .unwrap()
        }
    };
    let counted = |score: f64, threshold_reached| BounceOutcome::Counted {
        score,
        threshold_reached,
    };

    assert_eq!(fail("2026-03-01T08:00:00Z").await, counted(1.0, false));
    assert_eq!(
        fail("2026-03-01T23:59:59Z").await,
        BounceOutcome::AlreadyCountedToday { score: 1.0 }
    );
    assert_eq!(fail("2026-03-02T00:00:01Z").await, counted(2.0, false));
    // Seven days is not yet stale (Mailman: strictly more than bounce_info_stale_after).
    assert_eq!(fail("2026-03-09T00:00:01Z").await, counted(3.0, false));
    // Eight days later the score starts again.
    assert_eq!(fail("2026-03-17T12:00:00Z").await, counted(1.0, false));
    for (day, score) in [(18, 2.0), (19, 3.0), (20, 4.0)] {
        assert_eq!(
            fail(&format!("2026-03-{day}T12:00:00Z")).await,
            counted(score, false)
        );
    }
    assert_eq!(fail("2026-03-21T12:00:00Z").await, counted(5.0, true));

    let member = store.member(&dev, &anne).await.unwrap().remove(0);
    assert_eq!(member.bounce.score, 5.0);
    assert_eq!(
        member.bounce.last_bounce_received,
        Some(at("2026-03-21T12:00:00Z"))
    );
    assert_eq!(store.bounce_event_count(&dev, &anne).await.unwrap(), 9);
}

async fn failures_of_strangers_and_disabled_members_only_log_events(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let now = Timestamp::now();
    let stranger = email("who@x.example");
    let outcome = store
        .record_delivery_failure(&dev, &stranger, now, None, BounceContext::Normal)
        .await
        .unwrap();
    assert_eq!(outcome, BounceOutcome::NotAMember);

    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["gone@x.example"],
    )
    .await;
    let gone = email("gone@x.example");
    store
        .set_delivery_status(&dev, &gone, MemberRole::Member, DeliveryStatus::ByBounces)
        .await
        .unwrap();
    let outcome = store
        .record_delivery_failure(&dev, &gone, now + 24.hours(), None, BounceContext::Probe)
        .await
        .unwrap();
    assert_eq!(outcome, BounceOutcome::AlreadyDisabled);
    assert_eq!(
        store.member(&dev, &gone).await.unwrap()[0].bounce.score,
        0.0
    );
    assert_eq!(store.bounce_event_count(&dev, &stranger).await.unwrap(), 1);
    assert_eq!(store.bounce_event_count(&dev, &gone).await.unwrap(), 1);

    let err = store
        .record_delivery_failure(
            &list("nope@a.example"),
            &gone,
            now,
            None,
            BounceContext::Normal,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

mailcast_store::backend_tests!(
    bounce_scores_count_once_per_day_and_go_stale,
    failures_of_strangers_and_disabled_members_only_log_events,
);
