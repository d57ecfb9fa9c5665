//! Crash recovery: a child process killed with SIGKILL while committing, and deterministic
//! cuts of the log at every byte offset of its last record.

mod fixture;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use mailcast_spool::{CommitterOptions, Durability, EntryId, Options, Spool, Stage};

/// The child side of `kill_9_never_loses_an_acknowledged_entry`: commits in a loop, prints
/// `ACK <tag> <id>...` after each acknowledgement, and around each change of an entry a line
/// before (`REMOVING`, `REWRITING`, `MOVING`) and after (`DEL`, `REWRITTEN`, `MOVED`), until
/// the parent kills it. Entries stay resident for `SPOOL_CRASH_AFTER_MS` after their commit,
/// so the kill finds some resident, some being written, some written. Does nothing unless
/// started by the parent.
#[test]
#[ignore = "run as a child process by kill_9_never_loses_an_acknowledged_entry"]
fn crash_child() {
    let Ok(dir) = std::env::var("SPOOL_CRASH_DIR") else {
        return;
    };
    let after: u64 = std::env::var("SPOOL_CRASH_AFTER_MS")
        .unwrap()
        .parse()
        .unwrap();
    let spool = Spool::open(&dir, Options::default()).unwrap();
    spool.recover().unwrap();
    let (tx, rx) = mpsc::channel::<EntryId>();
    let committer = spool
        .start_committer(CommitterOptions {
            segment_size: 32 << 10,
            checkpoint_interval: std::time::Duration::from_millis(30),
            materialize_after: std::time::Duration::from_millis(after),
            on_committed: Some(Box::new(move |_, id| {
                let _ = tx.send(id.clone());
            })),
            ..CommitterOptions::default()
        })
        .unwrap();
    let round = std::env::var("SPOOL_CRASH_ROUND").unwrap();
    let mut stdout = std::io::stdout();
    let mut say = |line: String| {
        writeln!(stdout, "{line}").unwrap();
        stdout.flush().unwrap();
    };
    let mut committed = HashSet::new();
    for i in 0.. {
        let tag = format!("r{round}-m{i}");
        let ids = committer
            .submit_wait(fixture::submission(&tag, 1 + i % 2))
            .unwrap();
        let names: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        say(format!("ACK {tag} {}", names.join(" ")));
        // Runners only change entries they have been told about.
        while !committed.contains(&ids[0]) {
            committed.insert(rx.recv().unwrap());
        }
        let id = &ids[0];
        if i % 3 == 0 {
            say(format!("REMOVING {id}"));
            spool.remove(Stage::Incoming, id).unwrap();
            say(format!("DEL {id}"));
        } else if i % 5 == 1 {
            say(format!("REWRITING {id}"));
            spool
                .move_entry(
                    id,
                    Stage::Incoming,
                    Stage::Incoming,
                    Durability::Lazy,
                    |m| {
                        m.attrs.insert("n".into(), i.into());
                    },
                )
                .unwrap();
            say(format!("REWRITTEN {id} {i}"));
        } else if i % 7 == 2 {
            say(format!("MOVING {id}"));
            spool
                .move_entry(id, Stage::Incoming, Stage::Held, Durability::Lazy, |_| {})
                .unwrap();
            say(format!("MOVED {id}"));
        }
    }
}

