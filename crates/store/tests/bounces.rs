//! Bounce bookkeeping: events with their keys, member state written under a lock, the claims
//! of the scheduled work (SKIP LOCKED on PostgreSQL), stale scores, probes, re-enabling and
//! the per-list view, on both back ends.

mod fixture;

use fixture::{add, email, list, store_with};
use jiff::{Timestamp, ToSpan};
use mailcast_model::{DeliveryStatus, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{Backend, BounceContext, BounceUpdate, Error, NewBounceEvent};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn event(key: &str, address: &str, when: Timestamp, outcome: &str) -> NewBounceEvent {
    NewBounceEvent {
        source_key: Some(key.to_string()),
        email: email(address),
        at: when,
        message_id: Some("<dsn@x>".into()),
        context: BounceContext::Normal,
        class: "permanent".into(),
        status: Some("5.1.1".into()),
        diagnostic: Some("550 5.1.1 user unknown".into()),
        source: "dsn".into(),
        outcome: outcome.into(),
    }
}

async fn events_are_keyed_and_member_state_is_written_whole(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["Anne <anne@x.example>"],
    )
    .await;
    let when = at("2026-03-02T12:00:00Z");

    let mut lock = store
        .lock_for_bounce(&dev, &email("anne@x.example"))
        .await
        .unwrap();
    let state = lock.member().cloned().expect("anne is a member");
    assert_eq!(
        (state.score, state.delivery_status),
        (0.0, DeliveryStatus::Enabled)
    );
    assert_eq!(state.display_name.as_deref(), Some("Anne"));
    assert_eq!(lock.recorded("e1/0").await.unwrap(), None);
    let update = BounceUpdate {
        score: 5.0,
        last_bounce_received: Some(when),
        delivery_status: DeliveryStatus::ByBounces,
        last_warning_sent: None,
        total_warnings_sent: 0,
        disabled_at: Some(when),
    };
    assert!(
        lock.record(
            &event("e1/0", "anne@x.example", when, "disabled"),
            Some(&update)
        )
        .await
        .unwrap()
    );

    // The same key again: nothing written, and the first outcome is there to see.
    let mut lock = store
        .lock_for_bounce(&dev, &email("anne@x.example"))
        .await
        .unwrap();
    assert_eq!(
        lock.recorded("e1/0").await.unwrap().as_deref(),
        Some("disabled")
    );
    let state = lock.member().cloned().unwrap();
    assert_eq!(
        (state.score, state.delivery_status),
        (5.0, DeliveryStatus::ByBounces)
    );
    assert_eq!(state.disabled_at, Some(when));
    assert!(
        !lock
            .record(&event("e1/0", "anne@x.example", when, "counted"), None)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .bounce_event_count(&dev, &email("anne@x.example"))
            .await
            .unwrap(),
        1
    );

    // A stranger's bounce is logged; there is no member to update.
    let lock = store
        .lock_for_bounce(&dev, &email("who@x.example"))
        .await
        .unwrap();
    assert!(lock.member().is_none());
    assert!(
        lock.record(&event("e2/0", "who@x.example", when, "not_member"), None)
            .await
            .unwrap()
    );
    let events = store
        .bounce_events(&dev, &email("who@x.example"), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].outcome.as_str(), events[0].status.as_deref()),
        ("not_member", Some("5.1.1"))
    );

    let summaries = store.bounce_summaries(&dev).await.unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(
        (summaries[0].state.email.as_str(), summaries[0].events),
        ("anne@x.example", 1)
    );

    let err = store
        .lock_for_bounce(&list("nope@a.example"), &email("a@x.example"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn disabled_members_are_claimed_once_then_warned_or_removed(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["anne@x.example", "bob@x.example"],
    )
    .await;
    let when = at("2026-03-02T12:00:00Z");
    for (who, key) in [("anne@x.example", "k1"), ("bob@x.example", "k2")] {
        let lock = store.lock_for_bounce(&dev, &email(who)).await.unwrap();
        let mut update = lock.member().unwrap().update();
        update.delivery_status = DeliveryStatus::ByBounces;
        lock.record(&event(key, who, when, "disabled"), Some(&update))
            .await
            .unwrap();
    }
    let disabled = store.disabled_by_bounces().await.unwrap();
    assert_eq!(disabled.len(), 2);

    let claim = store
        .claim_disabled_member(disabled[0].member_id)
        .await
        .unwrap()
        .expect("claimed");
    if db.backend() == Backend::Postgres {
        // Another node skips the row while it is claimed.
        let other = db.open().await;
        assert!(
            other
                .claim_disabled_member(disabled[0].member_id)
                .await
                .unwrap()
                .is_none()
        );
        let second = other
            .claim_disabled_member(disabled[1].member_id)
            .await
            .unwrap()
            .expect("another row");
        second.release().await.unwrap();
    }
    let mut update = claim.state.update();
    update.total_warnings_sent = 1;
    update.last_warning_sent = Some(when);
    claim.commit(&update).await.unwrap();
    let again = store
        .claim_disabled_member(disabled[0].member_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            again.state.total_warnings_sent,
            again.state.last_warning_sent
        ),
        (1, Some(when))
    );
    assert_eq!(again.list, dev);
    again.remove().await.unwrap();
    assert!(
        store
            .claim_disabled_member(disabled[0].member_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.disabled_by_bounces().await.unwrap().len(), 1);

    // Re-enabling clears the bounce fields; the member is no longer claimable.
    let before = store
        .reenable_member(&dev, &email("bob@x.example"))
        .await
        .unwrap();
    assert_eq!(before.delivery_status, DeliveryStatus::ByBounces);
    assert!(store.disabled_by_bounces().await.unwrap().is_empty());
    let err = store
        .reenable_member(&dev, &email("gone@x.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn stale_scores_reset_and_probes_are_taken_once(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["anne@x.example", "bob@x.example"],
    )
    .await;
    let old = at("2026-03-01T12:00:00Z");
    for (who, when) in [
        ("anne@x.example", old),
        ("bob@x.example", old + (24 * 10).hours()),
    ] {
        let lock = store.lock_for_bounce(&dev, &email(who)).await.unwrap();
        let mut update = lock.member().unwrap().update();
        update.score = 2.0;
        update.last_bounce_received = Some(when);
        lock.write(&update).await.unwrap();
    }
    let reset = store
        .reset_stale_scores(&dev, old + (24 * 7).hours())
        .await
        .unwrap();
    assert_eq!(reset, 1);
    let scores: Vec<(String, f64)> = store
        .bounce_summaries(&dev)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.state.email.as_str().to_string(), s.state.score))
        .collect();
    assert_eq!(
        scores,
        [
            ("anne@x.example".to_string(), 0.0),
            ("bob@x.example".to_string(), 2.0)
        ]
    );

    let mut lock = store
        .lock_for_bounce(&dev, &email("anne@x.example"))
        .await
        .unwrap();
    let state = lock.member().cloned().unwrap();
    let member = state.member_id;
    lock.add_probe("t1", old, old + (24 * 10).hours())
        .await
        .unwrap();
    lock.add_probe("t2", old, old + 24.hours()).await.unwrap();
    lock.write(&state.update()).await.unwrap();
    let probe = store
        .take_probe("t1", old + 1.hours())
        .await
        .unwrap()
        .expect("the probe");
    assert_eq!(
        (probe.list, probe.member_id, probe.email.as_str()),
        (dev.clone(), member, "anne@x.example")
    );
    assert!(
        store
            .take_probe("t1", old + 1.hours())
            .await
            .unwrap()
            .is_none(),
        "taken once"
    );
    assert!(
        store
            .take_probe("t2", old + 48.hours())
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert_eq!(store.expire_probes(old + 48.hours()).await.unwrap(), 1);
}

mailcast_store::backend_tests!(
    events_are_keyed_and_member_state_is_written_whole,
    disabled_members_are_claimed_once_then_warned_or_removed,
    stale_scores_reset_and_probes_are_taken_once,
);
