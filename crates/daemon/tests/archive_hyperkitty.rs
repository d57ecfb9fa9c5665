//! The HyperKitty archiver against a real HyperKitty 1.3.12 (`scripts/hyperkitty-up.sh`,
//! `contrib/hyperkitty/`): posts over LMTP to a list whose site enables HyperKitty and mbox,
//! then read back through HyperKitty's own REST API and pages.
//!
//! - Each post is in HyperKitty under its `Message-ID-Hash`, the reply in its parent's
//!   thread; the delivered copy's `Archived-At` and `List-Archive` open (200) and show it.
//! - A refused post (a wrong key) is shunted after `max_attempts`, and `mailcast queue retry`
//!   sends it back to HyperKitty once the key is right.
//! - HyperKitty silent (attempts run into their timeout), then down: the posts are delivered
//!   at once, the archive entries wait with their attempts counted, and HyperKitty gets them
//!   when it comes up; the mbox has each once.
//!
//! Needs `<repo>/.venv-hyperkitty` (made by `scripts/tools-install.sh`, which runs
//! `scripts/hyperkitty-up.sh --install`). Without it the tests fail under `CI=true` and are
//! skipped otherwise.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mailcast_outbound::sink::{Received, Sink, SinkConfig};
use support::{Site, free_port, header, message_with, post, received_by, sink_port, start_sink};
use tokio::process::{Child, Command};