#[test]
fn kill_9_never_loses_an_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spool");
    let mut log = ChildLog::default();
    // (acknowledgements before the kill, how long entries stay resident in ms)
    let rounds = [
        (40usize, 0u64),
        (150, 5),
        (7, 3_600_000),
        (300, 30),
        (90, 1),
        (200, 3_600_000),
    ];
    for (round, (kill_after, resident_ms)) in rounds.into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SPOOL_CRASH_DIR", &root)
            .env("SPOOL_CRASH_ROUND", round.to_string())
            .env("SPOOL_CRASH_AFTER_MS", resident_ms.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acks = 0;
        while acks < kill_after {
            let line = lines.next().expect("child ended early").unwrap();
            acks += log.read(&line);
        }
        child.kill().unwrap(); // SIGKILL, at whatever point the child has reached.
        child.wait().unwrap();
        // The child ran on while we read: what it wrote before dying counts too.
        for line in lines {
            log.read(&line.unwrap());
        }

        let spool = Spool::open(&root, Options::default()).unwrap();
        let report = spool.recover().unwrap();
        let census = fixture::census(&spool);
        for (id, tag) in &log.acked {
            if log.deleted.contains(id) {
                assert!(
                    !census.contains_key(id),
                    "round {round}: removed {id} came back"
                );
                continue;
            }
            if log.removing.contains(id) && !census.contains_key(id) {
                continue;
            }
            let stages = census
                .get(id)
                .unwrap_or_else(|| panic!("round {round}: lost {id}"));
            // A move cut short may have happened or not.
            let held =
                log.moved.contains(id) || (log.moving.contains(id) && stages == &vec![Stage::Held]);
            let expected = [if held { Stage::Held } else { Stage::Incoming }];
            assert_eq!(stages, &expected, "round {round}: {id}");
            assert_eq!(spool.read_body(id).unwrap(), fixture::message(tag));
            let meta = spool.read_meta(stages[0], id).unwrap();
            let n = meta.attrs.get("n").and_then(|n| n.as_u64());
            match (log.rewritten.get(id), log.rewriting.contains(id)) {
                (Some(expected), _) => {
                    assert_eq!(n, Some(*expected), "round {round}: rewrite of {id} lost")
                }
                (None, false) => assert_eq!(n, None, "round {round}: {id}"),
                (None, true) => {} // Cut in the middle: either envelope is right.
            }
        }
        for id in census.keys() {
            // Entries committed but not yet reported when the child died may exist; they
            // must be whole.
            spool
                .read_body(id)
                .unwrap_or_else(|e| panic!("round {round}: {id}: {e}"));
        }
        assert!(fixture::wal_files(&spool, "wal").is_empty(), "{report:?}");
        assert_eq!(spool.list(Stage::Corrupt).unwrap(), Vec::<EntryId>::new());
    }
}

/// What the crash child reported.
#[derive(Default)]
struct ChildLog {
    /// Acknowledged entries and the tag of their message.
    acked: HashMap<EntryId, String>,
    /// Removal started; if the child died before `DEL`, either outcome is correct.
    removing: HashSet<EntryId>,
    /// Removal finished.
    deleted: HashSet<EntryId>,
    /// Rewrite in place started.
    rewriting: HashSet<EntryId>,
    /// Rewrite in place finished, with the value written.
    rewritten: HashMap<EntryId, u64>,
    /// Move to `held` started.
    moving: HashSet<EntryId>,
    /// Move to `held` finished.
    moved: HashSet<EntryId>,
}

impl ChildLog {
    /// Records one line of the child's output; returns 1 for an acknowledgement line.
    fn read(&mut self, line: &str) -> usize {
        let mut words = line.split(' ');
        let verb = words.next();
        if verb == Some("ACK") {
            let tag = words.next().unwrap().to_owned();
            for id in words {
                self.acked.insert(EntryId::parse(id).unwrap(), tag.clone());
            }
            return 1;
        }
        let Some(id) = words.next().and_then(|w| EntryId::parse(w).ok()) else {
            return 0; // Test harness output.
        };
        match verb {
            Some("REMOVING") => drop(self.removing.insert(id)),
            Some("DEL") => drop(self.deleted.insert(id)),
            Some("REWRITING") => drop(self.rewriting.insert(id)),
            Some("REWRITTEN") => {
                let n = words.next().unwrap().parse().unwrap();
                self.rewritten.insert(id, n);
            }
            Some("MOVING") => drop(self.moving.insert(id)),
            Some("MOVED") => drop(self.moved.insert(id)),
            _ => {}
        }
        0
    }
}

