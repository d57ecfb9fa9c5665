//! The acceptance test of the REST API: mailmanclient 3.3.5, unchanged, drives a running
//! `mailcast serve` through `tests/rest/mailmanclient_acceptance.py` (domains, lists,
//! settings, subscriptions with and without confirmation, paging, preferences, a post held
//! over LMTP and moderated, a moderated subscription, bans, templates, queues, users and
//! addresses, deletion).
//!
//! The virtualenv with mailmanclient is `<repo>/.venv`, made by `scripts/tools-install.sh`
//! (run by `.ci/run`). Without it the test fails under `CI=true` and is skipped otherwise.

mod support;

use std::path::PathBuf;
use std::process::Command;

use mailcast_outbound::sink::SinkConfig;
use support::{Site, sink_port, start_sink};

fn python() -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let works = Command::new(&python)
        .args(["-c", "import mailmanclient"])
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailmanclient_drives_mailcast() {
    let Some(python) = python() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the virtualenv with mailmanclient is missing: run scripts/tools-install.sh"
        );
        eprintln!("skipped: no .venv with mailmanclient (run scripts/tools-install.sh)");
        return;
    };
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = Site::new(sink_port(&sink));
    let footer = site.path("footer.txt");
    std::fs::write(&footer, "-- \nThe $display_name list\n").expect("write a footer");
    let daemon = site.start().await;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/rest/mailmanclient_acceptance.py");
    let output = tokio::task::spawn_blocking({
        let (rest, lmtp) = (site.rest, site.lmtp);
        move || {
            Command::new(python)
                .arg(script)
                .env("MAILCAST_REST_URL", format!("http://{rest}/3.1"))
                .env("MAILCAST_REST_USER", "restadmin")
                .env("MAILCAST_REST_PASS", "restpass")
                .env("MAILCAST_LMTP", lmtp.to_string())
                .env("MAILCAST_DOMAIN", "lists.test")
                .env(
                    "MAILCAST_FOOTER_URI",
                    format!("file://{}", footer.display()),
                )
                .output()
                .expect("run the acceptance script")
        }
    })
    .await
    .expect("the script's thread");
    let log = daemon.log();
    daemon.stop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "mailmanclient acceptance failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- daemon log (tail)\n{}",
        log.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stdout.contains("all 17 steps ok"),
        "the script did not finish:\n{stdout}"
    );
}
