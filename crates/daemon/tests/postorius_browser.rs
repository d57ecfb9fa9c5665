//! Postorius 1.3.13, Mailman 3's web UI, unchanged, on a running `mailcast serve`, driven in
//! headless Chromium by `tests/postorius/browser.py` (Selenium): log in, create a domain and a
//! list, change the subject prefix (checked in `mailcast lists show`), save and edit a footer
//! template (checked in `mailcast templates show`), mass-subscribe and page
//! through the members, subscribe the superuser from the list's page (by its user id), accept
//! a post held over LMTP, approve a moderated subscription, ban an
//! address, delete the list.
//!
//! This file starts mailcast (REST and LMTP on loopback, an in-process SMTP sink as the
//! members' servers), prepares and starts Postorius with `scripts/postorius-up.sh` against it,
//! runs the script and follows its `ok <step>` lines. When the script reports the held step,
//! the post it accepted must reach every member at the sink, with the subject prefix set in
//! the settings step.
//!
//! Needs `/usr/bin/chromium`, `/usr/bin/chromedriver` (Debian's `chromium`, `chromium-driver`)
//! and `<repo>/.venv-postorius`, all made by `scripts/tools-install.sh`. Without them the test
//! fails under `CI=true` and is skipped otherwise. A failing step leaves a screenshot and the
//! page's HTML under `target/postorius-artifacts/`; with `SAVE_DOC_SCREENSHOTS=1` the script
//! also writes the screenshots of `docs/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mailcast_outbound::sink::{Sink, SinkConfig};
use support::{Site, free_port, header, received_by, sink_port, start_sink};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The members browser.py mass-subscribes, and the subject of its held post.
const MEMBERS: usize = 30;
const HELD_SUBJECT: &str = "A post from a stranger";
/// The subject prefix browser.py sets in the list's settings.
const PREFIX: &str = "[web] ";
const STEPS: usize = 11;
/// How long one step of browser.py may take before the run is given up.
const STEP_DEADLINE: Duration = Duration::from_secs(240);
/// Postorius's first start runs its migrations.
const START_DEADLINE: Duration = Duration::from_secs(180);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn member(i: usize) -> String {
    format!("reader{i:02}@example.org")
}

/// What is missing to run the test, if anything.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    for tool in [&chromium, &driver] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is missing (Debian's chromium and chromium-driver)"
            ));
        }
    }
    let python = repo().join(".venv-postorius/bin/python");
    let works = std::process::Command::new(&python)
        .args(["-c", "import postorius, selenium"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!works).then(|| format!("{} cannot import postorius and selenium", python.display()))
}

