//! The schema: both dialects' migrations build the same logical schema, versions are
//! recorded, an older database is upgraded, reopening is harmless, and opening failures are
//! typed.

mod fixture;

use fixture::{domain, list, store_with};
use mailcast_model::MemberRole;
use mailcast_store::testing::TestDb;
use mailcast_store::{Backend, ColumnKind, Error, SCHEMA_VERSION, Store};
use sqlx::{AnyConnection, Connection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_produce_the_same_logical_schema() {
    let sqlite = TestDb::new(Backend::Sqlite).await.unwrap();
    let Some(postgres) = TestDb::new(Backend::Postgres).await else {
        return; // Skipped with a warning (outside CI) when PostgreSQL is not reachable.
    };
    let lite = sqlite.open().await.logical_schema().await.unwrap();
    let pg = postgres.open().await.logical_schema().await.unwrap();

    let tables: Vec<&str> = lite.tables.keys().map(String::as_str).collect();
    assert_eq!(
        tables,
        [
            "address",
            "autoresponse_record",
            "ban",
            "bounce_event",
            "bounce_probe",
            "change_counter",
            "digest_issue",
            "digest_last",
            "digest_post",
            "domain",
            "domain_owner",
            "held_message",
            "mailcast_schema",
            "mailinglist",
            "member",
            "member_tally",
            "pending_request",
            "template",
            "user",
        ]
    );
    for (table, columns) in &lite.tables {
        assert_eq!(Some(columns), pg.tables.get(table), "table {table} differs");
        for column in columns {
            assert_ne!(
                column.kind,
                ColumnKind::Other,
                "{table}.{} is not portable",
                column.name
            );
        }
    }
    assert_eq!(lite.tables.len(), pg.tables.len());
    assert_eq!(lite.indexes, pg.indexes);
    for index in [
        "member_list_address_role_key",
        "pending_request_list_kind_email_key",
        "template_scope_name_key",
        "held_message_token_key",
        "member_roster_idx",
    ] {
        assert!(lite.indexes.contains(index), "{index}");
    }
}

async fn schema_version_is_recorded_and_reopening_keeps_data(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    store.close().await;
    let again = db.open().await;
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(again.lists(None).await.unwrap().len(), 1);
    assert_eq!(again.backend(), db.backend());
}

/// A database left at schema 1 by an older build, with a held post in it, is upgraded on
/// open: the post keeps its request id and gets no token, node or decision.
async fn a_schema_1_database_is_upgraded_keeping_its_holds(db: TestDb) {
    let (url, initial) = match db.backend() {
        Backend::Sqlite => (
            format!("{}?mode=rwc", db.url()),
            include_str!("../migrations/sqlite/0001_initial.sql"),
        ),
        Backend::Postgres => (
            db.url().to_string(),
            include_str!("../migrations/postgres/0001_initial.sql"),
        ),
    };
    let mut conn = AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(initial).execute(&mut conn).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE mailcast_schema (version BIGINT NOT NULL PRIMARY KEY, \
         name TEXT NOT NULL, applied_at BIGINT NOT NULL); \
         INSERT INTO mailcast_schema (version, name, applied_at) VALUES (1, 'initial', 0); \
         INSERT INTO domain (mail_host, created_at) VALUES ('a.example', 0); \
         INSERT INTO mailinglist (id, list_name, mail_host, list_id, settings, created_at) \
         VALUES ('0123456789abcdef0123456789abcdef', 'dev', 'a.example', 'dev.a.example', '{}', 0); \
         INSERT INTO held_message (id, mailinglist_id, spool_id, sender, subject, message_id, \
         reasons, held_at) VALUES (7, '0123456789abcdef0123456789abcdef', 's1', 'a@x.example', \
         'old', '<m@x>', '[\"why\"]', 0); \
         INSERT INTO address (id, email, original_email, registered_on) VALUES \
         ('00000000000000000000000000000a01', 'bea@x.example', 'bea@x.example', 0), ('00000000000000000000000000000a02', 'al@x.example', 'al@x.example', 0); \
         INSERT INTO member (id, mailinglist_id, address_id, role, subscribed_at) VALUES \
         ('00000000000000000000000000000b01', '0123456789abcdef0123456789abcdef', '00000000000000000000000000000a01', 'member', 0), \
         ('00000000000000000000000000000b02', '0123456789abcdef0123456789abcdef', '00000000000000000000000000000a02', 'member', 0), \
         ('00000000000000000000000000000b03', '0123456789abcdef0123456789abcdef', '00000000000000000000000000000a01', 'owner', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = db.open().await;
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    let dev = list("dev@a.example");
    let old = store.get_held(&dev, 7).await.unwrap();
    assert_eq!(old.list, dev);
    assert_eq!(old.message.subject, "old");
    assert_eq!(old.message.reasons, ["why"]);
    assert_eq!(
        (old.message.token.as_str(), old.message.node.as_str()),
        ("", "")
    );
    assert_eq!(old.decision, None);
    let err = store.held_by_token("").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    // Schema 4 copied each member's address and counted the rosters.
    assert_eq!(store.member_count(&dev, None).await.unwrap(), 3);
    assert_eq!(
        store
            .member_count(&dev, Some(MemberRole::Member))
            .await
            .unwrap(),
        2
    );
    let roster = store
        .members_page(&dev, Some(MemberRole::Member), 0, 10)
        .await
        .unwrap();
    let emails: Vec<&str> = roster.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(emails, ["al@x.example", "bea@x.example"]);
}

async fn simultaneous_first_opens_migrate_once(db: TestDb) {
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_string();
            tokio::spawn(async move { Store::open(&url).await })
        })
        .collect();
    for open in opens {
        let store = open.await.unwrap().unwrap();
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    }
}

#[tokio::test]
async fn sqlite_is_created_with_its_directory_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var/nested/mailcast.db");
    let store = Store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    store
        .add_domain(&domain("a.example"), None, "")
        .await
        .unwrap();
    assert!(path.is_file());
    assert!(
        dir.path().join("var/nested/mailcast.db-wal").is_file(),
        "not in WAL mode"
    );
    assert_eq!(store.backend(), Backend::Sqlite);
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_without_the_password() {
    let err = Store::open("postgres://mailcast:s3cret@127.0.0.1:1/mailcast")
        .await
        .unwrap_err();
    match err {
        Error::Unavailable { url_redacted, .. } => {
            assert_eq!(url_redacted, "postgres://mailcast:***@127.0.0.1:1/mailcast");
        }
        other => panic!("expected Unavailable, got {other}"),
    }
}

#[tokio::test]
async fn unsupported_urls_are_invalid() {
    for url in ["mysql://h/db", "var/mailcast.db", "sqlite::memory:"] {
        let err = Store::open(url).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{url}: {err}");
    }
}

mailcast_store::backend_tests!(
    schema_version_is_recorded_and_reopening_keeps_data,
    a_schema_1_database_is_upgraded_keeping_its_holds,
    simultaneous_first_opens_migrate_once,
);
