//! Reading, moving and removing entries; corrupt entries; the direct and Maildir ways in;
//! inspection.

mod fixture;

use mailcast_spool::{Durability, EntryId, EntryMeta, Error, Stage};

#[test]
fn moves_keep_an_entry_in_exactly_one_stage_and_apply_the_update() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let id = spool
        .commit_direct(fixture::submission("move", 1))
        .unwrap()
        .remove(0);
    let path = [
        Stage::Held,
        Stage::Incoming,
        Stage::Outgoing,
        Stage::Deferred,
        Stage::Shunt,
    ];
    let mut from = Stage::Incoming;
    for (n, to) in path.into_iter().enumerate() {
        let durability = if n % 2 == 0 {
            Durability::Sync
        } else {
            Durability::Lazy
        };
        let meta = spool
            .move_entry(&id, from, to, durability, |meta| {
                meta.attempts += 1;
                meta.attrs.insert("whichq".into(), from.as_str().into());
            })
            .unwrap();
        assert_eq!(meta.stage, to);
        let census = fixture::census(&spool);
        assert_eq!(census[&id], vec![to], "after moving to {to}");
        let stored = spool.read_meta(to, &id).unwrap();
        assert_eq!(stored.attempts, n as u32 + 1);
        assert_eq!(stored.attrs["whichq"], from.as_str());
        assert_eq!(stored.stage, to);
        from = to;
    }
    // Rewriting in place.
    spool
        .move_entry(&id, from, from, Durability::Sync, |m| {
            m.last_error = Some("4.4.1".into())
        })
        .unwrap();
    assert_eq!(
        spool.read_meta(from, &id).unwrap().last_error.as_deref(),
        Some("4.4.1")
    );
    assert_eq!(spool.find(&id).unwrap(), Some(Stage::Shunt));
    assert!(matches!(
        spool.move_entry(&id, Stage::Incoming, Stage::Held, Durability::Sync, |_| {}),
        Err(Error::NotFound(_))
    ));
    assert_eq!(spool.read_body(&id).unwrap(), fixture::message("move"));
}

#[test]
fn unreadable_envelopes_and_bad_bodies_move_to_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let ids = spool.commit_direct(fixture::submission("bad", 3)).unwrap();
    let envelope = |stage: Stage, id: &EntryId| {
        spool
            .root()
            .join(stage.as_str())
            .join(id.bucket())
            .join(format!("{id}.json"))
    };
    // Bad JSON.
    std::fs::write(envelope(Stage::Incoming, &ids[0]), b"{not json").unwrap();
    assert!(matches!(
        spool.read_meta(Stage::Incoming, &ids[0]),
        Err(Error::Corrupt { .. })
    ));
    assert_eq!(spool.find(&ids[0]).unwrap(), Some(Stage::Corrupt));
    assert_eq!(
        std::fs::read(envelope(Stage::Corrupt, &ids[0])).unwrap(),
        b"{not json"
    );
    // Unknown version.
    let text = std::fs::read_to_string(envelope(Stage::Incoming, &ids[1])).unwrap();
    std::fs::write(
        envelope(Stage::Incoming, &ids[1]),
        text.replace("\"version\": 1", "\"version\": 9"),
    )
    .unwrap();
    assert!(matches!(
        spool.read_meta(Stage::Incoming, &ids[1]),
        Err(Error::Corrupt { .. })
    ));
    assert_eq!(spool.find(&ids[1]).unwrap(), Some(Stage::Corrupt));
    // A body that does not match its hash (a new file, so the shared inode is untouched).
    let body = spool.body_path(&ids[2]);
    std::fs::remove_file(&body).unwrap();
    std::fs::write(&body, b"tampered").unwrap();
    assert!(matches!(
        spool.read_body(&ids[2]),
        Err(Error::Corrupt { .. })
    ));
    assert_eq!(spool.find(&ids[2]).unwrap(), Some(Stage::Corrupt));
    // Missing body.
    let id = spool
        .commit_direct(fixture::submission("gone", 1))
        .unwrap()
        .remove(0);
    std::fs::remove_file(spool.body_path(&id)).unwrap();
    assert!(matches!(spool.read_body(&id), Err(Error::Corrupt { .. })));
    assert_eq!(spool.list(Stage::Corrupt).unwrap().len(), 4);
    assert!(spool.list(Stage::Incoming).unwrap().is_empty());
}