/// A process started in its own process group; the whole group is killed when dropped
/// (browser.py's chromedriver and Chromium with it).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts Postorius on a free loopback port against the site's REST API and waits until it
/// accepts connections; returns it and its URL.
async fn start_postorius(site: &Site, log: &Path) -> (Group, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let file = std::fs::File::create(log).expect("create the Postorius log");
    let child = Command::new(repo().join("scripts/postorius-up.sh"))
        .env("MAILCAST_REST_URL", format!("http://{}", site.rest))
        .env("MAILCAST_REST_USER", "restadmin")
        .env("MAILCAST_REST_PASS", "restpass")
        .env("POSTORIUS_LISTEN", &listen)
        .env("POSTORIUS_STATE", site.path("postorius"))
        .env("POSTORIUS_ADMIN_USER", "admin")
        .env("POSTORIUS_ADMIN_PASS", "admin-pass")
        .env("POSTORIUS_ADMIN_EMAIL", "admin@example.org")
        .env_remove("POSTORIUS_BASE_URL")
        .env_remove("POSTORIUS_ALLOWED_HOSTS")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("the log"))
        .stderr(file)
        .process_group(0)
        .spawn()
        .expect("run scripts/postorius-up.sh");
    let mut postorius = Group(child);
    let started = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(&listen).await.is_ok() {
            return (postorius, format!("http://{listen}"));
        }
        if let Ok(Some(status)) = postorius.0.try_wait() {
            panic!(
                "Postorius exited with {status} during start-up:\n{}",
                tail(log, 60)
            );
        }
        assert!(
            started.elapsed() < START_DEADLINE,
            "Postorius did not start within {START_DEADLINE:?}:\n{}",
            tail(log, 60)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every member received the accepted post; returns its subject as delivered.
async fn accepted_post_delivered(sink: &Sink) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let received = sink.received();
        let posts: Vec<_> = received
            .iter()
            .filter(|r| header(&r.data, "Subject").is_some_and(|s| s.contains(HELD_SUBJECT)))
            .cloned()
            .collect();
        let missing: Vec<String> = (0..MEMBERS)
            .map(member)
            .filter(|m| received_by(&posts, m).is_empty())
            .collect();
        if missing.is_empty() {
            return Ok(header(&posts[0].data, "Subject").unwrap_or_default());
        }
        if started.elapsed() > support::DEADLINE {
            return Err(format!(
                "after the accept, {} of {MEMBERS} members did not receive {HELD_SUBJECT:?} \
                 (first: {}); the sink received {} transactions",
                missing.len(),
                missing[0],
                received.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postorius_manages_mailcast_in_chromium() {
    if let Some(why) = missing() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the Postorius browser test cannot run: {why}; run scripts/tools-install.sh"
        );
        eprintln!("skipped: {why} (run scripts/tools-install.sh)");
        return;
    }
    let begun = Instant::now();
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = Site::new(sink_port(&sink));
    let daemon = site.start().await;
    let postorius_log = site.path("postorius.log");
    let (postorius, url) = start_postorius(&site, &postorius_log).await;
    let shots = repo().join("target/postorius-artifacts");
    let _ = std::fs::remove_dir_all(&shots);
    let stderr_path = site.path("browser.stderr");
    let mut browser = Group(
        Command::new(repo().join(".venv-postorius/bin/python"))
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/postorius/browser.py"))
            .env("POSTORIUS_URL", &url)
            .env("POSTORIUS_ADMIN_USER", "admin")
            .env("POSTORIUS_ADMIN_PASS", "admin-pass")
            .env("POSTORIUS_ADMIN_EMAIL", "admin@example.org")
            .env("MAILCAST_LMTP", site.lmtp.to_string())
            .env("MAILCAST_DOMAIN", "lists.test")
            .env("MAILCAST_BIN", env!("CARGO_BIN_EXE_mailcast"))
            .env("MAILCAST_CONFIG", site.config_path())
            .env("MAILCAST_REST_URL", format!("http://{}/3.1", site.rest))
            .env("MAILCAST_REST_USER", "restadmin")
            .env("MAILCAST_REST_PASS", "restpass")
            .env("POSTORIUS_SHOTS", &shots)
            .env("POSTORIUS_DOC_SHOTS", repo().join("docs"))
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).expect("the script's stderr"))
            .process_group(0)
            .spawn()
            .expect("run browser.py"),
    );
    let mut lines = BufReader::new(browser.0.stdout.take().expect("the script's stdout")).lines();
    let mut transcript = Vec::new();
    let mut delivered = None;
    let finished = loop {
        match tokio::time::timeout(STEP_DEADLINE, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                eprintln!("browser.py: {line} ({:.0?})", begun.elapsed());
                let held = line == "ok held";
                transcript.push(line);
                if held {
                    // The script goes on with its next steps meanwhile.
                    delivered = Some(accepted_post_delivered(&sink).await);
                }
            }
            Ok(Ok(None)) => break true,
            Ok(Err(e)) => panic!("reading the script's output: {e}"),
            Err(_) => break false,
        }
    };
    let status = if finished {
        tokio::time::timeout(Duration::from_secs(30), browser.0.wait())
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    drop(browser);
    drop(postorius);
    let log = daemon.log();
    daemon.stop().await;
    let transcript = transcript.join("\n");
    let report = format!(
        "--- browser.py stdout\n{transcript}\n--- browser.py stderr (tail)\n{}\n\
         --- Postorius log (tail)\n{}\n--- daemon log (tail)\n{}\n\
         (screenshots and pages of a failed step: {})",
        tail(&stderr_path, 40),
        tail(&postorius_log, 40),
        log.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n"),
        shots.display()
    );
    assert!(
        finished,
        "browser.py printed nothing for {STEP_DEADLINE:?} and was killed\n{report}"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "browser.py failed ({status:?})\n{report}"
    );
    assert!(
        transcript.contains(&format!("all {STEPS} steps ok")),
        "browser.py did not finish its steps\n{report}"
    );
    let subject = delivered
        .expect("browser.py reported the held step")
        .unwrap_or_else(|e| panic!("{e}\n{report}"));
    assert_eq!(
        subject,
        format!("{PREFIX}{HELD_SUBJECT}"),
        "the accepted post went out without the prefix set in Postorius"
    );
    eprintln!("Postorius browser test: {:.1?}", begun.elapsed());
}