/// Commits three records and returns the ids, the log segment's bytes and where the last
/// record starts.
fn three_record_log(dir: &Path) -> (Vec<Vec<EntryId>>, Vec<u8>, usize) {
    let spool = fixture::open(dir);
    spool.recover().unwrap();
    let committer = spool
        .start_committer(CommitterOptions {
            checkpoint_interval: std::time::Duration::from_secs(3600),
            ..CommitterOptions::default()
        })
        .unwrap();
    let segment = spool.root().join("wal").join(format!("{:016x}.wal", 1));
    let mut ids = Vec::new();
    let mut last_start = 0;
    for i in 0..3 {
        if i == 2 {
            last_start = std::fs::metadata(&segment).unwrap().len() as usize;
        }
        // The last record has one envelope, to keep the number of cuts tested small.
        let envelopes = if i == 2 { 1 } else { 2 };
        ids.push(
            committer
                .submit_wait(fixture::submission(&format!("cut{i}"), envelopes))
                .unwrap(),
        );
    }
    let bytes = std::fs::read(&segment).unwrap();
    committer.shutdown().unwrap();
    (ids, bytes, last_start)
}

#[test]
fn replay_of_a_log_cut_anywhere_in_its_last_record_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, log, last_start) = three_record_log(dir.path());
    assert!(last_start > 0 && last_start < log.len());
    let options = Options {
        fsync: false, // Hundreds of recoveries; durability is not what this test checks.
        ..Options::default()
    };
    let root = dir.path().join("cut");
    let spool = Spool::open(&root, options).unwrap();
    for cut in last_start..=log.len() {
        std::fs::write(
            root.join("wal").join(format!("{:016x}.wal", 1)),
            &log[..cut],
        )
        .unwrap();
        let report = spool.recover().unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let complete = cut == log.len();
        assert_eq!(
            report.torn,
            usize::from(cut != last_start && !complete),
            "cut {cut}"
        );
        assert_eq!(report.records, if complete { 3 } else { 2 }, "cut {cut}");
        let census = fixture::census(&spool);
        for (i, record_ids) in ids.iter().enumerate() {
            for id in record_ids {
                let expect_present = i < 2 || complete;
                assert_eq!(census.contains_key(id), expect_present, "cut {cut}, {id}");
                if expect_present {
                    assert_eq!(
                        spool.read_body(id).unwrap(),
                        fixture::message(&format!("cut{i}"))
                    );
                }
            }
        }
        assert_eq!(
            census.len(),
            if complete { 5 } else { 4 },
            "cut {cut}: no torn entry"
        );
        for (id, stages) in census {
            spool.remove(stages[0], &id).unwrap();
        }
    }
}

#[test]
fn recovery_repairs_entries_a_power_loss_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, log, _) = three_record_log(dir.path());
    let spool = fixture::open(dir.path());
    // Put the log back as if the checkpoint had not happened, then damage the files it made.
    std::fs::write(
        spool.root().join("wal").join(format!("{:016x}.wal", 1)),
        &log,
    )
    .unwrap();
    let envelope = spool.root().join("incoming").join(ids[0][0].bucket());
    std::fs::write(envelope.join(format!("{}.json", ids[0][0])), b"").unwrap();
    std::fs::write(spool.body_path(&ids[1][1]), b"").unwrap();
    std::fs::remove_file(spool.body_path(&ids[2][0])).unwrap();
    assert_eq!(ids[2].len(), 1);
    let report = spool.recover().unwrap();
    assert_eq!(report.present, 5);
    // Four, not three: the two entries of the second record share one body inode.
    assert_eq!(report.repaired, 4);
    assert_eq!(report.replayed, 0);
    for (i, record_ids) in ids.iter().enumerate() {
        for id in record_ids {
            assert_eq!(
                spool.read_body(id).unwrap(),
                fixture::message(&format!("cut{i}"))
            );
            spool.read_meta(Stage::Incoming, id).unwrap();
        }
    }
}

