//! Entries resident in the write-ahead log: usable through every call before any file exists,
//! written as files only when still present after `materialize_after` (or at shutdown, or
//! under pressure), visible read-only to other processes, and segments retired only when
//! safe.

mod fixture;

use std::path::Path;
use std::time::Duration;

use mailcast_spool::{Committer, CommitterOptions, Durability, EntryId, Error, Spool, Stage};

/// A committer that keeps entries resident (for an hour) unless a test says otherwise.
fn resident_committer(spool: &Spool, options: CommitterOptions) -> Committer {
    spool
        .start_committer(CommitterOptions {
            materialize_after: Duration::from_secs(3600),
            ..options
        })
        .unwrap()
}

/// A fresh spool, recovered, with a [`resident_committer`] running.
fn resident_site(options: CommitterOptions) -> (tempfile::TempDir, Spool, Committer) {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = resident_committer(&spool, options);
    (dir, spool, committer)
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Polls `condition` (every 10 ms, for at most 20 s); panics with `what` if it never holds.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never happened: {what}");
}

#[test]
fn committed_entries_are_usable_before_any_file_exists() {
    let (_dir, spool, committer) = resident_site(CommitterOptions::default());
    let one = committer
        .submit_wait(fixture::submission("one", 1))
        .unwrap();
    let two = committer
        .submit_wait(fixture::submission("two", 2))
        .unwrap();
    let all: Vec<EntryId> = one.iter().chain(&two).cloned().collect();

    assert_eq!(spool.list(Stage::Incoming).unwrap(), all, "oldest first");
    assert!(spool.list(Stage::Held).unwrap().is_empty());
    let counts = spool.counts().unwrap();
    assert_eq!(counts[0], (Stage::Incoming, 3));
    for (id, tag) in [(&one[0], "one"), (&two[0], "two"), (&two[1], "two")] {
        assert_eq!(spool.find(id).unwrap(), Some(Stage::Incoming));
        let meta = spool.read_meta(Stage::Incoming, id).unwrap();
        assert_eq!(spool.read_body_of(&meta).unwrap(), fixture::message(tag));
        assert_eq!(spool.read_body(id).unwrap(), fixture::message(tag));
        let summary = spool.summary(Stage::Incoming, id).unwrap();
        assert!(summary.resident && summary.meta == Some(meta));
        assert!(spool.read_meta(Stage::Held, id).unwrap_err().is_not_found());
    }
    assert_eq!(spool.summaries(Stage::Incoming).unwrap().len(), 3);
    // A derived child of a resident entry is refused if it exists, like any other.
    let child = one[0].derive("held").unwrap();
    assert_eq!(spool.find(&child).unwrap(), None);
    assert!(files(&spool.root().join("incoming")).is_empty());
    assert!(files(&spool.root().join("messages")).is_empty());

    committer.shutdown().unwrap();
    assert!(
        fixture::wal_files(&spool, "wal").is_empty(),
        "shutdown empties the log"
    );
    assert_eq!(files(&spool.root().join("incoming")).len(), 3);
    for id in &all {
        let summary = spool.summary(Stage::Incoming, id).unwrap();
        assert!(!summary.resident);
    }
    assert_eq!(spool.read_body(&two[1]).unwrap(), fixture::message("two"));
}

