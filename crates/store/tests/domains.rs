//! Domains: add, get, list, remove, and every refusal.

mod fixture;

use fixture::{add, domain, list, store_with};
use mailcast_model::MemberRole;
use mailcast_store::Error;
use mailcast_store::testing::TestDb;

async fn domains_are_added_listed_and_read_back(db: TestDb) {
    let store = db.open().await;
    let b = store
        .add_domain(
            &domain("B.example"),
            Some(&domain("alias.b.example")),
            "Bee lists",
        )
        .await
        .unwrap();
    store
        .add_domain(&domain("a.example"), None, "")
        .await
        .unwrap();
    assert_eq!(b.mail_host.as_str(), "b.example");

    let got = store.domain(&domain("b.example")).await.unwrap();
    assert_eq!(got, b);
    assert_eq!(
        got.alias_domain.as_ref().map(|d| d.as_str()),
        Some("alias.b.example")
    );
    assert_eq!(got.description, "Bee lists");

    let all: Vec<String> = store
        .domains()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.mail_host.to_string())
        .collect();
    assert_eq!(all, ["a.example", "b.example"]);
}

async fn duplicate_domains_and_aliases_conflict(db: TestDb) {
    let store = db.open().await;
    store
        .add_domain(&domain("a.example"), Some(&domain("alias.example")), "")
        .await
        .unwrap();
    for (host, alias) in [
        ("a.example", None),
        ("A.EXAMPLE", None),
        ("alias.example", None),
        ("c.example", Some("alias.example")),
        ("c.example", Some("a.example")),
    ] {
        let alias = alias.map(domain);
        let err = store
            .add_domain(&domain(host), alias.as_ref(), "")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{host} {alias:?}: {err}");
    }
    let err = store
        .add_domain(&domain("c.example"), Some(&domain("c.example")), "")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert_eq!(store.domains().await.unwrap().len(), 1);
}

async fn missing_domains_are_reported(db: TestDb) {
    let store = db.open().await;
    let err = store.domain(&domain("nope.example")).await.unwrap_err();
    assert!(matches!(err, Error::DomainNotFound(d) if d.as_str() == "nope.example"));
    let err = store
        .remove_domain(&domain("nope.example"), false)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DomainNotFound(_)), "{err}");
}

async fn removing_a_domain_with_lists_needs_force(db: TestDb) {
    let store = store_with(&db, &["one@a.example", "two@a.example", "dev@b.example"]).await;
    add(
        &store,
        "one@a.example",
        MemberRole::Member,
        &["x@example.org"],
    )
    .await;

    let err = store
        .remove_domain(&domain("a.example"), false)
        .await
        .unwrap_err();
    match err {
        Error::Conflict(text) => assert!(text.contains("2 mailing lists"), "{text}"),
        other => panic!("expected Conflict, got {other}"),
    }
    assert_eq!(store.lists(None).await.unwrap().len(), 3);

    assert_eq!(
        store
            .remove_domain(&domain("a.example"), true)
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.list(&list("one@a.example")).await,
        Err(Error::NotFound(_))
    ));
    let left: Vec<String> = store
        .lists(None)
        .await
        .unwrap()
        .iter()
        .map(|l| l.address.to_string())
        .collect();
    assert_eq!(left, ["dev@b.example"]);
    // Empty domains go without force.
    store
        .add_domain(&domain("c.example"), None, "")
        .await
        .unwrap();
    assert_eq!(
        store
            .remove_domain(&domain("c.example"), false)
            .await
            .unwrap(),
        0
    );
}

mailcast_store::backend_tests!(
    domains_are_added_listed_and_read_back,
    duplicate_domains_and_aliases_conflict,
    missing_domains_are_reported,
    removing_a_domain_with_lists_needs_force,
);