const LIST: &str = "ant@example.org";
const MEMBERS: [&str; 2] = ["anne@example.com", "bart@example.net"];
const KEY: &str = "test-archiver-key";
/// HyperKitty's first start runs its migrations.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// One attempt to reach HyperKitty.
const TIMEOUT: Duration = Duration::from_secs(6);
/// Long enough for the first retries (10 s, then 20 s) of an archive entry.
const ARCHIVE_DEADLINE: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What is missing to run the tests, if anything.
fn missing() -> Option<String> {
    let python = repo().join(".venv-hyperkitty/bin/python");
    let works = std::process::Command::new(&python)
        .args(["-c", "import hyperkitty, whoosh"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!works).then(|| format!("{} cannot import hyperkitty and whoosh", python.display()))
}

/// Whether to go on; fails under `CI=true` when HyperKitty is not installed.
fn can_run() -> bool {
    let Some(why) = missing() else {
        return true;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the HyperKitty tests cannot run: {why}; run scripts/tools-install.sh"
    );
    eprintln!("skipped: {why} (run scripts/tools-install.sh)");
    false
}

/// HyperKitty, run by `scripts/hyperkitty-up.sh` in its own process group; the group is
/// killed when dropped.
struct HyperKitty {
    child: Child,
    listen: String,
    log: PathBuf,
}

impl HyperKitty {
    /// Prepares and starts HyperKitty on `port` with its state under the site, and waits
    /// until it accepts connections.
    async fn start(site: &Site, port: u16) -> HyperKitty {
        let listen = format!("127.0.0.1:{port}");
        let log = site.path(&format!("hyperkitty-{port}.log"));
        let file = std::fs::File::create(&log).expect("create the HyperKitty log");
        let child = Command::new(repo().join("scripts/hyperkitty-up.sh"))
            .env("HYPERKITTY_LISTEN", &listen)
            .env("HYPERKITTY_STATE", site.path("hyperkitty"))
            .env("HYPERKITTY_ARCHIVER_KEY", KEY)
            .env("MAILCAST_REST_URL", format!("http://{}", site.rest))
            .env("MAILCAST_REST_USER", "restadmin")
            .env("MAILCAST_REST_PASS", "restpass")
            .env_remove("HYPERKITTY_ALLOWED_HOSTS")
            .env_remove("HYPERKITTY_ARCHIVER_FROM")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("the log"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("run scripts/hyperkitty-up.sh");
        let mut hk = HyperKitty { child, listen, log };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(&hk.listen).await.is_err() {
            if let Ok(Some(status)) = hk.child.try_wait() {
                panic!("HyperKitty exited with {status}:\n{}", hk.tail());
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "HyperKitty did not start within {START_DEADLINE:?}:\n{}",
                hk.tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        hk
    }

    /// The base URL mailcast is configured with.
    fn base_url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/hyperkitty/")
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// GETs `url` (on this HyperKitty); the status and the body.
    async fn get(&self, url: &str) -> (u16, String) {
        let path = url
            .strip_prefix(&format!("http://{}", self.listen))
            .unwrap_or_else(|| panic!("{url} is not on {}", self.listen))
            .to_string();
        let addr = self.listen.parse().expect("an address");
        tokio::task::spawn_blocking(move || {
            let (status, _, body) = support::http(addr, "GET", &path, false, "text/plain", "");
            (status, body)
        })
        .await
        .expect("the request runs")
    }

    /// The JSON of a post in HyperKitty's REST API, once it has it.
    async fn email(&self, hash: &str) -> Option<serde_json::Value> {
        let url = format!(
            "http://{}/hyperkitty/api/list/{LIST}/email/{hash}/",
            self.listen
        );
        match self.get(&url).await {
            (200, body) => Some(serde_json::from_str(&body).expect("JSON")),
            _ => None,
        }
    }
}

impl Drop for HyperKitty {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// HyperKitty on `port` in the site's config, with a per-attempt timeout of `TIMEOUT`.
fn configure(site: &mut Site, port: u16, key: &str, max_attempts: i64) {
    let mut hk = toml::Table::new();
    hk.insert("enable".into(), true.into());
    hk.insert("base_url".into(), HyperKitty::base_url(port).into());
    hk.insert("api_key".into(), key.into());
    hk.insert(
        "timeout_seconds".into(),
        TIMEOUT.as_secs().cast_signed().into(),
    );
    hk.insert("max_attempts".into(), max_attempts.into());
    site.set("archiver.hyperkitty", hk);
    let mut mbox = toml::Table::new();
    mbox.insert("enable".into(), true.into());
    site.set("archiver.mbox", mbox);
}

/// A sink, and a site with the list and HyperKitty (on the returned port) configured.
async fn site_with_list(max_attempts: i64) -> (Sink, Site, u16) {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    let port = free_port();
    configure(&mut site, port, KEY, max_attempts);
    site.create_list(LIST, &MEMBERS, &["owner@example.com"], &[]);
    site.ok(&["lists", "set", LIST, "footer_text="]);
    (sink, site, port)
}

/// The copy `anne` received of the post with `subject`.
fn delivered<'a>(received: &'a [Received], subject: &str) -> &'a [u8] {
    received_by(received, MEMBERS[0])
        .into_iter()
        .find(|r| {
            header(&r.data, "Subject").is_some_and(|s| {
                s == subject || s.split_once("] ").is_some_and(|(_, rest)| rest == subject)
            })
        })
        .map(|r| r.data.as_slice())
        .unwrap_or_else(|| panic!("anne received {subject:?}"))
}

/// The URL in a header field `<url>`.
fn url_in(message: &[u8], field: &str) -> String {
    let value = header(message, field).unwrap_or_else(|| panic!("the post has {field}"));
    value
        .trim()
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or_else(|| panic!("{field}: {value}"))
        .to_string()
}

async fn wait_for(what: &str, deadline: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many records the list's mbox of this month has.
fn mbox_records(site: &Site) -> usize {
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let mbox = site.path(&format!("var/archives/ant.example.org/{month}.mbox"));
    let text = std::fs::read(Path::new(&mbox)).unwrap_or_default();
    text.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"From "))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_are_in_hyperkitty_threaded_with_working_permalinks() {
    if !can_run() {
        return;
    }
    let (sink, mut site, port) = site_with_list(5).await;
    let hk = HyperKitty::start(&site, port).await;
    let daemon = site.start().await;

    let first = message_with(MEMBERS[0], LIST, "First post", &[], "The first words.\n");
    let first_id = header(&first, "Message-ID").expect("a Message-ID");
    let reply = message_with(
        MEMBERS[1],
        LIST,
        "Re: First post",
        &[
            &format!("In-Reply-To: {first_id}"),
            &format!("References: {first_id}"),
        ],
        "A reply in the thread.\n",
    );
    let other = message_with(MEMBERS[1], LIST, "Another topic", &[], "Elsewhere.\n");
    for text in [&first, &reply, &other] {
        let answer = post(site.lmtp, MEMBERS[0], LIST, text).await;
        assert_eq!(answer.code, 250, "{answer:?}");
    }
    sink.wait_for_recipients(6, support::DEADLINE)
        .await
        .expect("every member receives every post");
    let received = sink.received();
    let copies = [
        delivered(&received, "First post"),
        delivered(&received, "Re: First post"),
        delivered(&received, "Another topic"),
    ];
    let hashes: Vec<String> = copies
        .iter()
        .map(|c| header(c, "Message-ID-Hash").expect("a Message-ID-Hash"))
        .collect();
    wait_for(
        "HyperKitty to have the three posts",
        ARCHIVE_DEADLINE,
        async || site.queue_count("archive") == 0,
    )
    .await;

    for (copy, hash) in copies.iter().zip(&hashes) {
        let email = hk
            .email(hash)
            .await
            .unwrap_or_else(|| panic!("HyperKitty has {hash}:\n{}", hk.tail()));
        assert_eq!(email["message_id_hash"], hash.as_str());
        assert_eq!(
            email["subject"].as_str(),
            header(copy, "Subject").as_deref()
        );
        let archived_at = url_in(copy, "Archived-At");
        assert_eq!(
            archived_at,
            format!("{}list/{LIST}/message/{hash}/", HyperKitty::base_url(port))
        );
        let (status, page) = hk.get(&archived_at).await;
        assert_eq!(status, 200, "Archived-At {archived_at} opens");
        let words = email["content"].as_str().expect("content").trim();
        assert!(page.contains(words), "the page shows {words:?}");
        let list_archive = url_in(copy, "List-Archive");
        assert_eq!(
            list_archive,
            format!("{}list/{LIST}/", HyperKitty::base_url(port))
        );
        assert_eq!(hk.get(&list_archive).await.0, 200, "List-Archive opens");
    }
    let reply_email = hk.email(&hashes[1]).await.expect("the reply");
    let thread_of = |e: &serde_json::Value| e["thread"].as_str().unwrap_or_default().to_string();
    assert!(
        thread_of(&reply_email).ends_with(&format!("/thread/{}/", hashes[0])),
        "the reply is in the first post's thread: {reply_email}"
    );
    let other_email = hk.email(&hashes[2]).await.expect("the other post");
    assert!(
        thread_of(&other_email).ends_with(&format!("/thread/{}/", hashes[2])),
        "the other post starts its own thread"
    );
    assert_eq!(mbox_records(&site), 3, "the mbox has each post once");
    daemon.stop().await;

    // A wrong key: HyperKitty refuses (401), the entry is shunted at its last attempt, and
    // `queue retry` sends it back once the key is right.
    configure(&mut site, port, "a-wrong-key", 1);
    let daemon = site.start().await;
    let refused = message_with(MEMBERS[0], LIST, "Refused at first", &[], "Later.\n");
    let answer = post(site.lmtp, MEMBERS[0], LIST, &refused).await;
    assert_eq!(answer.code, 250, "{answer:?}");
    sink.wait_for_recipients(8, support::DEADLINE)
        .await
        .expect("the post is delivered all the same");
    wait_for(
        "the refused post to be shunted",
        ARCHIVE_DEADLINE,
        async || site.queue_count("shunt") == 1,
    )
    .await;
    let listed = site.ok(&["queue", "list", "shunt"]);
    assert!(listed.contains("answered 401"), "{listed}");
    let id = listed.split('\t').next().expect("an entry id").to_string();
    daemon.stop().await;
    configure(&mut site, port, KEY, 5);
    let moved = site.ok(&["queue", "retry", &id]);
    assert!(moved.contains("to archive"), "{moved}");
    let daemon = site.start().await;
    let copy = sink.received();
    let hash = header(delivered(&copy, "Refused at first"), "Message-ID-Hash").expect("hash");
    wait_for(
        "HyperKitty to have the retried post",
        ARCHIVE_DEADLINE,
        async || hk.email(&hash).await.is_some(),
    )
    .await;
    assert_eq!(site.queue_count("shunt"), 0);
    assert_eq!(
        mbox_records(&site),
        4,
        "the retry did not append to the mbox again"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperkitty_silent_or_down_delays_only_the_archive() {
    if !can_run() {
        return;
    }
    let (sink, site, port) = site_with_list(50).await;
    // First a HyperKitty that takes connections and never answers (slow: each attempt runs
    // into its timeout), then none (down), then the real one.
    let silent = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind HyperKitty's port");
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let daemon = site.start().await;

    let subjects = ["While it is silent", "Still silent"];
    let posted = Instant::now();
    for subject in subjects {
        let text = message_with(MEMBERS[0], LIST, subject, &[], "Patience.\n");
        let answer = post(site.lmtp, MEMBERS[0], LIST, &text).await;
        assert_eq!(answer.code, 250, "{answer:?}");
    }
    sink.wait_for_recipients(4, support::DEADLINE)
        .await
        .expect("the posts are delivered while HyperKitty does not answer");
    assert!(
        posted.elapsed() < TIMEOUT,
        "delivery did not wait for HyperKitty: {:?}",
        posted.elapsed()
    );
    wait_for("a timed-out attempt", ARCHIVE_DEADLINE, async || {
        site.ok(&["queue", "list", "archive"])
            .contains("attempts=1")
    })
    .await;
    let listed = site.ok(&["queue", "list", "archive"]);
    assert!(listed.contains("no answer within"), "{listed}");
    assert!(listed.contains(&format!("127.0.0.1:{port}")), "{listed}");
    assert_eq!(mbox_records(&site), 2, "the mbox did not wait");
    silent.abort();
    let _ = silent.await;

    let hk = HyperKitty::start(&site, port).await;
    let received = sink.received();
    for subject in subjects {
        let hash = header(delivered(&received, subject), "Message-ID-Hash").expect("hash");
        wait_for(
            "the retries to reach HyperKitty",
            ARCHIVE_DEADLINE,
            async || hk.email(&hash).await.is_some(),
        )
        .await;
    }
    wait_for("the archive entries to go", support::DEADLINE, async || {
        site.queue_count("archive") == 0
    })
    .await;
    assert_eq!(
        mbox_records(&site),
        2,
        "HyperKitty's retries did not repeat the mbox"
    );
    assert_eq!(received_by(&sink.received(), MEMBERS[0]).len(), 2);
    daemon.stop().await;
}