#[test]
fn removed_resident_entries_never_become_files() {
    let (_dir, spool, committer) = resident_site(CommitterOptions::default());
    let gone = committer
        .submit_wait(fixture::submission("gone", 2))
        .unwrap();
    let kept = committer
        .submit_wait(fixture::submission("kept", 1))
        .unwrap();
    spool.remove(Stage::Incoming, &gone[0]).unwrap();
    let consumed = fixture::wal_files(&spool, "consumed");
    assert_eq!(consumed.len(), 1);
    let notes = std::fs::read_to_string(spool.root().join("wal").join(&consumed[0])).unwrap();
    assert_eq!(notes, format!("{}\n", gone[0]));
    assert!(matches!(
        spool.remove(Stage::Incoming, &gone[0]),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        spool.remove(Stage::Held, &gone[1]),
        Err(Error::NotFound(_))
    ));
    assert_eq!(spool.find(&gone[0]).unwrap(), None);
    assert_eq!(
        spool.list(Stage::Incoming).unwrap(),
        vec![gone[1].clone(), kept[0].clone()]
    );
    committer.shutdown().unwrap();

    let census = fixture::census(&spool);
    assert!(!census.contains_key(&gone[0]));
    assert!(!spool.body_path(&gone[0]).exists());
    // Its sibling of the same record was still present: written as files, body intact.
    assert_eq!(spool.read_body(&gone[1]).unwrap(), fixture::message("gone"));
    assert_eq!(census.len(), 2);
}

#[test]
fn a_moved_resident_entry_is_written_in_its_new_stage_only() {
    let (_dir, spool, committer) = resident_site(CommitterOptions::default());
    let ids = committer
        .submit_wait(fixture::submission("moved", 2))
        .unwrap();
    for (id, durability) in ids.iter().zip([Durability::Lazy, Durability::Sync]) {
        let meta = spool
            .move_entry(id, Stage::Incoming, Stage::Held, durability, |m| {
                m.attrs.insert("reason".into(), "test".into());
            })
            .unwrap();
        assert_eq!(meta.stage, Stage::Held);
        assert_eq!(spool.find(id).unwrap(), Some(Stage::Held));
        assert!(
            spool
                .read_meta(Stage::Incoming, id)
                .unwrap_err()
                .is_not_found()
        );
        let held = spool.read_meta(Stage::Held, id).unwrap();
        assert_eq!(held.attrs["reason"], "test");
        assert_eq!(spool.read_body(id).unwrap(), fixture::message("moved"));
        assert!(!spool.summary(Stage::Held, id).unwrap().resident);
    }
    assert!(files(&spool.root().join("incoming")).is_empty());
    assert_eq!(files(&spool.root().join("held")).len(), 2);
    // Moving it again is an ordinary file move.
    spool
        .move_entry(
            &ids[0],
            Stage::Held,
            Stage::Incoming,
            Durability::Lazy,
            |_| {},
        )
        .unwrap();
    committer.shutdown().unwrap();
    let census = fixture::census(&spool);
    assert_eq!(census[&ids[0]], vec![Stage::Incoming]);
    assert_eq!(census[&ids[1]], vec![Stage::Held]);
    spool.recover().unwrap();
    assert_eq!(fixture::census(&spool), census, "recovery changes nothing");
}

#[test]
fn a_lazy_rewrite_in_place_keeps_the_entry_resident() {
    let (dir, spool, committer) = resident_site(CommitterOptions::default());
    let id = committer
        .submit_wait(fixture::submission("numbered", 1))
        .unwrap()[0]
        .clone();
    for n in [7u64, 8] {
        spool
            .move_entry(
                &id,
                Stage::Incoming,
                Stage::Incoming,
                Durability::Lazy,
                |m| {
                    m.attrs.insert("post_number".into(), n.into());
                },
            )
            .unwrap();
    }
    assert_eq!(
        spool.read_meta(Stage::Incoming, &id).unwrap().attrs["post_number"],
        8
    );
    assert!(spool.summary(Stage::Incoming, &id).unwrap().resident);
    assert!(files(&spool.root().join("incoming")).is_empty());
    // Another process sees the rewrite too (it reads the consumed log).
    let other = fixture::open(dir.path());
    assert_eq!(
        other.read_meta(Stage::Incoming, &id).unwrap().attrs["post_number"],
        8
    );
    committer.shutdown().unwrap();
    let meta = spool.read_meta(Stage::Incoming, &id).unwrap();
    assert_eq!(meta.attrs["post_number"], 8, "the files carry the rewrite");
    assert!(!spool.summary(Stage::Incoming, &id).unwrap().resident);
}

