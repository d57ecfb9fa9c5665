//! Group commit through the committer: concurrency, visibility, shared bodies, checkpoints.

mod fixture;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread;

use mailcast_spool::{CommitterOptions, EntryId, Stage};

#[test]
fn concurrent_submissions_are_each_reported_exactly_once_and_usable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let visible: Arc<Mutex<Vec<(Stage, EntryId)>>> = Arc::default();
    let seen = visible.clone();
    let reader = spool.clone();
    let committer = spool
        .start_committer(CommitterOptions {
            on_committed: Some(Box::new(move |stage, id| {
                // Reported entries can be read at once (a test may be slow here).
                assert_eq!(reader.find(id).unwrap(), Some(stage));
                reader.read_body(id).unwrap();
                seen.lock().unwrap().push((stage, id.clone()))
            })),
            ..CommitterOptions::default()
        })
        .unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let committer = committer.clone();
            thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..40 {
                    let tag = format!("t{t}-m{i}");
                    let n = 1 + (i % 3);
                    let ids = committer.submit_wait(fixture::submission(&tag, n)).unwrap();
                    assert_eq!(ids.len(), n);
                    acked.push((tag, ids));
                }
                acked
            })
        })
        .collect();
    let acked: Vec<(String, Vec<EntryId>)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    committer.shutdown().unwrap();

    let census = fixture::census(&spool);
    let all_ids: Vec<&EntryId> = acked.iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(
        census.len(),
        all_ids.len(),
        "exactly the acknowledged entries exist"
    );
    for (tag, ids) in &acked {
        for id in ids {
            assert_eq!(census[id], vec![Stage::Incoming], "{id} in one stage");
            assert_eq!(spool.read_body(id).unwrap(), fixture::message(tag));
            let meta = spool.read_meta(Stage::Incoming, id).unwrap();
            assert_eq!(meta.list, "ann@lists.example.org");
            assert_eq!(meta.body_len, fixture::message(tag).len() as u64);
        }
    }
    let visible = visible.lock().unwrap();
    assert_eq!(visible.len(), all_ids.len(), "one report per entry");
    let unique: HashSet<&EntryId> = visible.iter().map(|(_, id)| id).collect();
    assert_eq!(unique.len(), all_ids.len());
    assert!(
        fixture::wal_files(&spool, "wal").is_empty(),
        "shutdown checkpoints the log"
    );
}

#[test]
fn envelopes_of_one_submission_share_one_body_inode() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = spool.start_committer(CommitterOptions::default()).unwrap();
    let ids = committer
        .submit_wait(fixture::submission("shared", 3))
        .unwrap();
    committer.shutdown().unwrap();
    let inodes: HashSet<u64> = ids
        .iter()
        .map(|id| std::fs::metadata(spool.body_path(id)).unwrap().ino())
        .collect();
    assert_eq!(inodes.len(), 1);
    assert_eq!(
        std::fs::metadata(spool.body_path(&ids[0])).unwrap().nlink(),
        3
    );
    spool.remove(Stage::Incoming, &ids[0]).unwrap();
    assert_eq!(
        spool.read_body(&ids[1]).unwrap(),
        fixture::message("shared")
    );
}

#[test]
fn spilled_bodies_are_committed_whole() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = spool.start_committer(CommitterOptions::default()).unwrap();
    let mut spill = spool.create_spill().unwrap();
    assert!(spill.path().starts_with(spool.root().join("tmp")));
    let tail: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    spill.write_all(&tail).unwrap();
    let spill_path = spill.path().to_path_buf();
    let head = b"Subject: big\r\n\r\n".to_vec();
    let body = mailcast_spool::Body::Spilled {
        head: head.clone(),
        spill,
    };
    let submission =
        mailcast_spool::Submission::new(body, vec![fixture::envelope(Stage::Incoming)]);
    let ids = committer.submit_wait(submission).unwrap();
    committer.shutdown().unwrap();
    let mut expected = head;
    expected.extend_from_slice(&tail);
    assert_eq!(spool.read_body(&ids[0]).unwrap(), expected);
    assert!(
        !spill_path.exists(),
        "the spill file is removed once committed"
    );
}

