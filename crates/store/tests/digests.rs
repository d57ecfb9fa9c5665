//! Digests in the store: posts are added once, a digest closes only when its trigger fires,
//! takes every waiting post and the numbers before the bump, is claimed by one node at a time
//! (a stale claim is taken over), and its posts go when it is sent.

mod fixture;

use fixture::{add, email, list, store_with};
use jiff::SignedDuration;
use mailcast_model::{DeliveryMode, MemberRole};
use mailcast_store::testing::TestDb;
use mailcast_store::{DigestBacklog, DigestNumbers, DigestTrigger};

fn next(n: DigestNumbers, at: jiff::Timestamp) -> DigestNumbers {
    DigestNumbers {
        volume: n.volume,
        next_number: n.next_number + 1,
        last_sent_at: Some(at),
    }
}

async fn posts_accumulate_once_and_close_into_one_digest(db: TestDb) {
    let store = store_with(&db, &["dev@a.example", "ops@a.example"]).await;
    let (dev, ops) = (list("dev@a.example"), list("ops@a.example"));
    assert!(
        store
            .add_digest_post(&dev, "e1", b"Subject: one\r\n\r\n1\r\n")
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_digest_post(&dev, "e1", b"Subject: one\r\n\r\n1\r\n")
            .await
            .unwrap()
    );
    assert!(
        store
            .add_digest_post(&dev, "e2", &[b'x'; 600])
            .await
            .unwrap()
    );
    assert!(
        store
            .add_digest_post(&ops, "e1", b"other list")
            .await
            .unwrap()
    );
    let backlog = store.digest_backlog(&dev).await.unwrap();
    assert_eq!(
        backlog,
        DigestBacklog {
            posts: 2,
            bytes: 19 + 600,
            oldest: backlog.oldest,
        }
    );
    let oldest = backlog.oldest.expect("posts wait");

    // Posts waiting since before the periodic send time close the digest; a send time
    // before every waiting post does not.
    assert!(
        store
            .lists_with_digest_waiting_since(oldest)
            .await
            .unwrap()
            .is_empty()
    );
    let later = oldest + jiff::SignedDuration::from_micros(1);
    assert_eq!(
        store.lists_with_digest_waiting_since(later).await.unwrap(),
        std::slice::from_ref(&dev),
        "ops's post came later"
    );
    assert_eq!(
        store
            .close_digest(&dev, DigestTrigger::WaitingSince(oldest), next)
            .await
            .unwrap(),
        None
    );

    // 1 KiB not reached; a threshold of 0 never fires.
    for trigger in [DigestTrigger::Size(1.0), DigestTrigger::Size(0.0)] {
        assert_eq!(store.close_digest(&dev, trigger, next).await.unwrap(), None);
    }
    let issue = store
        .close_digest(&dev, DigestTrigger::Size(0.5), next)
        .await
        .unwrap()
        .expect("512 bytes reached");
    assert_eq!((issue.volume, issue.number), (1, 1));
    let numbers = store.digest_numbers(&dev).await.unwrap();
    assert_eq!((numbers.volume, numbers.next_number), (1, 2));
    assert_eq!(numbers.last_sent_at, Some(issue.closed_at));
    assert_eq!(
        store.digest_backlog(&dev).await.unwrap(),
        DigestBacklog::default()
    );
    // Nothing waits now: forcing closes nothing.
    assert_eq!(
        store
            .close_digest(&dev, DigestTrigger::Force, next)
            .await
            .unwrap(),
        None
    );
    // A post of the closed digest's source is not added again to the next one.
    assert!(!store.add_digest_post(&dev, "e2", b"again").await.unwrap());

    let posts = store.digest_posts(issue.id).await.unwrap();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0], b"Subject: one\r\n\r\n1\r\n");

    // One node claims it; a second finds nothing until the lease runs out.
    let lease = SignedDuration::from_secs(600);
    let claimed = store.claim_digest("node-a", lease).await.unwrap().unwrap();
    assert_eq!(claimed, issue);
    assert_eq!(store.claim_digest("node-b", lease).await.unwrap(), None);
    let taken = store
        .claim_digest("node-b", SignedDuration::ZERO)
        .await
        .unwrap();
    assert_eq!(taken.map(|i| i.id), Some(issue.id));
    // node-b restarts: its claim is given up, and the digest can be claimed at once.
    assert_eq!(store.release_digest_claims("node-a").await.unwrap(), 0);
    assert_eq!(store.release_digest_claims("node-b").await.unwrap(), 1);
    let again = store.claim_digest("node-b", lease).await.unwrap();
    assert_eq!(again.map(|i| i.id), Some(issue.id));

    store.digest_sent(&issue).await.unwrap();
    assert!(store.digest_posts(issue.id).await.unwrap().is_empty());
    // Even once it is sent, a post re-processed after a crash is found, not added to the
    // next digest; until the keys of sent digests are pruned.
    assert!(!store.add_digest_post(&dev, "e2", b"again").await.unwrap());
    assert_eq!(store.digest_backlog(&dev).await.unwrap().posts, 0);
    let cutoff = jiff::Timestamp::now() + SignedDuration::from_secs(1);
    assert_eq!(store.prune_sent_digest_posts(cutoff).await.unwrap(), 2);
    assert!(store.add_digest_post(&dev, "e2", b"again").await.unwrap());
    assert_eq!(store.digest_backlog(&dev).await.unwrap().posts, 1);
    assert_eq!(
        store
            .claim_digest("node-a", SignedDuration::ZERO)
            .await
            .unwrap(),
        None
    );
    // The other list's post is still waiting.
    assert_eq!(store.digest_backlog(&ops).await.unwrap().posts, 1);
}