#[test]
fn another_handle_sees_resident_entries_read_only() {
    let (dir, spool, committer) = resident_site(CommitterOptions::default());
    let a = committer.submit_wait(fixture::submission("a", 1)).unwrap()[0].clone();
    let b = committer.submit_wait(fixture::submission("b", 1)).unwrap()[0].clone();
    let c = committer.submit_wait(fixture::submission("c", 1)).unwrap()[0].clone();
    spool
        .move_entry(&c, Stage::Incoming, Stage::Shunt, Durability::Lazy, |_| {})
        .unwrap();
    spool.remove(Stage::Incoming, &b).unwrap();

    // Like `mailcast queue list|show` while the daemon runs.
    let other = fixture::open(dir.path());
    assert_eq!(other.list(Stage::Incoming).unwrap(), vec![a.clone()]);
    assert_eq!(other.list(Stage::Shunt).unwrap(), vec![c.clone()]);
    assert_eq!(other.find(&a).unwrap(), Some(Stage::Incoming));
    assert_eq!(other.find(&b).unwrap(), None);
    assert_eq!(other.read_body(&a).unwrap(), fixture::message("a"));
    let counts = other.counts().unwrap();
    assert_eq!(counts[0], (Stage::Incoming, 1));
    assert!(counts.contains(&(Stage::Shunt, 1)), "{counts:?}");
    let summaries = other.summaries(Stage::Incoming).unwrap();
    assert_eq!(summaries.len(), 1);
    assert!(summaries[0].1.resident);
    assert!(other.summary(Stage::Incoming, &a).unwrap().resident);
    // It cannot change what only the running committer's log holds.
    assert!(matches!(
        other.remove(Stage::Incoming, &a),
        Err(Error::Busy(_))
    ));
    assert!(matches!(
        other.move_entry(&a, Stage::Incoming, Stage::Shunt, Durability::Sync, |_| {}),
        Err(Error::Busy(_))
    ));
    assert!(other.recover().is_err(), "the log belongs to the committer");

    committer.shutdown().unwrap();
    assert!(!other.summary(Stage::Incoming, &a).unwrap().resident);
    assert_eq!(other.list(Stage::Incoming).unwrap(), vec![a]);
}

#[test]
fn without_a_running_committer_logged_entries_can_still_be_removed_or_moved() {
    let (dir, spool, committer) = resident_site(CommitterOptions::default());
    let ids = committer
        .submit_wait(fixture::submission("offline", 3))
        .unwrap();
    // Keep the log as a crash would have left it, then let the committer finish.
    let wal = spool.root().join("wal");
    let saved: Vec<(std::path::PathBuf, Vec<u8>)> = files(&wal)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    committer.shutdown().unwrap();
    for id in &ids {
        spool.remove(Stage::Incoming, id).unwrap();
    }
    for (path, bytes) in &saved {
        std::fs::write(path, bytes).unwrap();
    }

    // The daemon is down: the CLI sees the logged entries and may act on them.
    let cli = fixture::open(dir.path());
    assert_eq!(cli.list(Stage::Incoming).unwrap().len(), 3);
    cli.remove(Stage::Incoming, &ids[0]).unwrap();
    cli.move_entry(
        &ids[1],
        Stage::Incoming,
        Stage::Shunt,
        Durability::Sync,
        |m| {
            m.last_error = Some("by hand".into());
        },
    )
    .unwrap();
    assert_eq!(cli.list(Stage::Incoming).unwrap(), vec![ids[2].clone()]);
    assert_eq!(cli.list(Stage::Shunt).unwrap(), vec![ids[1].clone()]);

    let report = cli.recover().unwrap();
    assert_eq!(
        (report.consumed, report.present, report.replayed),
        (1, 1, 1)
    );
    let census = fixture::census(&cli);
    assert_eq!(census.len(), 2);
    assert_eq!(census[&ids[1]], vec![Stage::Shunt]);
    assert_eq!(census[&ids[2]], vec![Stage::Incoming]);
    let shunted = cli.read_meta(Stage::Shunt, &ids[1]).unwrap();
    assert_eq!(shunted.last_error.as_deref(), Some("by hand"));
    assert_eq!(cli.read_body(&ids[1]).unwrap(), fixture::message("offline"));
}