#[test]
fn consumed_entries_are_not_replayed_and_orphans_go_to_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, log, _) = three_record_log(dir.path());
    let spool = Spool::open(
        dir.path().join("spool"),
        Options {
            orphan_grace: std::time::Duration::ZERO,
            ..Options::default()
        },
    )
    .unwrap();
    let wal = spool.root().join("wal").join(format!("{:016x}.wal", 1));
    std::fs::write(&wal, &log).unwrap();
    // Removed while the log was live: noted in the consumed log, so not brought back.
    spool.remove(Stage::Incoming, &ids[0][0]).unwrap();
    assert_eq!(fixture::wal_files(&spool, "consumed").len(), 1);
    // Removed behind the spool's back (no consumed note): replayed.
    std::fs::remove_file(
        spool
            .root()
            .join("incoming")
            .join(ids[1][0].bucket())
            .join(format!("{}.json", ids[1][0])),
    )
    .unwrap();
    // A body nobody refers to.
    let stray = EntryId::generate();
    std::fs::create_dir_all(spool.body_path(&stray).parent().unwrap()).unwrap();
    std::fs::write(spool.body_path(&stray), b"stray").unwrap();
    let report = spool.recover().unwrap();
    assert_eq!(report.consumed, 1);
    assert_eq!(report.replayed, 1);
    assert_eq!(report.orphans, 1);
    let census = fixture::census(&spool);
    assert!(!census.contains_key(&ids[0][0]));
    assert!(!spool.body_path(&ids[0][0]).exists());
    assert!(census.contains_key(&ids[1][0]));
    assert!(!spool.body_path(&stray).exists());
    let moved = spool
        .root()
        .join("corrupt")
        .join(stray.bucket())
        .join(format!("{stray}.eml"));
    assert_eq!(std::fs::read(moved).unwrap(), b"stray");
    assert!(fixture::wal_files(&spool, "consumed").is_empty());
}

#[test]
fn recovery_with_resident_consumed_rewritten_and_half_written_entries_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    let committer = spool
        .start_committer(CommitterOptions {
            materialize_after: std::time::Duration::from_secs(3600),
            checkpoint_interval: std::time::Duration::from_secs(3600),
            ..CommitterOptions::default()
        })
        .unwrap();
    let ids: Vec<EntryId> = (0..5)
        .map(|i| {
            committer
                .submit_wait(fixture::submission(&format!("s{i}"), 1))
                .unwrap()[0]
                .clone()
        })
        .collect();
    spool.remove(Stage::Incoming, &ids[0]).unwrap();
    spool
        .move_entry(
            &ids[1],
            Stage::Incoming,
            Stage::Incoming,
            Durability::Lazy,
            |m| {
                m.attrs.insert("post_number".into(), 41.into());
            },
        )
        .unwrap();
    spool
        .move_entry(
            &ids[2],
            Stage::Incoming,
            Stage::Held,
            Durability::Lazy,
            |_| {},
        )
        .unwrap();
    // What a kill -9 at this moment leaves on disk: the log and its consumed log, the moved
    // entry's files, nothing for the resident entries.
    let wal = spool.root().join("wal");
    let crash_log: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "LOCK"))
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    committer.shutdown().unwrap();
    for (path, bytes) in &crash_log {
        std::fs::write(path, bytes).unwrap();
    }
    let envelope = |stage: Stage, id: &EntryId| {
        spool
            .root()
            .join(stage.as_str())
            .join(id.bucket())
            .join(format!("{id}.json"))
    };
    for id in [&ids[1], &ids[3], &ids[4]] {
        std::fs::remove_file(envelope(Stage::Incoming, id)).unwrap();
        std::fs::remove_file(spool.body_path(id)).unwrap();
    }
    // ids[4] was being written when the process died: half its body, no envelope.
    std::fs::write(spool.body_path(&ids[4]), &fixture::message("s4")[..20]).unwrap();

    let report = spool.recover().unwrap();
    assert_eq!(
        (
            report.records,
            report.consumed,
            report.present,
            report.replayed,
            report.torn
        ),
        (5, 1, 1, 3, 0),
        "{report:?}"
    );
    let census = fixture::census(&spool);
    assert_eq!(census.len(), 4);
    assert!(!census.contains_key(&ids[0]));
    assert_eq!(census[&ids[2]], vec![Stage::Held]);
    for (i, id) in ids.iter().enumerate().skip(1) {
        assert_eq!(
            spool.read_body(id).unwrap(),
            fixture::message(&format!("s{i}"))
        );
    }
    let rewritten = spool.read_meta(Stage::Incoming, &ids[1]).unwrap();
    assert_eq!(rewritten.attrs["post_number"], 41);
    assert!(spool.list(Stage::Corrupt).unwrap().is_empty());
    assert!(fixture::wal_files(&spool, "wal").is_empty());
    assert!(fixture::wal_files(&spool, "consumed").is_empty());
}
