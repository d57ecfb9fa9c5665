//! Autoresponse records: counts per list, address, kind and day, the newest date, and
//! counting under concurrency.

mod fixture;

use fixture::{email, list, store_with};
use jiff::civil::date;
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, ResponseKind};

async fn responses_are_counted_per_list_address_kind_and_day(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example"]).await;
    let (dev, ops) = (list("dev@a.example"), list("ops@a.example"));
    let (day1, day2) = (date(2024, 6, 1), date(2024, 6, 2));
    let note = |to, who, kind, day| {
        let store = store.clone();
        let (to, who) = (list(to), email(who));
        async move { store.note_autoresponse(&to, &who, kind, day).await.unwrap() }
    };
    let hold = ResponseKind::Hold;
    assert_eq!(note("dev@a.example", "Anne@X.example", hold, day1).await, 1);
    assert_eq!(
        note("dev@a.example", "anne@x.example", hold, day1).await,
        2,
        "the address is compared lower-cased"
    );
    assert_eq!(note("dev@a.example", "ANNE@x.example", hold, day1).await, 3);
    assert_eq!(
        note(
            "dev@a.example",
            "anne@x.example",
            ResponseKind::Command,
            day1
        )
        .await,
        1,
        "another kind"
    );
    assert_eq!(
        note("dev@a.example", "anne@x.example", hold, day2).await,
        1,
        "another day"
    );
    assert_eq!(
        note("ops@a.example", "anne@x.example", hold, day1).await,
        1,
        "another list"
    );
    assert_eq!(
        note("dev@a.example", "bob@x.example", hold, day1).await,
        1,
        "another address"
    );
    // An older date noted late does not move the newest one.
    assert_eq!(
        note("dev@a.example", "anne@x.example", hold, date(2024, 5, 31)).await,
        1
    );

    let anne = email("Anne@X.EXAMPLE");
    assert_eq!(
        store.last_autoresponse(&dev, &anne, hold).await.unwrap(),
        Some(day2)
    );
    assert_eq!(
        store
            .last_autoresponse(&dev, &anne, ResponseKind::Command)
            .await
            .unwrap(),
        Some(day1)
    );
    assert_eq!(
        store
            .last_autoresponse(&dev, &anne, ResponseKind::Owner)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .last_autoresponse(&ops, &email("bob@x.example"), hold)
            .await
            .unwrap(),
        None
    );

    let missing = list("nope@a.example");
    let err = store
        .note_autoresponse(&missing, &anne, hold, day1)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store
        .last_autoresponse(&missing, &anne, hold)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

/// Callers on separate handles (as separate processes) noting the same response at once each
/// get their own count.
async fn concurrent_notes_get_different_counts(db: TestDb) {
    let setup = store_with(&db, &["dev@a.example"]).await;
    let handles = [db.open().await, db.open().await];
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = handles[i % 2].clone();
            tokio::spawn(async move {
                store
                    .note_autoresponse(
                        &list("dev@a.example"),
                        &email("anne@x.example"),
                        ResponseKind::Postings,
                        date(2024, 6, 1),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=8).collect::<Vec<u64>>());
    assert_eq!(
        setup
            .last_autoresponse(
                &list("dev@a.example"),
                &email("anne@x.example"),
                ResponseKind::Postings
            )
            .await
            .unwrap(),
        Some(date(2024, 6, 1))
    );
}

mailcast_store::backend_tests!(
    responses_are_counted_per_list_address_kind_and_day,
    concurrent_notes_get_different_counts,
);
