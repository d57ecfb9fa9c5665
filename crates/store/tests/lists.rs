//! Lists: creation, refusal, removal (with everything that belongs to the list), settings,
//! post numbers and virtual hosting.

mod fixture;

use fixture::{add, domain, email, list, store_with};
use jiff::Timestamp;
use jiff::civil::date;
use mailcast_model::{Action, DeliveryMode, ListSettings, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{
    Error, HeldMessage, PendingRequest, RequestKind, ResponseKind, TemplateScope, TokenOwner,
};

async fn created_lists_have_mailman_defaults_and_fresh_state(db: TestDb) {
    let store = store_with(&db, &[]).await;
    store
        .add_domain(&domain("a.example"), None, "")
        .await
        .unwrap();
    let created = store.create_list(&list("Dev@A.example")).await.unwrap();
    assert_eq!(created.address.to_string(), "dev@a.example");
    assert_eq!(created.list_id, "dev.a.example");
    assert_eq!(
        created.settings,
        ListSettings::defaults_for(&list("dev@a.example"))
    );
    assert_eq!(created.state.post_id, 1);
    assert_eq!(created.state.volume, 1);
    assert_eq!(created.state.next_digest_number, 1);
    assert_eq!(created.state.last_post_at, None);

    let read = store.list(&list("dev@a.example")).await.unwrap();
    assert_eq!(read, created);
}

async fn bad_list_creations_are_refused(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let err = store
        .create_list(&list("dev@nowhere.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::DomainNotFound(d) if d.as_str() == "nowhere.example"),
        "{err}"
    );

    for again in ["dev@a.example", "DEV@a.example", "Dev@A.Example"] {
        let err = store.create_list(&list(again)).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{again}: {err}");
    }

    // `x.y@a.example` and `x@y.a.example` would share the List-Id `x.y.a.example`.
    store
        .add_domain(&domain("y.a.example"), None, "")
        .await
        .unwrap();
    store.create_list(&list("x.y@a.example")).await.unwrap();
    let err = store.create_list(&list("x@y.a.example")).await.unwrap_err();
    match err {
        Error::Conflict(text) => assert!(text.contains("List-Id"), "{text}"),
        other => panic!("expected Conflict, got {other}"),
    }
    assert_eq!(store.lists(None).await.unwrap().len(), 2);
}

async fn removing_a_list_removes_its_members_and_holds(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["x@example.org"],
    )
    .await;
    let held = HeldMessage {
        spool_id: "s1".into(),
        sender: "x@example.org".into(),
        subject: "hi".into(),
        message_id: "<1@example.org>".into(),
        reasons: vec!["because".into()],
        token: String::new(),
        node: String::new(),
    };
    store.hold(&dev, &held).await.unwrap();
    store.add_ban(Some(&dev), "bad@example.org").await.unwrap();

    store.remove_list(&dev).await.unwrap();
    assert!(matches!(store.list(&dev).await, Err(Error::NotFound(_))));
    assert!(matches!(
        store.remove_list(&dev).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.members(&dev, None).await,
        Err(Error::NotFound(_))
    ));

    // A new list of the same name starts empty.
    store.create_list(&dev).await.unwrap();
    assert_eq!(store.member_count(&dev, None).await.unwrap(), 0);
    assert!(store.held(&dev).await.unwrap().is_empty());
    assert!(store.bans(Some(&dev)).await.unwrap().is_empty());
}

async fn removing_a_list_removes_its_requests_autoresponses_and_templates(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example"]).await;
    let (dev, ops) = (list("dev@a.example"), list("ops@a.example"));
    let anne = email("anne@x.example");
    for (to, token) in [(&dev, "t-dev"), (&ops, "t-ops")] {
        let request = PendingRequest {
            token: token.into(),
            list: to.clone(),
            kind: RequestKind::Subscription,
            email: anne.clone(),
            display_name: None,
            delivery_mode: DeliveryMode::Regular,
            token_owner: TokenOwner::Subscriber,
            created_at: Timestamp::UNIX_EPOCH,
            expires_at: Timestamp::from_second(4_000_000_000).unwrap(),
        };
        store.add_request(&request).await.unwrap();
        store
            .note_autoresponse(to, &anne, ResponseKind::Hold, date(2024, 6, 1))
            .await
            .unwrap();
        store
            .set_template(
                &TemplateScope::List(to.clone()),
                "t",
                "file:///t",
                "t",
                None,
            )
            .await
            .unwrap();
    }
    store
        .set_template(&TemplateScope::Site, "t", "file:///t", "site", None)
        .await
        .unwrap();

    store.remove_list(&dev).await.unwrap();
    assert!(matches!(
        store.request("t-dev").await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.request("t-ops").await.unwrap().list, ops);
    let scopes: Vec<TemplateScope> = store
        .templates(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.scope)
        .collect();
    assert_eq!(
        scopes,
        [TemplateScope::Site, TemplateScope::List(ops.clone())]
    );

    // A new list of the same name starts with none of them.
    store.create_list(&dev).await.unwrap();
    assert!(store.requests(&dev, None).await.unwrap().is_empty());
    assert_eq!(
        store
            .last_autoresponse(&dev, &anne, ResponseKind::Hold)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .last_autoresponse(&ops, &anne, ResponseKind::Hold)
            .await
            .unwrap(),
        Some(date(2024, 6, 1))
    );
    assert!(
        store
            .template(&TemplateScope::List(dev.clone()), "t")
            .await
            .unwrap()
            .is_none()
    );
}

async fn lists_are_listed_per_domain_in_order(db: TestDb) {
    let store = store_with(
        &db,
        &["zeta@a.example", "alpha@b.example", "beta@a.example"],
    )
    .await;
    let names = |lists: Vec<mailcast_store::MailingList>| {
        lists
            .iter()
            .map(|l| l.address.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.lists(None).await.unwrap()),
        ["beta@a.example", "zeta@a.example", "alpha@b.example"]
    );
    assert_eq!(
        names(store.lists(Some(&domain("a.example"))).await.unwrap()),
        ["beta@a.example", "zeta@a.example"]
    );
    let err = store.lists(Some(&domain("c.example"))).await.unwrap_err();
    assert!(matches!(err, Error::DomainNotFound(_)), "{err}");
}

async fn settings_are_replaced_and_read_back(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let mut settings = store.list(&dev).await.unwrap().settings;
    settings
        .set_from_str("default_nonmember_action", "reject")
        .unwrap();
    settings
        .set_from_str("subject_prefix", "[dev %d] ")
        .unwrap();
    settings.set_from_str("max_message_size", "0").unwrap();
    store.set_settings(&dev, &settings).await.unwrap();

    let read = store.list(&dev).await.unwrap().settings;
    assert_eq!(read, settings);
    assert_eq!(read.default_nonmember_action, Action::Reject);

    let err = store
        .set_settings(&list("nope@a.example"), &settings)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn post_numbers_count_up_from_one(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "other@a.example"]).await;
    let dev = list("dev@a.example");
    for expected in 1..=3 {
        assert_eq!(store.next_post_number(&dev).await.unwrap(), expected);
    }
    assert_eq!(
        store
            .next_post_number(&list("other@a.example"))
            .await
            .unwrap(),
        1
    );
    let state = store.list(&dev).await.unwrap().state;
    assert_eq!(state.post_id, 4);
    assert!(state.last_post_at.is_some());
    let err = store
        .next_post_number(&list("nope@a.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

async fn same_name_in_two_domains_are_independent_lists(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "dev@b.example"]).await;
    let (a, b) = (list("dev@a.example"), list("dev@b.example"));
    let mut settings = store.list(&a).await.unwrap().settings;
    settings.set_from_str("subject_prefix", "[A] ").unwrap();
    store.set_settings(&a, &settings).await.unwrap();
    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["ann@example.org", "bob@example.org"],
    )
    .await;
    add(
        &store,
        "dev@b.example",
        MemberRole::Member,
        &["bob@example.org"],
    )
    .await;
    store.next_post_number(&a).await.unwrap();

    let (la, lb) = (store.list(&a).await.unwrap(), store.list(&b).await.unwrap());
    assert_ne!(la.id, lb.id);
    assert_eq!(la.settings.subject_prefix.0, "[A] ");
    assert_eq!(lb.settings.subject_prefix.0, "[Dev] ");
    assert_eq!((la.state.post_id, lb.state.post_id), (2, 1));
    assert_eq!(store.member_count(&a, None).await.unwrap(), 2);
    assert_eq!(store.member_count(&b, None).await.unwrap(), 1);
    assert!(
        store
            .member(&b, &email("ann@example.org"))
            .await
            .unwrap()
            .is_empty()
    );

    store.remove_list(&a).await.unwrap();
    assert_eq!(store.member_count(&b, None).await.unwrap(), 1);
}

mailcast_store::backend_tests!(
    created_lists_have_mailman_defaults_and_fresh_state,
    bad_list_creations_are_refused,
    removing_a_list_removes_its_members_and_holds,
    removing_a_list_removes_its_requests_autoresponses_and_templates,
    lists_are_listed_per_domain_in_order,
    settings_are_replaced_and_read_back,
    post_numbers_count_up_from_one,
    same_name_in_two_domains_are_independent_lists,
);
