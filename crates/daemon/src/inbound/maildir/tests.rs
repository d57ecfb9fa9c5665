//! The reader against a real spool and SQLite store in a temporary directory, with messages
//! delivered the way Postfix's virtual(8) does it (written in `tmp/`, then linked into `new/`).
//! The rescan interval is a minute, so anything taken after the first pass was found through
//! inotify. tests/postfix.rs drives the same reader through a real Postfix.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use mailcast_model::{DomainName, ListAddress};
use mailcast_spool::{EntryId, EntryMeta, Envelope, Spool, Stage};
use mailcast_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::Settings;
use crate::directory::Directory;
use crate::runner::Wakeup;

/// How long a test waits for the reader before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

struct Env {
    dir: tempfile::TempDir,
    settings: Settings,
    store: Store,
    spool: Spool,
    directory: Directory,
    shutdown: CancellationToken,
    wake_rx: Option<mpsc::UnboundedReceiver<Wakeup>>,
    task: Option<JoinHandle<()>>,
}

impl Env {
    /// A var directory with domain a.test and list dev@a.test; the reader is not started.
    async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let text = "[paths]\nvar_dir = \"var\"\n[maildir]\nscan_interval_ms = 60000\n";
        let settings = Settings::from_toml(text, dir.path(), None).unwrap();
        std::fs::create_dir_all(&settings.var_dir).unwrap();
        let store = Store::open(&settings.database_url).await.unwrap();
        store
            .add_domain(&DomainName::parse("a.test").unwrap(), None, "")
            .await
            .unwrap();
        store
            .create_list(&ListAddress::parse("dev@a.test").unwrap())
            .await
            .unwrap();
        let spool = Spool::open(settings.spool_dir(), Default::default()).unwrap();
        let directory = Directory::load(&store).await.unwrap();
        Env {
            dir,
            settings,
            store,
            spool,
            directory,
            shutdown: CancellationToken::new(),
            wake_rx: None,
            task: None,
        }
    }

    fn base(&self) -> PathBuf {
        self.settings.maildir_path.clone()
    }

    fn start(&mut self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = start(
            &self.settings,
            &self.store,
            &self.spool,
            &self.directory,
            tx,
            self.shutdown.clone(),
        );
        self.task = Some(task.expect("the reader starts"));
        self.wake_rx = Some(rx);
    }

    /// Delivers like virtual(8): the message is complete in `tmp/` before it appears in `new/`.
    fn deliver(&self, maildir: &str, name: &str, message: &[u8]) -> PathBuf {
        let dir = self.base().join(maildir);
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let tmp = dir.join("tmp").join(name);
        std::fs::write(&tmp, message).unwrap();
        let new = dir.join("new").join(name);
        std::fs::hard_link(&tmp, &new).unwrap();
        std::fs::remove_file(&tmp).unwrap();
        new
    }

    /// Waits until `stage` holds `n` entries, and returns their envelopes.
    async fn wait_for(&self, stage: Stage, n: usize) -> Vec<EntryMeta> {
        let started = Instant::now();
        loop {
            let ids = self.spool.list(stage).unwrap();
            if ids.len() >= n {
                assert_eq!(ids.len(), n, "more entries in {stage} than expected");
                return ids
                    .iter()
                    .map(|id| self.spool.read_meta(stage, id).unwrap())
                    .collect();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{} of {n} entries in {stage}",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `path` is gone (the reader unlinks a file just after its entry appears).
    async fn wait_gone(&self, path: &Path) {
        let started = Instant::now();
        while path.exists() {
            assert!(
                started.elapsed() < PATIENCE,
                "{} is still there",
                path.display()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.dir
    }
}

fn message(return_path: &str, delivered_to: &str, subject: &str) -> Vec<u8> {
    format!(
        "Return-Path: <{return_path}>\nX-Original-To: {delivered_to}\nDelivered-To: {delivered_to}\n\
         Received: from [127.0.0.1] by mta.test (Postfix);\n\tMon, 30 Nov 2026 02:19:05 +0000\n\
         From: {return_path}\nSubject: {subject}\nMessage-ID: <{subject}@remote.test>\n\nbody of {subject}\n"
    )
    .into_bytes()
}

fn attr<'m>(meta: &'m EntryMeta, key: &str) -> Option<&'m serde_json::Value> {
    meta.attrs.get(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_are_taken_by_hard_link_with_the_envelope_postfix_wrote() {
    let mut env = Env::new().await;
    let text = message("anne@remote.test", "DEV+topic@a.test", "first");
    let file = env.deliver("a.test/dev", "1796005149.Vfe00I9980d7M602797.mta", &text);
    let inode = std::fs::metadata(&file).unwrap().ino();
    env.start();

    let metas = env.wait_for(Stage::Incoming, 1).await;
    let meta = &metas[0];
    assert_eq!(
        meta.id,
        EntryId::from_maildir_name("1796005149.Vfe00I9980d7M602797.mta")
    );
    assert_eq!(meta.list, "dev@a.test");
    assert_eq!(meta.subaddress, None);
    assert_eq!(meta.mail_from, "anne@remote.test");
    assert_eq!(meta.rcpt_to, "DEV+topic@a.test");
    assert_eq!(meta.extension.as_deref(), Some("topic"));
    assert_eq!(
        attr(meta, ATTR_FIXED_UP),
        Some(&serde_json::Value::Bool(false))
    );
    assert_eq!(
        attr(meta, ATTR_MAILDIR),
        Some(&serde_json::json!("a.test/dev"))
    );
    // Stored as is, and the very same inode: no copy was made.
    assert_eq!(env.spool.read_body_of(meta).unwrap(), text);
    assert_eq!(
        std::fs::metadata(env.spool.body_path(&meta.id))
            .unwrap()
            .ino(),
        inode
    );
    env.wait_gone(&file).await;
    let wake = env.wake_rx.as_mut().unwrap().recv().await;
    assert!(matches!(wake, Some(Wakeup::Scan)), "{wake:?}");

    // The first pass is over and the rescan is a minute away: inotify finds the rest, in an
    // existing Maildir and in one that did not exist yet.
    env.deliver(
        "a.test/dev",
        "1796005150.Vfe00I99M1.mta",
        &message("bert@remote.test", "dev@a.test", "second"),
    );
    env.deliver(
        "a.test/dev-request",
        "1796005151.Vfe00I99M2.mta",
        &message("carl@remote.test", "dev-request@a.test", "third"),
    );
    env.deliver(
        "a.test/dev-bounces",
        "1796005152.Vfe00I99M3.mta",
        &message("", "dev-bounces+anne=x.test@a.test", "dsn"),
    );
    let incoming = env.wait_for(Stage::Incoming, 2).await;
    assert_eq!(incoming[1].mail_from, "bert@remote.test");
    assert_eq!(incoming[1].rcpt_to, "dev@a.test");
    assert_eq!(incoming[1].extension, None);
    let command = env.wait_for(Stage::Command, 1).await;
    assert_eq!(
        (command[0].list.as_str(), command[0].subaddress.as_deref()),
        ("dev@a.test", Some("request"))
    );
    let bounces = env.wait_for(Stage::Bounces, 1).await;
    assert_eq!(
        bounces[0].mail_from, "",
        "Return-Path: <> is the null sender"
    );
    assert_eq!(bounces[0].extension.as_deref(), Some("anne=x.test"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_to_of_another_address_is_ignored() {
    let mut env = Env::new().await;
    // Forwarded mail: the first Delivered-To names some other list.
    env.deliver(
        "a.test/dev",
        "1796005149.V1I1M1.mta",
        &message("anne@remote.test", "other@b.test", "fwd"),
    );
    env.deliver(
        "a.test/dev",
        "1796005149.V1I1M2.mta",
        &message("anne@remote.test", "dev-owner+x@a.test", "own"),
    );
    env.start();
    let metas = env.wait_for(Stage::Incoming, 2).await;
    for meta in &metas {
        assert_eq!(
            (meta.rcpt_to.as_str(), meta.extension.as_deref()),
            ("dev@a.test", None)
        );
        assert_eq!(meta.subaddress, None);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maildir_of_no_list_is_shunted_with_the_reason() {
    let mut env = Env::new().await;
    let file = env.deliver(
        "a.test/gone-bounces",
        "1796005149.V1I1M1.mta",
        &message("", "gone-bounces@a.test", "x"),
    );
    env.start();
    let metas = env.wait_for(Stage::Shunt, 1).await;
    let meta = &metas[0];
    assert_eq!(
        (meta.list.as_str(), meta.subaddress.as_deref()),
        ("gone@a.test", Some("bounces"))
    );
    assert_eq!(
        attr(meta, ATTR_WHICH_STAGE),
        Some(&serde_json::json!("bounces"))
    );
    let reason = attr(meta, ATTR_SHUNT_REASON)
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    assert!(
        reason.contains("no list for Maildir a.test/gone-bounces"),
        "{reason}"
    );
    env.wait_gone(&file).await;
    assert!(env.spool.list(Stage::Incoming).unwrap().is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_created_after_the_snapshot_is_found() {
    let mut env = Env::new().await;
    env.start();
    // The reader's snapshot predates this list; the store has it.
    env.store
        .create_list(&ListAddress::parse("fresh@a.test").unwrap())
        .await
        .unwrap();
    env.deliver(
        "a.test/fresh",
        "1796005149.V1I1M1.mta",
        &message("anne@remote.test", "fresh@a.test", "x"),
    );
    let metas = env.wait_for(Stage::Incoming, 1).await;
    assert_eq!(metas[0].list, "fresh@a.test");
    assert!(env.spool.list(Stage::Shunt).unwrap().is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_conventions_are_kept() {
    let mut env = Env::new().await;
    let dev = env.base().join("a.test/dev");
    env.deliver(
        "a.test/dev",
        "1796005149.V1I1M1.mta",
        &message("anne@remote.test", "dev@a.test", "x"),
    );
    let hidden = dev.join("new/.1796005149.V1I1M9.mta");
    std::fs::write(&hidden, "hidden").unwrap();
    std::fs::create_dir(dev.join("new/1796005149.dir")).unwrap();
    let target = env.dir.path().join("elsewhere");
    std::fs::write(&target, message("x@remote.test", "dev@a.test", "link")).unwrap();
    std::os::unix::fs::symlink(&target, dev.join("new/1796005149.V1I1M8.mta")).unwrap();
    let young = dev.join("tmp/1796005149.young");
    std::fs::write(&young, "delivery in progress").unwrap();
    let stale = dev.join("tmp/1796005149.stale");
    std::fs::write(&stale, "left by a crashed delivery").unwrap();
    let old = SystemTime::now() - TMP_MAX_AGE - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    std::fs::create_dir_all(env.base().join(".hidden-domain/dev/new")).unwrap();
    std::fs::write(
        env.base()
            .join(".hidden-domain/dev/new/1796005149.V1I1M7.mta"),
        "x",
    )
    .unwrap();
    env.start();

    env.wait_for(Stage::Incoming, 1).await;
    assert!(
        hidden.exists() && young.exists() && target.exists(),
        "dot files, young tmp files, link targets stay"
    );
    assert!(
        dev.join("new/1796005149.V1I1M8.mta").exists(),
        "a symbolic link is not taken"
    );
    assert!(!stale.exists(), "a tmp file older than 36 hours is removed");
    assert!(
        env.base()
            .join(".hidden-domain/dev/new/1796005149.V1I1M7.mta")
            .exists()
    );
    assert!(env.spool.list(Stage::Shunt).unwrap().is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_adopted_before_a_crash_is_only_removed() {
    let mut env = Env::new().await;
    let name = "1796005149.V1I1M1.mta";
    let file = env.deliver(
        "a.test/dev",
        name,
        &message("anne@remote.test", "dev@a.test", "x"),
    );
    // The crash: the entry was made durable from this very file, which was not unlinked yet.
    let aside = env.dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    std::fs::hard_link(&file, aside.join(name)).unwrap();
    let envelope = Envelope::new(
        Stage::Incoming,
        "dev@a.test",
        "anne@remote.test",
        "dev@a.test",
    );
    let id = env.spool.adopt_file(&aside.join(name), envelope).unwrap();
    env.start();
    assert!(
        !file.exists(),
        "start() removes files whose entry exists before the first pass"
    );
    // Let the first pass run, then check nothing was adopted twice.
    env.deliver(
        "a.test/dev",
        "1796005150.V1I1M2.mta",
        &message("anne@remote.test", "dev@a.test", "y"),
    );
    let metas = env.wait_for(Stage::Incoming, 2).await;
    assert_eq!(metas.iter().filter(|m| m.id == id).count(), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_name_in_two_maildirs_loses_nothing() {
    let mut env = Env::new().await;
    env.store
        .create_list(&ListAddress::parse("other@a.test").unwrap())
        .await
        .unwrap();
    // Both names give the same entry id; only one can be in the spool at a time.
    let name = "1796005149.V1I1M1.mta";
    let one = message("anne@remote.test", "dev@a.test", "one");
    let two = message("bert@remote.test", "other@a.test", "two");
    let dev = env.deliver("a.test/dev", name, &one);
    let other = env.deliver("a.test/other", name, &two);
    env.start();
    let first = env.wait_for(Stage::Incoming, 1).await.remove(0);
    let (waiting, maildir, body, later) = if first.list == "dev@a.test" {
        (other, "a.test/other", one, two)
    } else {
        (dev, "a.test/dev", two, one)
    };
    assert_eq!(env.spool.read_body_of(&first).unwrap(), body);
    assert!(waiting.exists(), "the second file waits in new/");
    // Once the runners are done with the first, the second goes in.
    env.spool.remove(Stage::Incoming, &first.id).unwrap();
    env.deliver(
        maildir,
        "1796005150.V1I1M2.mta",
        &message("carl@remote.test", "x@a.test", "nudge"),
    );
    let metas = env.wait_for(Stage::Incoming, 2).await;
    env.wait_gone(&waiting).await;
    let second = metas
        .iter()
        .find(|m| m.id == first.id)
        .expect("the waiting file was taken");
    assert_eq!(env.spool.read_body_of(second).unwrap(), later);
    env.stop().await;
}

#[tokio::test]
async fn disabled_reader_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[paths]\nvar_dir = \"var\"\n[maildir]\nenabled = false\n";
    let settings = Settings::from_toml(text, dir.path(), None).unwrap();
    std::fs::create_dir_all(&settings.var_dir).unwrap();
    let store = Store::open(&settings.database_url).await.unwrap();
    let spool = Spool::open(settings.spool_dir(), Default::default()).unwrap();
    let directory = Directory::load(&store).await.unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    assert!(
        start(
            &settings,
            &store,
            &spool,
            &directory,
            tx,
            CancellationToken::new()
        )
        .is_none()
    );
    assert!(!Path::new(&settings.maildir_path).exists());
}
