//! Template overrides: setting, replacing and removing per scope, listing in order, and the
//! overrides that apply to a list (list, then domain, then site).

mod fixture;

use fixture::{domain, list, store_with};
use mailcast_store::testing::TestDb;
use mailcast_store::{Error, TemplateRecord, TemplateScope};

const WELCOME: &str = "list:user:notice:welcome";

fn site() -> TemplateScope {
    TemplateScope::Site
}

fn in_domain(d: &str) -> TemplateScope {
    TemplateScope::Domain(domain(d))
}

fn in_list(l: &str) -> TemplateScope {
    TemplateScope::List(list(l))
}

/// (scope, name, text) of each record.
fn shape(records: &[TemplateRecord]) -> Vec<(TemplateScope, &str, &str)> {
    records
        .iter()
        .map(|r| (r.scope.clone(), r.name.as_str(), r.text.as_str()))
        .collect()
}

async fn templates_are_set_replaced_and_removed_per_scope(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    for scope in [site(), in_domain("a.example"), in_list("dev@a.example")] {
        store
            .set_template(&scope, WELCOME, "https://t.example/w", "Welcome!", None)
            .await
            .unwrap();
    }
    let got = store.template(&site(), WELCOME).await.unwrap().unwrap();
    assert_eq!(got.scope, site());
    assert_eq!(
        (
            got.uri.as_str(),
            got.text.as_str(),
            &got.username,
            &got.password
        ),
        ("https://t.example/w", "Welcome!", &None, &None)
    );

    // Setting again replaces, with credentials this time.
    store
        .set_template(
            &in_domain("a.example"),
            WELCOME,
            "https://t.example/w2",
            "Hello, {member}",
            Some(("fetcher", "s3cret")),
        )
        .await
        .unwrap();
    let records = store
        .templates(Some(&in_domain("a.example")))
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let replaced = &records[0];
    assert_eq!(replaced.scope, in_domain("a.example"));
    assert_eq!(replaced.uri, "https://t.example/w2");
    assert_eq!(replaced.text, "Hello, {member}");
    assert_eq!(replaced.username.as_deref(), Some("fetcher"));
    assert_eq!(replaced.password.as_deref(), Some("s3cret"));
    assert!(replaced.updated_at >= got.updated_at);
    assert_eq!(
        store
            .template(&in_list("dev@a.example"), WELCOME)
            .await
            .unwrap()
            .map(|r| r.text),
        Some("Welcome!".to_string()),
        "other scopes are untouched"
    );
    assert_eq!(
        store
            .template(&in_domain("a.example"), "list:member:digest:header")
            .await
            .unwrap(),
        None
    );

    assert!(store.remove_template(&site(), WELCOME).await.unwrap());
    assert!(!store.remove_template(&site(), WELCOME).await.unwrap());
    assert_eq!(store.template(&site(), WELCOME).await.unwrap(), None);
    assert_eq!(store.templates(None).await.unwrap().len(), 2);

    let err = store
        .set_template(&in_list("nope@a.example"), WELCOME, "file:///w", "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store
        .template(&in_domain("b.example"), WELCOME)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DomainNotFound(_)), "{err}");
    let err = store
        .remove_template(&in_list("nope@a.example"), WELCOME)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let err = store
        .set_template(&site(), " ", "file:///w", "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");

    // Removing the domain (with its lists) removes their overrides.
    store
        .remove_domain(&domain("a.example"), true)
        .await
        .unwrap();
    assert!(store.templates(None).await.unwrap().is_empty());
}

async fn templates_are_listed_by_scope_then_name(db: TestDb) {
    let store = store_with(&db, &["dev@b.example", "dev@a.example"]).await;
    let made = [
        (in_list("dev@b.example"), "b"),
        (in_list("dev@a.example"), "a2"),
        (in_list("dev@a.example"), "a1"),
        (in_domain("b.example"), "z"),
        (in_domain("a.example"), "y"),
        (site(), "m"),
        (site(), "c"),
    ];
    for (scope, name) in &made {
        store
            .set_template(scope, name, "file:///t", name, None)
            .await
            .unwrap();
    }
    let all = store.templates(None).await.unwrap();
    assert_eq!(
        shape(&all),
        [
            (site(), "c", "c"),
            (site(), "m", "m"),
            (in_domain("a.example"), "y", "y"),
            (in_domain("b.example"), "z", "z"),
            (in_list("dev@a.example"), "a1", "a1"),
            (in_list("dev@a.example"), "a2", "a2"),
            (in_list("dev@b.example"), "b", "b"),
        ]
    );
    assert_eq!(
        shape(
            &store
                .templates(Some(&in_list("dev@a.example")))
                .await
                .unwrap()
        ),
        [
            (in_list("dev@a.example"), "a1", "a1"),
            (in_list("dev@a.example"), "a2", "a2"),
        ]
    );
    assert_eq!(
        shape(&store.templates(Some(&site())).await.unwrap()),
        [(site(), "c", "c"), (site(), "m", "m")]
    );
}

async fn a_lists_overrides_are_its_own_then_its_domains_then_the_sites(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example", "dev@b.example"]).await;
    let made = [
        (site(), "x", "site x"),
        (site(), "y", "site y"),
        (site(), "z", "site z"),
        (in_domain("a.example"), "y", "a y"),
        (in_domain("a.example"), "z", "a z"),
        (in_domain("b.example"), "x", "b x"),
        (in_list("dev@a.example"), "z", "dev z"),
        (in_list("ops@a.example"), "y", "ops y"),
    ];
    for (scope, name, text) in &made {
        store
            .set_template(scope, name, "file:///t", text, None)
            .await
            .unwrap();
    }
    let effective = store
        .templates_for_list(&list("dev@a.example"))
        .await
        .unwrap();
    assert_eq!(
        shape(&effective),
        [
            (site(), "x", "site x"),
            (in_domain("a.example"), "y", "a y"),
            (in_list("dev@a.example"), "z", "dev z"),
        ]
    );
    assert_eq!(
        shape(
            &store
                .templates_for_list(&list("ops@a.example"))
                .await
                .unwrap()
        ),
        [
            (site(), "x", "site x"),
            (in_list("ops@a.example"), "y", "ops y"),
            (in_domain("a.example"), "z", "a z"),
        ]
    );
    assert_eq!(
        shape(
            &store
                .templates_for_list(&list("dev@b.example"))
                .await
                .unwrap()
        ),
        [
            (in_domain("b.example"), "x", "b x"),
            (site(), "y", "site y"),
            (site(), "z", "site z"),
        ]
    );
    let err = store
        .templates_for_list(&list("nope@a.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

mailcast_store::backend_tests!(
    templates_are_set_replaced_and_removed_per_scope,
    templates_are_listed_by_scope_then_name,
    a_lists_overrides_are_its_own_then_its_domains_then_the_sites,
);
