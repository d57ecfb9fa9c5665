//! Memberships found by id and by Mailman's `find_members` query: filters, patterns, user ids,
//! Mailman's order and paging totals.

mod fixture;

use fixture::{add, email, list, store_with};
use mailcast_model::MemberRole;
use mailcast_store::testing::TestDb;
use mailcast_store::{MemberQuery, NewUser, Store};
use uuid::Uuid;

/// Three lists (List-Ids `ann.b.example`, `dev.a.example`, `dev.b.example`) and Bob, who owns
/// bob@x and bob@y. Returns Bob's id.
async fn roster(store: &Store) -> Uuid {
    let bob = store
        .create_user(&NewUser {
            email: Some(email("Bob@X.example")),
            ..NewUser::default()
        })
        .await
        .unwrap();
    store
        .link_address(bob.id, &email("bob@y.example"))
        .await
        .unwrap();
    add(
        store,
        "ann@b.example",
        MemberRole::Moderator,
        &["bob@x.example"],
    )
    .await;
    add(
        store,
        "ann@b.example",
        MemberRole::Owner,
        &["bob@x.example"],
    )
    .await;
    add(
        store,
        "ann@b.example",
        MemberRole::Member,
        &["zoe@x.example", "bob@x.example"],
    )
    .await;
    add(
        store,
        "dev@a.example",
        MemberRole::Member,
        &["Carl@Y.example", "bob@y.example", "bob@x.example"],
    )
    .await;
    add(
        store,
        "dev@b.example",
        MemberRole::Nonmember,
        &["bob@x.example"],
    )
    .await;
    bob.id
}

/// `list-id email role` of each found membership.
async fn find(store: &Store, query: MemberQuery, offset: u64, limit: u64) -> (Vec<String>, u64) {
    let (found, total) = store.find_members(&query, offset, limit).await.unwrap();
    let lines = found
        .iter()
        .map(|(list, m)| format!("{} {} {}", list.list_id(), m.address.as_str(), m.role))
        .collect();
    (lines, total)
}

fn by_subscriber(who: &str) -> MemberQuery {
    MemberQuery {
        subscriber: Some(who.to_string()),
        ..MemberQuery::default()
    }
}

async fn members_are_found_in_mailmans_order(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ann@b.example", "dev@b.example"]).await;
    let bob = roster(&store).await;

    let bob_x = [
        "ann.b.example bob@x.example member",
        "ann.b.example bob@x.example owner",
        "ann.b.example bob@x.example moderator",
        "dev.a.example bob@x.example member",
        "dev.b.example bob@x.example nonmember",
    ];
    assert_eq!(
        find(&store, by_subscriber("BOB@x.example"), 0, 100).await,
        (bob_x.map(String::from).to_vec(), 5)
    );
    // Paging keeps the total.
    assert_eq!(
        find(&store, by_subscriber("bob@x.example"), 1, 2).await,
        (bob_x[1..3].iter().map(|s| s.to_string()).collect(), 5)
    );
    assert_eq!(
        find(&store, by_subscriber("bob@x.example"), 5, 2).await,
        (vec![], 5)
    );

    // A user id finds the memberships of all the user's addresses, in either spelling.
    let mut all_bob: Vec<String> = bob_x.map(String::from).to_vec();
    all_bob.insert(4, "dev.a.example bob@y.example member".into());
    for id in [bob.simple().to_string(), bob.hyphenated().to_string()] {
        assert_eq!(
            find(&store, by_subscriber(&id), 0, 100).await,
            (all_bob.clone(), 6)
        );
    }
    let found = store
        .find_members(&by_subscriber(&bob.to_string()), 0, 1)
        .await
        .unwrap();
    assert_eq!(found.0[0].1.user_id, Some(bob));
    assert_eq!(
        find(&store, by_subscriber(&Uuid::now_v7().to_string()), 0, 100).await,
        (vec![], 0)
    );

    // Mailman's `*` pattern; `_` and `%` are literal characters.
    assert_eq!(
        find(&store, by_subscriber("*@Y.EXAMPLE"), 0, 100).await.0,
        [
            "dev.a.example bob@y.example member",
            "dev.a.example carl@y.example member"
        ]
    );
    assert_eq!(find(&store, by_subscriber("b*b@y*"), 0, 100).await.1, 1);
    assert_eq!(find(&store, by_subscriber("b_b@y*"), 0, 100).await.1, 0);
    assert_eq!(find(&store, by_subscriber("b%@y*"), 0, 100).await.1, 0);
    assert_eq!(
        find(&store, by_subscriber("nobody@x.example"), 0, 100)
            .await
            .1,
        0
    );

    // List and role filters, alone and together.
    let dev = MemberQuery {
        list: Some(list("dev@a.example")),
        ..MemberQuery::default()
    };
    assert_eq!(
        find(&store, dev.clone(), 0, 100).await,
        (
            vec![
                "dev.a.example bob@x.example member".to_string(),
                "dev.a.example bob@y.example member".to_string(),
                "dev.a.example carl@y.example member".to_string(),
            ],
            3
        )
    );
    let members = MemberQuery {
        role: Some(MemberRole::Member),
        ..MemberQuery::default()
    };
    assert_eq!(find(&store, members, 0, 100).await.1, 5);
    let ann_members = MemberQuery {
        list: Some(list("ann@b.example")),
        role: Some(MemberRole::Member),
        subscriber: None,
    };
    assert_eq!(
        find(&store, ann_members, 0, 100).await.0,
        [
            "ann.b.example bob@x.example member",
            "ann.b.example zoe@x.example member"
        ]
    );
    let ann_bob = MemberQuery {
        list: Some(list("ann@b.example")),
        subscriber: Some("bob@x.example".into()),
        role: None,
    };
    assert_eq!(find(&store, ann_bob, 0, 100).await.1, 3);
    let unknown = MemberQuery {
        list: Some(list("nope@a.example")),
        ..MemberQuery::default()
    };
    assert_eq!(find(&store, unknown, 0, 100).await, (vec![], 0));
    // As in Mailman, a query without any filter finds nothing.
    assert_eq!(
        find(&store, MemberQuery::default(), 0, 100).await,
        (vec![], 0)
    );

    // The members found are the roster's, with their users.
    let (found, _) = store.find_members(&dev, 0, 100).await.unwrap();
    let roster: Vec<_> = store.members(&list("dev@a.example"), None).await.unwrap();
    assert_eq!(
        found.into_iter().map(|(_, m)| m).collect::<Vec<_>>(),
        roster
    );
    let carl = roster
        .iter()
        .find(|m| m.address.as_str() == "carl@y.example")
        .unwrap();
    assert_eq!(carl.user_id, None);
    assert_eq!(carl.address.original(), "Carl@Y.example");
}

async fn a_member_is_found_by_id(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ann@b.example", "dev@b.example"]).await;
    let bob = roster(&store).await;
    for address in ["ann@b.example", "dev@a.example", "dev@b.example"] {
        for member in store.members(&list(address), None).await.unwrap() {
            let (found_list, found) = store.member_by_id(member.id).await.unwrap().unwrap();
            assert_eq!(found_list, list(address));
            assert_eq!(found.user_id.is_some(), found.address.local_part() == "bob");
            assert_eq!(found, member);
        }
    }
    assert_eq!(store.member_by_id(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        store.member_by_id(bob).await.unwrap(),
        None,
        "a user id is no member id"
    );
}

mailcast_store::backend_tests!(members_are_found_in_mailmans_order, a_member_is_found_by_id);