#[test]
fn segments_roll_and_checkpoints_delete_them_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let committer = spool
        .start_committer(CommitterOptions {
            segment_size: 4096,
            checkpoint_after_sealed: 2,
            materialize_after: std::time::Duration::ZERO,
            on_committed: Some(Box::new(move |_, id| tx.send(id.clone()).unwrap())),
            ..CommitterOptions::default()
        })
        .unwrap();
    for i in 0..40 {
        committer
            .submit_wait(fixture::submission(&format!("roll{i}"), 1))
            .unwrap();
    }
    for _ in 0..40 {
        rx.recv().unwrap();
    }
    // The checkpointer is woken when two sealed segments are ready; wait for it by watching
    // the log shrink (no fixed sleep: poll on the file count with a generous bound).
    let mut remaining = usize::MAX;
    for _ in 0..500 {
        remaining = fixture::wal_files(&spool, "wal").len();
        if remaining <= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        remaining <= 2,
        "sealed segments were not checkpointed: {remaining} left"
    );
    committer.shutdown().unwrap();
    assert_eq!(spool.list(Stage::Incoming).unwrap().len(), 40);
}

#[test]
fn a_second_owner_of_the_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = spool.start_committer(CommitterOptions::default()).unwrap();
    let other = fixture::open(dir.path());
    assert!(matches!(
        other.recover(),
        Err(mailcast_spool::Error::Locked)
    ));
    assert!(matches!(
        other.start_committer(CommitterOptions::default()),
        Err(mailcast_spool::Error::Locked)
    ));
    committer.shutdown().unwrap();
    assert!(other.recover().is_ok());
}

#[test]
fn submissions_after_shutdown_fail() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = spool.start_committer(CommitterOptions::default()).unwrap();
    committer.shutdown().unwrap();
    let result = committer.submit_wait(fixture::submission("late", 1));
    assert!(matches!(result, Err(mailcast_spool::Error::ShutDown)));
    assert!(fixture::census(&spool).is_empty());
}

#[test]
fn a_panicking_callback_does_not_stop_the_committer() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = spool
        .start_committer(CommitterOptions {
            on_committed: Some(Box::new(|_, _| panic!("visibility callback fails"))),
            ..CommitterOptions::default()
        })
        .unwrap();
    committer.submit(
        fixture::submission("first", 1),
        Box::new(|_| panic!("done fails")),
    );
    let ids = committer
        .submit_wait(fixture::submission("second", 1))
        .unwrap();
    committer.shutdown().unwrap();
    assert_eq!(fixture::census(&spool).len(), 2);
    assert_eq!(
        spool.read_body(&ids[0]).unwrap(),
        fixture::message("second")
    );
}

#[test]
fn entries_consumed_while_others_are_committed_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(Stage, EntryId)>();
    let committer = spool
        .start_committer(CommitterOptions {
            materialize_after: std::time::Duration::from_secs(3600),
            on_committed: Some(Box::new(move |stage, id| {
                tx.send((stage, id.clone())).unwrap();
            })),
            ..CommitterOptions::default()
        })
        .unwrap();
    // A consumer like the incoming runner: every other entry is finished and removed.
    let consumer = thread::spawn({
        let spool = spool.clone();
        move || {
            let mut removed = HashSet::new();
            for (n, (stage, id)) in rx.into_iter().enumerate() {
                if n % 2 == 0 {
                    spool.read_body(&id).unwrap();
                    spool.remove(stage, &id).unwrap();
                    removed.insert(id);
                }
            }
            removed
        }
    });
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let committer = committer.clone();
            thread::spawn(move || {
                (0..50)
                    .flat_map(|i| {
                        committer
                            .submit_wait(fixture::submission(&format!("c{t}-{i}"), 1))
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let acked: Vec<EntryId> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    // Shutdown ends the writer thread, which drops the callback: the consumer's channel
    // closes.
    committer.shutdown().unwrap();
    let removed = consumer.join().unwrap();
    assert_eq!(removed.len(), acked.len() / 2);
    let census = fixture::census(&spool);
    for id in &acked {
        assert_eq!(census.contains_key(id), !removed.contains(id), "{id}");
        assert_eq!(
            spool.body_path(id).exists(),
            !removed.contains(id),
            "removed entries leave no file, kept ones have theirs: {id}"
        );
    }
    assert_eq!(census.len(), acked.len() - removed.len());
}
