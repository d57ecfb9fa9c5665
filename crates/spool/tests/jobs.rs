//! Delivery jobs: recipients, batch progress, resuming after a crash, idempotent creation.

mod fixture;

use mailcast_spool::{EntryId, EntryMeta, Error, Outcome, OutcomeStatus, Stage};

fn job_meta(id: &EntryId) -> EntryMeta {
    EntryMeta::new(
        id.clone(),
        Stage::Outgoing,
        "ann@lists.example.org",
        "ann-bounces@lists.example.org",
        "",
    )
}

fn recipients(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("member{i}@example.com"))
}

#[test]
fn a_resumed_job_skips_finished_batches() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let parent = EntryId::generate();
    let id = parent.derive("out").unwrap();
    let body = fixture::message("job");
    spool
        .create_job(Stage::Outgoing, job_meta(&id), &body, recipients(1050), 100)
        .unwrap();

    let progress = spool.progress(&id).unwrap();
    assert_eq!(
        (progress.recipients, progress.batch_size, progress.batches()),
        (1050, 100, 11)
    );
    let deferred = Outcome {
        recipient: "member205@example.com".into(),
        status: OutcomeStatus::Deferred {
            code: 451,
            text: "4.3.0 try later".into(),
        },
    };
    let failed = Outcome {
        recipient: "member301@example.com".into(),
        status: OutcomeStatus::Failed {
            code: 550,
            text: "5.1.1 no such user".into(),
        },
    };
    for batch in [0, 1, 2, 3, 5] {
        let outcomes = match batch {
            2 => vec![deferred.clone()],
            3 => vec![failed.clone()],
            _ => vec![],
        };
        spool.record_batch(&id, batch, &outcomes).unwrap();
    }
    // A crash in the middle of an append leaves a torn line.
    use std::io::Write;
    let progress_file = spool.body_path(&id).with_extension("progress");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&progress_file)
        .unwrap()
        .write_all(b"{\"batch\":4,\"outco")
        .unwrap();
    drop(spool);

    // "Restart": a new handle, recovery, then resume.
    let spool = fixture::open(dir.path());
    spool.recover().unwrap();
    assert_eq!(spool.find(&id).unwrap(), Some(Stage::Outgoing));
    let progress = spool.progress(&id).unwrap();
    assert_eq!(progress.pending(), vec![4, 6, 7, 8, 9, 10]);
    assert_eq!(progress.outcomes, vec![(2, deferred), (3, failed)]);
    let pending: Vec<(u64, Vec<String>)> = spool
        .pending_batches(&id)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let numbers: Vec<u64> = pending.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, vec![4, 6, 7, 8, 9, 10]);
    assert_eq!(pending[0].1.first().unwrap(), "member400@example.com");
    let last_batch: Vec<String> = (1000..1050)
        .map(|i| format!("member{i}@example.com"))
        .collect();
    assert_eq!(
        pending[5].1, last_batch,
        "the last batch is the 50 remaining recipients"
    );
    for (batch, _) in &pending {
        spool.record_batch(&id, *batch, &[]).unwrap();
    }
    assert!(spool.progress(&id).unwrap().is_complete());
    assert_eq!(spool.pending_batches(&id).unwrap().count(), 0);
    assert_eq!(spool.read_body(&id).unwrap(), body);
    assert_eq!(spool.recipients(&id).unwrap().count(), 1050);
}

#[test]
fn creating_a_job_twice_is_detected_and_removal_takes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let id = EntryId::generate().derive("out").unwrap();
    let body = fixture::message("twice");
    spool
        .create_job(Stage::Outgoing, job_meta(&id), &body, recipients(3), 2)
        .unwrap();
    let again = spool.create_job(Stage::Deferred, job_meta(&id), &body, recipients(3), 2);
    assert!(matches!(again, Err(Error::Exists(_))));
    let bucket = spool.body_path(&id).parent().unwrap().to_path_buf();
    let files = |suffix: &str| bucket.join(format!("{id}.{suffix}")).exists();
    assert!(files("eml") && files("rcpt") && files("progress"));
    spool.remove(Stage::Outgoing, &id).unwrap();
    assert!(!files("eml") && !files("rcpt") && !files("progress"));
    assert_eq!(spool.find(&id).unwrap(), None);
    assert!(matches!(
        spool.record_batch(&id, 0, &[]),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn recipient_lines_with_line_breaks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let id = EntryId::generate();
    let lines = vec![
        "a@example.com".to_string(),
        "b@example.com\r\nRCPT TO:<x>".to_string(),
    ];
    let result = spool.create_job(Stage::Outgoing, job_meta(&id), b"x", lines.into_iter(), 10);
    assert!(matches!(result, Err(Error::Invalid(_))));
    assert_eq!(spool.find(&id).unwrap(), None);
}

#[test]
fn concurrent_batch_records_on_different_jobs_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let spool = fixture::open(dir.path());
    let ids: Vec<EntryId> = (0..4).map(|_| EntryId::generate()).collect();
    for id in &ids {
        spool
            .create_job(Stage::Outgoing, job_meta(id), b"x", recipients(200), 10)
            .unwrap();
    }
    std::thread::scope(|scope| {
        for id in &ids {
            let spool = spool.clone();
            scope.spawn(move || {
                for batch in 0..20 {
                    spool.record_batch(id, batch, &[]).unwrap();
                }
            });
        }
    });
    for id in &ids {
        assert!(spool.progress(id).unwrap().is_complete());
    }
}