#[test]
fn segments_are_retired_only_when_none_of_their_entries_is_resident() {
    let (_dir, spool, committer) = resident_site(CommitterOptions {
        segment_size: 1, // Every batch rolls: one record per segment.
        checkpoint_interval: Duration::from_millis(20),
        checkpoint_after_sealed: 1,
        ..CommitterOptions::default()
    });
    let segment_of = |n: u64| spool.root().join("wal").join(format!("{n:016x}.wal"));
    let a = committer.submit_wait(fixture::submission("a", 1)).unwrap()[0].clone();
    for n in 2..=4 {
        let id = committer.submit_wait(fixture::submission("x", 1)).unwrap()[0].clone();
        spool.remove(Stage::Incoming, &id).unwrap();
        eventually("a consumed segment is retired", || !segment_of(n).exists());
    }
    assert!(segment_of(1).exists(), "its entry is still resident");
    assert_eq!(spool.read_body(&a).unwrap(), fixture::message("a"));
    spool
        .move_entry(&a, Stage::Incoming, Stage::Held, Durability::Lazy, |_| {})
        .unwrap();
    eventually("the moved entry's segment is retired", || {
        !segment_of(1).exists()
    });
    assert_eq!(spool.read_body(&a).unwrap(), fixture::message("a"));
    committer.shutdown().unwrap();
    assert_eq!(fixture::census(&spool).len(), 1);
}

#[test]
fn too_many_resident_entries_are_written_early_oldest_first() {
    let (_dir, spool, committer) = resident_site(CommitterOptions {
        max_resident: 4,
        body_cache: 0, // Bodies are read back from the log segment.
        ..CommitterOptions::default()
    });
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.extend(
            committer
                .submit_wait(fixture::submission(&format!("p{i}"), 1))
                .unwrap(),
        );
    }
    let has_files = |id: &EntryId| {
        spool
            .root()
            .join("incoming")
            .join(id.bucket())
            .join(format!("{id}.json"))
            .exists()
    };
    eventually("the oldest are written", || ids[..8].iter().all(has_files));
    assert!(
        ids[8..].iter().any(|id| !has_files(id)),
        "the newest stay resident"
    );
    assert_eq!(spool.list(Stage::Incoming).unwrap(), ids);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            spool.read_body(id).unwrap(),
            fixture::message(&format!("p{i}"))
        );
    }
    committer.shutdown().unwrap();
    assert_eq!(fixture::census(&spool).len(), 12);
}

#[test]
fn entries_still_present_after_the_delay_are_written_as_files() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = spool
        .start_committer(CommitterOptions {
            materialize_after: Duration::from_millis(50),
            checkpoint_interval: Duration::from_millis(50),
            ..CommitterOptions::default()
        })
        .unwrap();
    let ids = committer
        .submit_wait(fixture::submission("late", 2))
        .unwrap();
    eventually("the log is checkpointed away", || {
        fixture::wal_files(&spool, "wal").is_empty()
    });
    for id in &ids {
        assert!(!spool.summary(Stage::Incoming, id).unwrap().resident);
        assert_eq!(spool.read_body(id).unwrap(), fixture::message("late"));
    }
    use std::os::unix::fs::MetadataExt;
    let inode = |id: &EntryId| std::fs::metadata(spool.body_path(id)).unwrap().ino();
    assert_eq!(
        inode(&ids[0]),
        inode(&ids[1]),
        "one body inode per submission"
    );
    assert!(files(&spool.root().join("tmp")).is_empty());
    committer.shutdown().unwrap();
}