async fn bumps_and_recipients(db: TestDb) {
    let store = store_with(&db, &["dev@a.example"]).await;
    let dev = list("dev@a.example");
    let bumped = store
        .bump_digest(&dev, |n| DigestNumbers {
            volume: n.volume + 1,
            next_number: 1,
            last_sent_at: None,
        })
        .await
        .unwrap();
    assert_eq!((bumped.volume, bumped.next_number), (2, 1));
    assert_eq!(store.digest_numbers(&dev).await.unwrap(), bumped);

    add(
        &store,
        "dev@a.example",
        MemberRole::Member,
        &["Ann@x.example", "bob@x.example", "cy@x.example"],
    )
    .await;
    add(
        &store,
        "dev@a.example",
        MemberRole::Owner,
        &["own@x.example"],
    )
    .await;
    assert!(!store.has_digest_members(&dev).await.unwrap());
    for (who, mode) in [
        ("ann@x.example", DeliveryMode::MimeDigests),
        ("cy@x.example", DeliveryMode::PlaintextDigests),
    ] {
        store
            .set_delivery_mode(&dev, &email(who), MemberRole::Member, mode)
            .await
            .unwrap();
    }
    assert!(store.has_digest_members(&dev).await.unwrap());
    // Cy leaves digest delivery while a post waits: the next digest still reaches Cy once,
    // as a plain digest. Ann's switch with nothing waiting leaves no such row.
    store
        .add_digest_post(&dev, "e1", b"Subject: s\r\n\r\nx\r\n")
        .await
        .unwrap();
    store
        .set_delivery_mode(
            &dev,
            &email("cy@x.example"),
            MemberRole::Member,
            DeliveryMode::Regular,
        )
        .await
        .unwrap();
    let issue = store
        .close_digest(&dev, DigestTrigger::Force, |n, _| n)
        .await
        .unwrap()
        .unwrap();
    let modes = |recipients: Vec<mailcast_store::DigestRecipient>| -> Vec<(String, DeliveryMode)> {
        recipients
            .into_iter()
            .map(|r| (r.address.original().to_string(), r.mode))
            .collect()
    };
    assert_eq!(
        modes(store.digest_recipients(&issue).await.unwrap()),
        [
            ("Ann@x.example".to_string(), DeliveryMode::MimeDigests),
            ("cy@x.example".to_string(), DeliveryMode::PlaintextDigests)
        ]
    );
    store.digest_sent(&issue).await.unwrap();
    store
        .set_delivery_mode(
            &dev,
            &email("ann@x.example"),
            MemberRole::Member,
            DeliveryMode::Regular,
        )
        .await
        .unwrap();
    store
        .add_digest_post(&dev, "e2", b"Subject: s\r\n\r\nx\r\n")
        .await
        .unwrap();
    let issue = store
        .close_digest(&dev, DigestTrigger::Force, |n, _| n)
        .await
        .unwrap()
        .unwrap();
    // Cy's row was consumed by the digest it served; Ann switched with nothing waiting.
    assert!(store.digest_recipients(&issue).await.unwrap().is_empty());
    assert!(!store.has_digest_members(&dev).await.unwrap());
}

mailcast_store::backend_tests!(
    posts_accumulate_once_and_close_into_one_digest,
    bumps_and_recipients,
);
