//! Failure paths: a full disk, a failing write or fsync. Every affected waiter gets an error,
//! nothing half-written becomes an entry, and the spool keeps working afterwards.

mod fixture;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use mailcast_spool::{
    CommitterOptions, EntryId, EntryMeta, Error, FaultInjector, Options, Spool, Stage,
};

fn open_faulty(dir: &Path) -> (Spool, Arc<FaultInjector>) {
    let faults = FaultInjector::new();
    let options = Options {
        faults: Some(faults.clone()),
        ..Options::default()
    };
    (Spool::open(dir.join("spool"), options).unwrap(), faults)
}

/// A committer that never checkpoints or rolls on its own during a test, reporting
/// visibility on the returned channel.
fn quiet_committer(spool: &Spool) -> (mailcast_spool::Committer, mpsc::Receiver<EntryId>) {
    let (tx, rx) = mpsc::channel();
    let committer = spool
        .start_committer(CommitterOptions {
            checkpoint_interval: Duration::from_secs(3600),
            on_committed: Some(Box::new(move |_, id| {
                let _ = tx.send(id.clone());
            })),
            ..CommitterOptions::default()
        })
        .unwrap();
    (committer, rx)
}

fn io_errno(err: &Error) -> Option<i32> {
    match err {
        Error::Io { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

#[test]
fn a_full_disk_fails_every_waiter_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, faults) = open_faulty(dir.path());
    spool.recover().unwrap();
    let (committer, visible) = quiet_committer(&spool);
    faults.set_disk_full(true);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let committer = committer.clone();
                scope.spawn(move || {
                    committer.submit_wait(fixture::submission(&format!("full{i}"), 2))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for result in &results {
        let err = result
            .as_ref()
            .expect_err("a full disk must fail the commit");
        assert_eq!(io_errno(err), Some(28), "ENOSPC expected, got {err}");
    }
    faults.set_disk_full(false);
    let ids = committer
        .submit_wait(fixture::submission("after", 1))
        .unwrap();
    assert_eq!(visible.recv().unwrap(), ids[0]);
    committer.shutdown().unwrap();
    let census = fixture::census(&spool);
    assert_eq!(census.keys().collect::<Vec<_>>(), vec![&ids[0]]);
    spool.recover().unwrap();
    assert_eq!(fixture::census(&spool).len(), 1);
}

#[test]
fn a_failed_fdatasync_fails_its_batch_and_abandons_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, faults) = open_faulty(dir.path());
    spool.recover().unwrap();
    let (committer, visible) = quiet_committer(&spool);
    let first = committer
        .submit_wait(fixture::submission("first", 1))
        .unwrap();
    assert_eq!(visible.recv().unwrap(), first[0]);
    faults.fail_sync(1);
    let (tx, rx) = mpsc::channel();
    for i in 0..10 {
        let tx = tx.clone();
        committer.submit(
            fixture::submission(&format!("burst{i}"), 1),
            Box::new(move |result| tx.send(result).unwrap()),
        );
    }
    let results: Vec<_> = (0..10).map(|_| rx.recv().unwrap()).collect();
    let failed: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        !failed.is_empty(),
        "the armed fdatasync failure was not reported"
    );
    for err in &failed {
        assert_eq!(io_errno(err), Some(5), "EIO expected, got {err}");
    }
    let ok: HashSet<EntryId> = results.iter().flatten().flatten().cloned().collect();
    for _ in 0..ok.len() {
        assert!(ok.contains(&visible.recv().unwrap()));
    }
    // The failed segment is never appended to again: later batches went to a new one.
    assert_eq!(
        fixture::wal_files(&spool, "wal").len(),
        if ok.is_empty() { 1 } else { 2 }
    );
    committer.shutdown().unwrap();
    spool.recover().unwrap();
    let census: HashSet<EntryId> = fixture::census(&spool).into_keys().collect();
    let expected: HashSet<EntryId> = ok.iter().chain(&first).cloned().collect();
    assert_eq!(census, expected, "exactly the acknowledged entries exist");
}

#[test]
fn the_direct_path_fails_cleanly_at_every_write_and_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, faults) = open_faulty(dir.path());
    // Fail the first, second, ... sync until the commit no longer reaches the armed one.
    for arm_sync in [true, false] {
        for n in 1.. {
            if arm_sync {
                faults.fail_sync(n);
            } else {
                faults.fail_write(n);
            }
            match spool.commit_direct(fixture::submission("direct", 3)) {
                Err(err) => {
                    assert!(matches!(err, Error::Io { .. }), "{err}");
                    assert!(
                        fixture::census(&spool).is_empty(),
                        "n = {n}: an entry appeared"
                    );
                }
                Ok(ids) => {
                    assert!(n > 2, "a commit cannot need fewer than 3 writes/syncs");
                    for id in &ids {
                        spool.remove(Stage::Incoming, id).unwrap();
                    }
                    // Disarm whatever is still pending.
                    faults.fail_sync(u64::MAX / 2);
                    faults.fail_write(u64::MAX / 2);
                    break;
                }
            }
        }
    }
    let messages = spool.root().join("messages");
    let leftovers: Vec<_> = walk(&messages);
    assert!(leftovers.is_empty(), "files left behind: {leftovers:?}");
}

