//! Addresses: verification times (the earliest is kept) and display names, on new addresses
//! and on those of existing members.

mod fixture;

use fixture::{add, email, list, store_with};
use jiff::Timestamp;
use mailcast_model::MemberRole;
use mailcast_store::testing::TestDb;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

async fn verification_is_recorded_once_at_its_earliest(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let anne = email("Anne@X.example");
    assert_eq!(
        store.address_verified_on(&anne).await.unwrap(),
        None,
        "unknown"
    );

    store.verify_address(&anne, at(20)).await.unwrap();
    assert_eq!(
        store
            .address_verified_on(&email("anne@x.example"))
            .await
            .unwrap(),
        Some(at(20)),
        "found lower-cased"
    );
    store
        .verify_address(&email("ANNE@x.example"), at(30))
        .await
        .unwrap();
    assert_eq!(
        store.address_verified_on(&anne).await.unwrap(),
        Some(at(20))
    );
    store.verify_address(&anne, at(10)).await.unwrap();
    assert_eq!(
        store.address_verified_on(&anne).await.unwrap(),
        Some(at(10))
    );

    // The row verification created is the one a later subscription uses, spelling and all.
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["anne@x.example"],
    )
    .await;
    let members = store.members(&list("dev@a.example"), None).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].address.original(), "Anne@X.example");

    // A member's address that was never verified.
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["bob@x.example"],
    )
    .await;
    assert_eq!(
        store
            .address_verified_on(&email("bob@x.example"))
            .await
            .unwrap(),
        None
    );
}

async fn display_names_are_set_and_cleared(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["Bob <bob@x.example>"],
    )
    .await;
    let name_of = |who: &'static str| {
        let store = store.clone();
        let dev = dev.clone();
        async move {
            store.member(&dev, &email(who)).await.unwrap()[0]
                .display_name
                .clone()
        }
    };
    assert_eq!(name_of("bob@x.example").await.as_deref(), Some("Bob"));
    store
        .set_address_display_name(&email("BOB@x.example"), Some("Robert Roe"))
        .await
        .unwrap();
    assert_eq!(
        name_of("bob@x.example").await.as_deref(),
        Some("Robert Roe")
    );
    store
        .set_address_display_name(&email("bob@x.example"), None)
        .await
        .unwrap();
    assert_eq!(name_of("bob@x.example").await, None);

    // A new address gets a row (unverified) that a later subscription keeps.
    store
        .set_address_display_name(&email("Carl@X.example"), Some("Carl"))
        .await
        .unwrap();
    assert_eq!(
        store
            .address_verified_on(&email("carl@x.example"))
            .await
            .unwrap(),
        None
    );
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["carl@x.example"],
    )
    .await;
    assert_eq!(name_of("carl@x.example").await.as_deref(), Some("Carl"));
}

mailcast_store::backend_tests!(
    verification_is_recorded_once_at_its_earliest,
    display_names_are_set_and_cleared,
);
