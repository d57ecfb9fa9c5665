//! Users, addresses and domain owners: creation with conflicts, paging and its order, updates,
//! linking, the preferred address, preferences, deletion, and domain updates.

mod fixture;

use fixture::{add, domain, email, list, store_with};
use jiff::Timestamp;
use mailcast_model::{DeliveryMode, DeliveryStatus, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, NewUser, Preferences, Store, User, UserUpdate};
use uuid::Uuid;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

async fn new_user(store: &Store, who: Option<&str>, name: &str) -> User {
    store
        .create_user(&NewUser {
            email: who.map(email),
            display_name: Some(name.to_string()),
            password: Some(format!("hash of {name}")),
            is_server_owner: false,
        })
        .await
        .unwrap()
}

async fn users_are_created_read_and_paged(db: TestDb) {
    let store = db.open().await;
    let anne = new_user(&store, Some("Anne@X.example"), "Anne").await;
    assert_eq!(anne.display_name.as_deref(), Some("Anne"));
    assert_eq!(anne.password.as_deref(), Some("hash of Anne"));
    assert_eq!(anne.preferred_address, None);
    assert_eq!(anne.preferences, Preferences::default());
    assert!(!anne.is_server_owner);
    assert_eq!(store.user(anne.id).await.unwrap(), Some(anne.clone()));
    assert_eq!(
        store.user_by_email(&email("anne@x.EXAMPLE")).await.unwrap(),
        Some(anne.clone())
    );
    // The address was created for her, with her name and its spelling.
    let address = store
        .address(&email("anne@x.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(address.email.original(), "Anne@X.example");
    assert_eq!(address.display_name.as_deref(), Some("Anne"));
    assert_eq!(address.user_id, Some(anne.id));
    assert_eq!(address.verified_on, None);

    let owner = store
        .create_user(&NewUser {
            is_server_owner: true,
            ..NewUser::default()
        })
        .await
        .unwrap();
    assert!(store.user(owner.id).await.unwrap().unwrap().is_server_owner);
    assert_eq!(owner.display_name, None);
    assert_eq!(store.user(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        store
            .user_by_email(&email("nobody@x.example"))
            .await
            .unwrap(),
        None
    );

    let mut all = vec![anne, owner];
    for n in 0..3 {
        all.push(new_user(&store, None, &format!("User {n}")).await);
    }
    all.sort_by_key(|u| (u.created_on, u.id));
    let (page, total) = store.users_page(0, 100).await.unwrap();
    assert_eq!((page, total), (all.clone(), 5));
    let (page, total) = store.users_page(1, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(page, all[1..3]);
    let (page, total) = store.users_page(4, 10).await.unwrap();
    assert_eq!((page.len(), total), (1, 5));
    let (page, total) = store.users_page(9, 10).await.unwrap();
    assert_eq!((page.len(), total), (0, 5));
}

async fn creating_a_user_reuses_a_free_address_and_refuses_a_taken_one(db: TestDb) {
    let store = db.open().await;
    let free = store
        .create_address(&email("Free@X.example"), Some("Address name"))
        .await
        .unwrap();
    let user = new_user(&store, Some("free@x.example"), "User name").await;
    let address = store
        .address(&email("FREE@x.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(address.id, free.id, "the existing row is reused");
    assert_eq!(address.email.original(), "Free@X.example");
    assert_eq!(address.display_name.as_deref(), Some("Address name"));
    assert_eq!(address.user_id, Some(user.id));

    let taken = store
        .create_user(&NewUser {
            email: Some(email("FREE@X.EXAMPLE")),
            ..NewUser::default()
        })
        .await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    // Nothing of the refused user was kept.
    assert_eq!(store.users_page(0, 10).await.unwrap().1, 1);
    assert_eq!(
        store.user_by_email(&email("free@x.example")).await.unwrap(),
        Some(user)
    );
}

async fn users_are_updated_and_deleted(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let anne = new_user(&store, Some("anne@x.example"), "Anne").await;
    let ghost = Uuid::now_v7();

    let update = UserUpdate {
        display_name: Some(None),
        password: Some("new hash".into()),
        is_server_owner: Some(true),
    };
    assert!(store.update_user(anne.id, &update).await.unwrap());
    let got = store.user(anne.id).await.unwrap().unwrap();
    assert_eq!(got.display_name, None);
    assert_eq!(got.password.as_deref(), Some("new hash"));
    assert!(got.is_server_owner);
    let rename = UserUpdate {
        display_name: Some(Some("Anne P.".into())),
        ..UserUpdate::default()
    };
    assert!(store.update_user(anne.id, &rename).await.unwrap());
    let got = store.user(anne.id).await.unwrap().unwrap();
    assert_eq!(got.display_name.as_deref(), Some("Anne P."));
    assert_eq!(got.password.as_deref(), Some("new hash"), "left as it was");
    assert!(
        store
            .update_user(anne.id, &UserUpdate::default())
            .await
            .unwrap()
    );
    assert!(!store.update_user(ghost, &rename).await.unwrap());
    assert!(
        !store
            .update_user(ghost, &UserUpdate::default())
            .await
            .unwrap()
    );

    // Deleting a user keeps its addresses (unlinked) and their memberships.
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["anne@x.example"],
    )
    .await;
    store
        .add_domain_owner(&domain("a.example"), anne.id)
        .await
        .unwrap();
    assert!(store.delete_user(anne.id).await.unwrap());
    assert!(!store.delete_user(anne.id).await.unwrap());
    assert_eq!(store.user(anne.id).await.unwrap(), None);
    let address = store
        .address(&email("anne@x.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(address.user_id, None);
    let members = store.members(&list("dev@a.example"), None).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].user_id, None);
    assert!(
        store
            .domain_owners(&domain("a.example"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn deleting_a_user_with_its_addresses_removes_their_memberships(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let bob = new_user(&store, Some("bob@x.example"), "Bob").await;
    store
        .link_address(bob.id, &email("bob@y.example"))
        .await
        .unwrap();
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["bob@y.example", "carl@x.example"],
    )
    .await;
    let before = store.change_counter().await.unwrap();
    assert!(store.delete_user_and_addresses(bob.id).await.unwrap());
    assert!(store.change_counter().await.unwrap() > before);
    assert_eq!(store.address(&email("bob@x.example")).await.unwrap(), None);
    assert_eq!(store.address(&email("bob@y.example")).await.unwrap(), None);
    let left: Vec<String> = store
        .members(&list("dev@a.example"), None)
        .await
        .unwrap()
        .iter()
        .map(|m| m.address.to_string())
        .collect();
    assert_eq!(left, ["carl@x.example"]);
    assert!(!store.delete_user_and_addresses(bob.id).await.unwrap());
}

async fn addresses_are_linked_and_one_is_preferred(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let anne = new_user(&store, Some("anne@x.example"), "Anne").await;
    let bob = new_user(&store, None, "Bob").await;

    store
        .link_address(anne.id, &email("Anne@Work.example"))
        .await
        .unwrap();
    store
        .link_address(anne.id, &email("anne@work.example"))
        .await
        .expect("linking again is harmless");
    let linked = store.link_address(bob.id, &email("ANNE@x.example")).await;
    assert!(matches!(linked, Err(Error::Conflict(_))), "{linked:?}");
    let ghost = store
        .link_address(Uuid::now_v7(), &email("new@x.example"))
        .await;
    assert!(matches!(ghost, Err(Error::NotFound(_))), "{ghost:?}");
    assert_eq!(store.address(&email("new@x.example")).await.unwrap(), None);

    let emails = |addresses: Vec<mailcast_store::Address>| -> Vec<String> {
        addresses.iter().map(|a| a.email.to_string()).collect()
    };
    assert_eq!(
        emails(store.user_addresses(anne.id).await.unwrap()),
        ["Anne@Work.example", "anne@x.example"]
    );
    assert!(store.user_addresses(bob.id).await.unwrap().is_empty());

    // The preferred address must be the user's own and verified.
    let work = email("anne@work.example");
    let unverified = store.set_preferred_address(anne.id, &work).await;
    assert!(
        matches!(unverified, Err(Error::Invalid(_))),
        "{unverified:?}"
    );
    store.verify_address(&work, at(10)).await.unwrap();
    let foreign = store.set_preferred_address(bob.id, &work).await;
    assert!(matches!(foreign, Err(Error::Conflict(_))), "{foreign:?}");
    let unknown = store
        .set_preferred_address(anne.id, &email("nobody@x.example"))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    let no_user = store.set_preferred_address(Uuid::now_v7(), &work).await;
    assert!(matches!(no_user, Err(Error::NotFound(_))), "{no_user:?}");
    store.set_preferred_address(anne.id, &work).await.unwrap();
    let got = store.user(anne.id).await.unwrap().unwrap();
    assert_eq!(
        got.preferred_address.map(|a| a.to_string()).as_deref(),
        Some("Anne@Work.example")
    );
    assert!(store.clear_preferred_address(anne.id).await.unwrap());
    assert_eq!(
        store
            .user(anne.id)
            .await
            .unwrap()
            .unwrap()
            .preferred_address,
        None
    );
    store.set_preferred_address(anne.id, &work).await.unwrap();

    // Members carry the user of their address.
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["anne@work.example"],
    )
    .await;
    let member = &store.members(&list("dev@a.example"), None).await.unwrap()[0];
    assert_eq!(member.user_id, Some(anne.id));

    // Unlinking also drops the preferred address; the address and membership stay.
    assert!(
        store
            .unlink_address(&email("ANNE@work.example"))
            .await
            .unwrap()
    );
    assert!(!store.unlink_address(&work).await.unwrap());
    assert!(
        !store
            .unlink_address(&email("nobody@x.example"))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .user(anne.id)
            .await
            .unwrap()
            .unwrap()
            .preferred_address,
        None
    );
    assert_eq!(
        emails(store.user_addresses(anne.id).await.unwrap()),
        ["anne@x.example"]
    );
    let member = &store.members(&list("dev@a.example"), None).await.unwrap()[0];
    assert_eq!(member.user_id, None);
    store.link_address(bob.id, &work).await.unwrap();
    assert_eq!(
        store.user_by_email(&work).await.unwrap().unwrap().id,
        bob.id
    );
}

async fn preferences_of_users_and_addresses_are_replaced(db: TestDb) {
    let store = db.open().await;
    let anne = new_user(&store, Some("anne@x.example"), "Anne").await;
    let all = Preferences {
        acknowledge_posts: Some(true),
        hide_address: Some(false),
        preferred_language: Some("fr".into()),
        receive_list_copy: Some(false),
        receive_own_postings: Some(true),
        delivery_mode: Some(DeliveryMode::MimeDigests),
        delivery_status: Some(DeliveryStatus::ByUser),
    };
    assert!(store.set_user_preferences(anne.id, &all).await.unwrap());
    assert_eq!(store.user(anne.id).await.unwrap().unwrap().preferences, all);
    assert!(
        !store
            .set_user_preferences(Uuid::now_v7(), &all)
            .await
            .unwrap()
    );

    let anne_at = email("Anne@x.example");
    assert_eq!(
        store.address_preferences(&anne_at).await.unwrap(),
        Some(Preferences::default()),
        "the user's preferences are not the address's"
    );
    let some = Preferences {
        hide_address: Some(true),
        delivery_mode: Some(DeliveryMode::Regular),
        ..Preferences::default()
    };
    assert!(
        store
            .set_address_preferences(&anne_at, &some)
            .await
            .unwrap()
    );
    assert_eq!(
        store.address_preferences(&anne_at).await.unwrap(),
        Some(some.clone())
    );
    assert_eq!(
        store.address(&anne_at).await.unwrap().unwrap().preferences,
        some
    );
    assert!(
        store
            .set_address_preferences(&anne_at, &Preferences::default())
            .await
            .unwrap()
    );
    assert_eq!(
        store.address_preferences(&anne_at).await.unwrap(),
        Some(Preferences::default())
    );
    let nobody = email("nobody@x.example");
    assert!(!store.set_address_preferences(&nobody, &some).await.unwrap());
    assert_eq!(store.address_preferences(&nobody).await.unwrap(), None);
}

async fn addresses_are_created_paged_verified_and_deleted(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example"]).await;
    let carl = store
        .create_address(&email("Carl@X.example"), Some("Carl"))
        .await
        .unwrap();
    assert_eq!(
        store.address(&email("carl@x.example")).await.unwrap(),
        Some(carl.clone())
    );
    let again = store.create_address(&email("CARL@x.example"), None).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(
        store.address(&email("nobody@x.example")).await.unwrap(),
        None
    );

    let mut all = vec![carl.clone()];
    for who in ["dora@x.example", "eve@x.example"] {
        all.push(store.create_address(&email(who), None).await.unwrap());
    }
    all.sort_by_key(|a| (a.registered_on, a.id));
    assert_eq!(store.addresses_page(0, 10).await.unwrap(), (all.clone(), 3));
    assert_eq!(
        store.addresses_page(1, 1).await.unwrap(),
        (all[1..2].to_vec(), 3)
    );
    assert_eq!(store.addresses_page(3, 1).await.unwrap(), (vec![], 3));

    // Verification is set as given (later or earlier) and cleared.
    let dora = email("dora@x.example");
    assert!(store.set_verified(&dora, Some(at(30))).await.unwrap());
    assert!(store.set_verified(&dora, Some(at(40))).await.unwrap());
    assert_eq!(
        store.address_verified_on(&dora).await.unwrap(),
        Some(at(40))
    );
    assert!(store.set_verified(&dora, None).await.unwrap());
    assert_eq!(
        store.address(&dora).await.unwrap().unwrap().verified_on,
        None
    );
    assert!(
        !store
            .set_verified(&email("nobody@x.example"), Some(at(1)))
            .await
            .unwrap()
    );

    // Deleting an address removes its memberships (a change the daemon must see) and makes
    // its user's preferred address unset.
    let user = new_user(&store, None, "Dora").await;
    store.link_address(user.id, &dora).await.unwrap();
    store.set_verified(&dora, Some(at(50))).await.unwrap();
    store.set_preferred_address(user.id, &dora).await.unwrap();
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["dora@x.example", "eve@x.example"],
    )
    .await;
    add(
        &store,
        "ops@a.example",
        MemberRole::Owner,
        &["dora@x.example"],
    )
    .await;
    let before = store.change_counter().await.unwrap();
    assert!(
        store
            .delete_address(&email("DORA@x.example"))
            .await
            .unwrap()
    );
    assert!(store.change_counter().await.unwrap() > before);
    assert_eq!(store.address(&dora).await.unwrap(), None);
    assert_eq!(
        store
            .member_count(&list("dev@a.example"), None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .member_count(&list("ops@a.example"), None)
            .await
            .unwrap(),
        0
    );
    let user = store.user(user.id).await.unwrap().unwrap();
    assert_eq!(user.preferred_address, None);
    assert!(store.user_addresses(user.id).await.unwrap().is_empty());
    assert!(!store.delete_address(&dora).await.unwrap());
    // An address without memberships goes without a bump.
    let before = store.change_counter().await.unwrap();
    assert!(
        store
            .delete_address(&email("carl@x.example"))
            .await
            .unwrap()
    );
    assert_eq!(store.change_counter().await.unwrap(), before);
    assert_eq!(store.addresses_page(0, 10).await.unwrap().1, 1);
}

async fn domains_have_owners_and_are_updated(db: TestDb) {
    let store = db.open().await;
    let (a, b) = (domain("a.example"), domain("b.example"));
    store.add_domain(&a, None, "A").await.unwrap();
    store
        .add_domain(&b, Some(&domain("alias.b.example")), "")
        .await
        .unwrap();
    let anne = new_user(&store, Some("anne@x.example"), "Anne").await;
    let bob = new_user(&store, None, "Bob").await;

    assert!(store.domain_owners(&a).await.unwrap().is_empty());
    assert!(store.add_domain_owner(&a, bob.id).await.unwrap());
    assert!(store.add_domain_owner(&a, anne.id).await.unwrap());
    assert!(
        !store.add_domain_owner(&a, anne.id).await.unwrap(),
        "already"
    );
    assert!(store.add_domain_owner(&b, anne.id).await.unwrap());
    let mut expected = vec![anne.clone(), bob.clone()];
    expected.sort_by_key(|u| (u.created_on, u.id));
    assert_eq!(store.domain_owners(&a).await.unwrap(), expected);
    let missing = store.domain_owners(&domain("c.example")).await;
    assert!(
        matches!(missing, Err(Error::DomainNotFound(_))),
        "{missing:?}"
    );
    let missing = store.add_domain_owner(&domain("c.example"), anne.id).await;
    assert!(
        matches!(missing, Err(Error::DomainNotFound(_))),
        "{missing:?}"
    );
    let ghost = store.add_domain_owner(&a, Uuid::now_v7()).await;
    assert!(matches!(ghost, Err(Error::NotFound(_))), "{ghost:?}");

    assert!(store.remove_domain_owner(&a, bob.id).await.unwrap());
    assert!(!store.remove_domain_owner(&a, bob.id).await.unwrap());
    assert_eq!(store.domain_owners(&a).await.unwrap(), vec![anne.clone()]);
    assert_eq!(store.remove_domain_owners(&a).await.unwrap(), 1);
    assert_eq!(store.remove_domain_owners(&a).await.unwrap(), 0);
    assert_eq!(store.domain_owners(&b).await.unwrap(), vec![anne.clone()]);

    // Updates: description, alias set and removed; refusals change nothing.
    let before = store.change_counter().await.unwrap();
    let alias = domain("alias.a.example");
    assert!(
        store
            .update_domain(&a, Some("Lists of A"), Some(Some(&alias)))
            .await
            .unwrap()
    );
    assert!(store.change_counter().await.unwrap() > before);
    let got = store.domain(&a).await.unwrap();
    assert_eq!(got.description, "Lists of A");
    assert_eq!(got.alias_domain, Some(alias.clone()));
    assert!(
        store
            .update_domain(&a, None, Some(Some(&alias)))
            .await
            .unwrap(),
        "same alias"
    );
    let taken = store
        .update_domain(&a, None, Some(Some(&domain("alias.b.example"))))
        .await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    let host = store.update_domain(&a, None, Some(Some(&b))).await;
    assert!(matches!(host, Err(Error::Conflict(_))), "{host:?}");
    let own = store.update_domain(&a, None, Some(Some(&a))).await;
    assert!(matches!(own, Err(Error::Invalid(_))), "{own:?}");
    assert!(store.update_domain(&a, None, Some(None)).await.unwrap());
    let got = store.domain(&a).await.unwrap();
    assert_eq!(
        (got.description.as_str(), got.alias_domain),
        ("Lists of A", None)
    );
    assert!(
        !store
            .update_domain(&domain("c.example"), Some("x"), None)
            .await
            .unwrap()
    );

    // Removing a domain removes its owners, not the users.
    store.remove_domain(&b, false).await.unwrap();
    assert!(store.user(anne.id).await.unwrap().is_some());
    store.add_domain(&b, None, "").await.unwrap();
    assert!(store.domain_owners(&b).await.unwrap().is_empty());
}

/// `/users/find`: the text is found in a user's name or an address's email or name, in any
/// case and literally (`%` and `_` are not wildcards), each user once.
async fn users_are_found_by_name_or_address(db: TestDb) {
    let store = db.open().await;
    let anne = new_user(&store, Some("anne@x.example"), "Anne Person").await;
    let bob = new_user(&store, Some("bob@y.example"), "Bob 100%").await;
    let carl = new_user(&store, Some("carl_b@x.example"), "Carl").await;
    let found = async |text: &str| -> (Vec<Uuid>, u64) {
        let (users, total) = store.find_users(text, 0, 10).await.unwrap();
        (users.iter().map(|u| u.id).collect(), total)
    };
    assert_eq!(found("PERSON").await, (vec![anne.id], 1));
    assert_eq!(found("x.EXAMPLE").await, (vec![anne.id, carl.id], 2));
    assert_eq!(found("100%").await, (vec![bob.id], 1));
    assert_eq!(found("_").await, (vec![carl.id], 1));
    assert_eq!(found("%").await, (vec![bob.id], 1));
    assert_eq!(found("nobody").await, (vec![], 0));
    // Two matching addresses still find the user once.
    store
        .link_address(anne.id, &email("anne@z.example"))
        .await
        .unwrap();
    assert_eq!(found("anne@").await, (vec![anne.id], 1));
    let (page, total) = store.find_users("example", 1, 1).await.unwrap();
    assert_eq!((page.len(), page[0].id, total), (1, bob.id, 3));
}

mailcast_store::backend_tests!(
    users_are_created_read_and_paged,
    creating_a_user_reuses_a_free_address_and_refuses_a_taken_one,
    users_are_updated_and_deleted,
    deleting_a_user_with_its_addresses_removes_their_memberships,
    addresses_are_linked_and_one_is_preferred,
    preferences_of_users_and_addresses_are_replaced,
    addresses_are_created_paged_verified_and_deleted,
    domains_have_owners_and_are_updated,
    users_are_found_by_name_or_address,
);