#[test]
fn job_creation_and_batch_records_report_sync_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, faults) = open_faulty(dir.path());
    let id = EntryId::generate();
    let meta = EntryMeta::new(
        id.clone(),
        Stage::Outgoing,
        "ann@lists.example.org",
        "b@x",
        "",
    );
    let rcpts = || (0..10).map(|i| format!("m{i}@example.com"));
    faults.fail_sync(3);
    assert!(
        spool
            .create_job(Stage::Outgoing, meta.clone(), b"x", rcpts(), 5)
            .is_err()
    );
    assert_eq!(spool.find(&id).unwrap(), None);
    spool
        .create_job(Stage::Outgoing, meta, b"x", rcpts(), 5)
        .unwrap();
    faults.fail_sync(1);
    assert!(spool.record_batch(&id, 0, &[]).is_err());
    spool.record_batch(&id, 1, &[]).unwrap();
    // A failed record is not acknowledged, but its bytes may be there: counting it done is
    // harmless (the batch was sent); what matters is that the next record is readable.
    assert!(spool.progress(&id).unwrap().done.contains(&1));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A committer whose entries stay resident (for an hour) unless a test says otherwise.
fn lazy_committer(spool: &Spool, materialize_after: Duration) -> mailcast_spool::Committer {
    spool
        .start_committer(CommitterOptions {
            checkpoint_interval: Duration::from_secs(3600),
            materialize_after,
            ..CommitterOptions::default()
        })
        .unwrap()
}

#[test]
fn a_full_disk_while_writing_resident_entries_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, faults) = open_faulty(dir.path());
    spool.recover().unwrap();
    let committer = lazy_committer(&spool, Duration::from_secs(3600));
    let ids: Vec<EntryId> = (0..2)
        .flat_map(|i| {
            committer
                .submit_wait(fixture::submission(&format!("full{i}"), 2))
                .unwrap()
        })
        .collect();
    // The disk fills up before the entries' files could be written; shutdown tries (twice)
    // and leaves them in the log.
    faults.set_disk_full(true);
    committer.shutdown().unwrap();
    assert_eq!(
        fixture::wal_files(&spool, "wal").len(),
        1,
        "the log is kept"
    );
    assert!(walk(&spool.root().join("incoming")).is_empty());
    assert!(
        walk(&spool.root().join("messages")).is_empty(),
        "no half-written body"
    );
    // Still visible (read from the log) and intact.
    assert_eq!(spool.list(Stage::Incoming).unwrap().len(), 4);
    for (i, id) in ids.iter().enumerate() {
        let tag = format!("full{}", i / 2);
        assert_eq!(spool.read_body(id).unwrap(), fixture::message(&tag));
    }
    faults.set_disk_full(false);
    let report = spool.recover().unwrap();
    assert_eq!(report.replayed, 4);
    let census = fixture::census(&spool);
    assert_eq!(census.len(), 4);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(census[id], vec![Stage::Incoming]);
        assert_eq!(
            spool.read_body(id).unwrap(),
            fixture::message(&format!("full{}", i / 2))
        );
    }
}

#[test]
fn a_failed_write_of_an_entry_file_is_retried_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, faults) = open_faulty(dir.path());
    spool.recover().unwrap();
    // The log's writes for two commits: the segment header, then one append per commit. The
    // next write is the materializer's first (the first entry's body).
    faults.fail_write(4);
    let committer = lazy_committer(&spool, Duration::from_millis(100));
    let first = committer
        .submit_wait(fixture::submission("retry1", 2))
        .unwrap();
    let second = committer
        .submit_wait(fixture::submission("retry2", 1))
        .unwrap();
    let envelope = |id: &EntryId| {
        spool
            .root()
            .join("incoming")
            .join(id.bucket())
            .join(format!("{id}.json"))
    };
    for _ in 0..1000 {
        if first.iter().chain(&second).all(|id| envelope(id).exists()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    committer.shutdown().unwrap();
    // 3 log writes, the failed body write, then the retry: 2 bodies and 3 envelopes.
    assert_eq!(
        faults.counts().0,
        9,
        "the armed failure hit the materializer"
    );
    let census = fixture::census(&spool);
    assert_eq!(census.len(), 3, "{census:?}");
    for id in &first {
        assert_eq!(spool.read_body(id).unwrap(), fixture::message("retry1"));
    }
    assert_eq!(
        spool.read_body(&second[0]).unwrap(),
        fixture::message("retry2")
    );
    assert_eq!(walk(&spool.root().join("messages")).len(), 3);
    assert!(walk(&spool.root().join("tmp")).is_empty());
    assert!(spool.list(Stage::Corrupt).unwrap().is_empty());
}

#[test]
fn a_failed_checkpoint_keeps_the_log_for_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, faults) = open_faulty(dir.path());
    spool.recover().unwrap();
    let committer = lazy_committer(&spool, Duration::ZERO);
    let ids = committer
        .submit_wait(fixture::submission("ckpt", 2))
        .unwrap();
    for _ in 0..1000 {
        if spool
            .summaries(Stage::Incoming)
            .unwrap()
            .iter()
            .all(|(_, s)| !s.resident)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The final checkpoint's syncfs fails: the files may not be durable, so the log stays.
    faults.fail_sync(1);
    let err = committer.shutdown().unwrap_err();
    assert_eq!(io_errno(&err), Some(5), "{err}");
    assert_eq!(fixture::wal_files(&spool, "wal").len(), 1);
    let report = spool.recover().unwrap();
    assert_eq!((report.present, report.replayed), (2, 0));
    let census = fixture::census(&spool);
    assert_eq!(census.len(), 2);
    for id in &ids {
        assert_eq!(spool.read_body(id).unwrap(), fixture::message("ckpt"));
    }
}
