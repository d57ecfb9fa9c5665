//! The lists' archiver switches: stored per list, merged on change, in the directory, and
//! visible to the daemon through the change counter.

mod fixture;

use fixture::{list, store_with};
use mailcast_store::testing::TestDb;
use mailcast_store::{ArchiverSwitches, Error};

fn switches(pairs: &[(&str, bool)]) -> ArchiverSwitches {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

async fn switches_are_merged_and_in_the_directory(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example"]).await;
    let dev = list("dev@a.example");
    assert!(store.list_archivers(&dev).await.unwrap().is_empty());
    let before = store.change_counter().await.unwrap();
    let after = store
        .set_list_archivers(&dev, &switches(&[("mbox", false), ("prototype", true)]))
        .await
        .unwrap();
    assert_eq!(after, switches(&[("mbox", false), ("prototype", true)]));
    assert!(store.change_counter().await.unwrap() > before);
    let merged = store
        .set_list_archivers(&dev, &switches(&[("mbox", true)]))
        .await
        .unwrap();
    assert_eq!(merged, switches(&[("mbox", true), ("prototype", true)]));
    assert_eq!(store.list_archivers(&dev).await.unwrap(), merged);

    let dir = store.directory().await.unwrap();
    let find = |name: &str| {
        dir.lists
            .iter()
            .find(|l| l.address.to_string() == name)
            .unwrap()
            .archivers
            .clone()
    };
    assert_eq!(find("dev@a.example"), merged);
    assert!(find("ops@a.example").is_empty());

    let gone = list("nope@a.example");
    assert!(matches!(
        store.list_archivers(&gone).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.set_list_archivers(&gone, &merged).await,
        Err(Error::NotFound(_))
    ));
}

mailcast_store::backend_tests!(switches_are_merged_and_in_the_directory);
