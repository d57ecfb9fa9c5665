//! Opening cheaply, for processes that run once per message (`mailcast inject`): the
//! command footprint reads and writes like the daemon's, a current schema is checked without
//! the migrator (so opening never waits for another writer), a newer one is refused, and the
//! partial directory holds exactly what resolving the given addresses needs.

mod fixture;

use fixture::{domain, list, store_with};
use mailcast_store::testing::TestDb;
use mailcast_store::{Backend, Directory, Error, Footprint, SCHEMA_VERSION, Store};
use sqlx::{AnyConnection, Connection, Executor};

/// The partial directory, as (mail host, alias) and list address strings.
fn shape(directory: &Directory) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let domains = directory
        .domains
        .iter()
        .map(|d| {
            (
                d.mail_host.to_string(),
                d.alias_domain.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    let lists = directory
        .lists
        .iter()
        .map(|l| l.address.to_string())
        .collect();
    (domains, lists)
}

fn owned(
    domains: &[(&str, Option<&str>)],
    lists: &[&str],
) -> (Vec<(String, Option<String>)>, Vec<String>) {
    (
        domains
            .iter()
            .map(|(d, a)| (d.to_string(), a.map(String::from)))
            .collect(),
        lists.iter().map(|l| l.to_string()).collect(),
    )
}

async fn the_partial_directory_holds_only_what_the_addresses_need(db: TestDb) {
    let store = store_with(
        &db,
        &[
            "dev@a.example",
            "dev-bounces@a.example",
            "ops@a.example",
            "dev@b.example",
        ],
    )
    .await;
    store
        .add_domain(&domain("c.example"), Some(&domain("lists.c.example")), "")
        .await
        .unwrap();
    store.create_list(&list("dev@c.example")).await.unwrap();
    let counter = store.change_counter().await.unwrap();

    for (domains, names, expected) in [
        // A post: one domain, one name.
        (
            &["a.example"][..],
            &["dev"][..],
            owned(&[("a.example", None)], &["dev@a.example"]),
        ),
        // `dev-bounces` may be the list of that name or the bounces address of `dev`: both
        // are read, and nothing else of the domain.
        (
            &["a.example"],
            &["dev-bounces", "dev"],
            owned(
                &[("a.example", None)],
                &["dev@a.example", "dev-bounces@a.example"],
            ),
        ),
        // An alias domain brings its mail host and the mail host's lists.
        (
            &["lists.c.example"],
            &["dev"],
            owned(
                &[("c.example", Some("lists.c.example"))],
                &["dev@c.example"],
            ),
        ),
        // Several domains at once (the argument and ORIGINAL_RECIPIENT).
        (
            &["b.example", "c.example"],
            &["dev"],
            owned(
                &[("b.example", None), ("c.example", Some("lists.c.example"))],
                &["dev@b.example", "dev@c.example"],
            ),
        ),
        // Unknown domains and names are simply absent.
        (&["nowhere.example"], &["dev"], owned(&[], &[])),
        (
            &["a.example"],
            &["nosuch"],
            owned(&[("a.example", None)], &[]),
        ),
        (&["a.example"], &[], owned(&[("a.example", None)], &[])),
        (&[], &["dev"], owned(&[], &[])),
    ] {
        let partial = store.directory_for(domains, names).await.unwrap();
        assert_eq!(shape(&partial), expected, "{domains:?} {names:?}");
        assert_eq!(partial.change_counter, counter);
    }

    // What it holds is exactly what the whole directory says about those lists.
    let whole = store.directory().await.unwrap();
    let partial = store.directory_for(&["a.example"], &["dev"]).await.unwrap();
    let same: Vec<_> = whole
        .lists
        .iter()
        .filter(|l| l.address == list("dev@a.example"))
        .collect();
    assert_eq!(partial.lists.iter().collect::<Vec<_>>(), same);
}

async fn a_command_store_reads_and_writes_like_the_daemons(db: TestDb) {
    drop(store_with(&db, &["dev@a.example"]).await);
    let store = Store::open_for_command(db.url()).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    store.create_list(&list("ops@a.example")).await.unwrap();
    let directory = store.directory().await.unwrap();
    assert_eq!(shape(&directory).1, ["dev@a.example", "ops@a.example"]);
    store.close().await;
    let daemon = Store::open_with(db.url(), Footprint::Daemon).await.unwrap();
    assert_eq!(daemon.lists(None).await.unwrap().len(), 2);
}

async fn a_newer_schema_is_refused(db: TestDb) {
    drop(store_with(&db, &[]).await);
    let mut conn = AnyConnection::connect(db.url()).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "INSERT INTO mailcast_schema (version, name, applied_at) VALUES ({}, 'future', 0)",
        SCHEMA_VERSION + 1
    )))
    .await
    .unwrap();
    conn.close().await.unwrap();
    for footprint in [Footprint::Daemon, Footprint::Command] {
        match Store::open_with(db.url(), footprint).await {
            Err(Error::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("{footprint:?}: expected SchemaTooNew, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn opening_a_current_database_does_not_wait_for_a_writer() {
    // The migrator takes SQLite's write lock; a current schema must not need it, or every
    // `mailcast inject` would queue behind the daemon's writes (and time out behind a long one).
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    store_with(&db, &["dev@a.example"]).await.close().await;
    let mut writer = AnyConnection::connect(db.url()).await.unwrap();
    writer.execute("BEGIN IMMEDIATE").await.unwrap();
    for footprint in [Footprint::Daemon, Footprint::Command] {
        let store = Store::open_with(db.url(), footprint).await.unwrap();
        let partial = store.directory_for(&["a.example"], &["dev"]).await.unwrap();
        assert_eq!(partial.lists.len(), 1, "{footprint:?}");
    }
    writer.execute("ROLLBACK").await.unwrap();
}

mailcast_store::backend_tests!(
    the_partial_directory_holds_only_what_the_addresses_need,
    a_command_store_reads_and_writes_like_the_daemons,
    a_newer_schema_is_refused,
);