#[test]
fn written_entries_are_detected_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let parent = EntryId::generate();
    let notice = parent.derive("notice").unwrap();
    let meta = EntryMeta::new(
        notice.clone(),
        Stage::Outgoing,
        "ann@lists.example.org",
        "",
        "owner@x",
    );
    let stored = spool
        .write_entry(Stage::Outgoing, meta.clone(), b"notice body")
        .unwrap();
    assert_eq!(stored.body_len, 11);
    assert_eq!(stored.original_size, 11);
    assert!(matches!(
        spool.write_entry(Stage::Outgoing, meta, b"again"),
        Err(Error::Exists(_))
    ));
    assert_eq!(spool.read_body(&notice).unwrap(), b"notice body");
    assert_eq!(parent.derive("notice").unwrap(), notice);
}

#[test]
fn lists_are_sorted_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.extend(
            spool
                .commit_direct(fixture::submission(&format!("s{i}"), 1))
                .unwrap(),
        );
    }
    assert_eq!(spool.list(Stage::Incoming).unwrap(), ids);
}

#[test]
fn adopting_a_maildir_file_links_it_and_a_rerun_only_unlinks_the_source() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let maildir = dir.path().join("maildir/new");
    std::fs::create_dir_all(&maildir).unwrap();
    let source = maildir.join("1700000000.V801I2M3.host");
    std::fs::write(&source, fixture::message("maildir")).unwrap();
    let inode = std::fs::metadata(&source).unwrap().ino();

    let id = spool
        .adopt_file(&source, fixture::envelope(Stage::Incoming))
        .unwrap();
    assert_eq!(id, EntryId::from_maildir_name("1700000000.V801I2M3.host"));
    assert!(!source.exists());
    assert_eq!(
        std::fs::metadata(spool.body_path(&id)).unwrap().ino(),
        inode,
        "not copied"
    );
    let meta = spool.read_meta(Stage::Incoming, &id).unwrap();
    assert_eq!(meta.body_len, fixture::message("maildir").len() as u64);
    assert_eq!(spool.read_body(&id).unwrap(), fixture::message("maildir"));

    // A crash after the envelope was written but before the source was unlinked.
    std::fs::hard_link(spool.body_path(&id), &source).unwrap();
    assert_eq!(
        spool
            .adopt_file(&source, fixture::envelope(Stage::Incoming))
            .unwrap(),
        id
    );
    assert!(!source.exists());
    assert_eq!(fixture::census(&spool).len(), 1);

    // A crash after the link but before the envelope: the rerun completes the adoption.
    let second = maildir.join("1700000001.V801I2M4.host");
    std::fs::write(&second, fixture::message("second")).unwrap();
    let id2 = EntryId::from_maildir_name("1700000001.V801I2M4.host");
    std::fs::create_dir_all(spool.body_path(&id2).parent().unwrap()).unwrap();
    std::fs::hard_link(&second, spool.body_path(&id2)).unwrap();
    assert_eq!(
        spool
            .adopt_file(&second, fixture::envelope(Stage::Incoming))
            .unwrap(),
        id2
    );
    assert_eq!(spool.read_body(&id2).unwrap(), fixture::message("second"));
}

#[test]
fn inspection_counts_and_summarizes_without_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let ids = spool
        .commit_direct(fixture::submission("inspect", 2))
        .unwrap();
    spool
        .move_entry(
            &ids[1],
            Stage::Incoming,
            Stage::Held,
            Durability::Sync,
            |_| {},
        )
        .unwrap();
    let job = EntryId::generate();
    let meta = EntryMeta::new(
        job.clone(),
        Stage::Outgoing,
        "ann@lists.example.org",
        "",
        "",
    );
    spool
        .create_job(
            Stage::Outgoing,
            meta,
            b"x",
            ["a@x".to_string()].into_iter(),
            10,
        )
        .unwrap();
    let counts = spool.counts().unwrap();
    let count = |stage| counts.iter().find(|(s, _)| *s == stage).unwrap().1;
    assert_eq!(
        (
            count(Stage::Incoming),
            count(Stage::Held),
            count(Stage::Outgoing)
        ),
        (1, 1, 1)
    );
    let summary = spool.summary(Stage::Outgoing, &job).unwrap();
    assert_eq!(summary.job.unwrap().recipients, 1);
    // An unreadable envelope is reported, not moved.
    let path = spool
        .root()
        .join("held")
        .join(ids[1].bucket())
        .join(format!("{}.json", ids[1]));
    std::fs::write(&path, b"garbage").unwrap();
    let summary = spool.summary(Stage::Held, &ids[1]).unwrap();
    assert!(summary.meta.is_none() && summary.problem.is_some());
    assert_eq!(spool.find(&ids[1]).unwrap(), Some(Stage::Held));
    assert_eq!(spool.summaries(Stage::Incoming).unwrap().len(), 1);
}
