//! The built-in archivers end to end: posts over LMTP to a list whose site enables the mbox
//! and prototype archivers, read back with Python's `mailbox` module and compared byte for
//! byte with what the members received (the list has no footer, so the delivered copy is the
//! copy Mailman archives), after the mbox's line ends (LF) and `From ` quoting (mboxrd).
//! A post with `X-No-Archive` or `X-Archive: no` is delivered and not archived; a list that
//! switches an archiver off gets none.

mod support;

use std::path::Path;
use std::process::Command;

use mailcast_outbound::sink::{Received, SinkConfig};
use support::{Site, header, http, message_with, post, sink_port, start_sink, wait_until};

const LIST: &str = "ant@example.org";
const MEMBERS: [&str; 2] = ["anne@example.com", "bart@example.net"];

/// Reads a mailbox with Python's `mailbox` module: one hex line per message, in file order,
/// preceded for an mbox by its `From ` line.
fn python_read(kind: &str, path: &Path) -> Vec<(String, Vec<u8>)> {
    let script = r#"
import mailbox, sys
kind, path = sys.argv[1], sys.argv[2]
box = mailbox.mbox(path, create=False) if kind == "mbox" else mailbox.Maildir(path, create=False)
keys = list(box.keys())
if kind == "maildir":
    keys.sort()
for key in keys:
    frm = box[key].get_from() if kind == "mbox" else ""
    print(frm.replace("\t", " ") + "\t" + box.get_bytes(key).hex())
"#;
    let out = Command::new("python3")
        .args(["-c", script, kind])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| {
            let (from, hex) = line.split_once('\t').expect("a tab");
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (from.to_string(), bytes)
        })
        .collect()
}

/// CRLF to LF, and `^>*From ` lines get one more `>` when `quote`.
fn unix(message: &[u8], quote: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(message).replace("\r\n", "\n");
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if quote && line.trim_start_matches('>').starts_with("From ") {
            out.push('>');
        }
        out.push_str(line);
    }
    out.into_bytes()
}

/// The copy of each post that `anne` received, by Message-ID.
fn delivered(received: &[Received]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = received
        .iter()
        .filter(|r| r.rcpts.iter().any(|x| x == MEMBERS[0]))
        .map(|r| (message_id(&r.data), r.data.clone()))
        .collect();
    out.sort();
    out
}

fn message_id(message: &[u8]) -> String {
    header(message, "Message-ID").expect("every post has a Message-ID")
}

async fn wait_for_archives(site: &Site) {
    wait_until("the spool has no work left", || {
        let counts = site.queue_counts();
        ["incoming", "outgoing", "deferred", "archive"]
            .iter()
            .all(|stage| counts.iter().any(|(s, n)| s == stage && *n == 0))
    })
    .await;
}

fn enable(site: &mut Site, archiver: &str) {
    let mut table = toml::Table::new();
    table.insert("enable".into(), true.into());
    site.set(&format!("archiver.{archiver}"), table);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posts_are_archived_once_byte_for_byte_in_mbox_and_maildir() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    enable(&mut site, "mbox");
    enable(&mut site, "prototype");
    site.create_list(LIST, &MEMBERS, &["owner@example.com"], &[]);
    site.ok(&["lists", "set", LIST, "footer_text="]);
    site.ok(&[
        "lists",
        "set",
        LIST,
        "archive_url=https://archive.example.org/ant/",
    ]);
    let daemon = site.start().await;

    let posts: Vec<(Vec<u8>, bool)> = vec![
        (
            message_with(MEMBERS[0], LIST, "plain", &[], "One line.\n"),
            true,
        ),
        (
            message_with(
                MEMBERS[1],
                LIST,
                "quoting",
                &[],
                "From the start of a line\n>From a quoted one\n>>From twice\nFromage\n\n From indented\n",
            ),
            true,
        ),
        (
            message_with(
                MEMBERS[0],
                LIST,
                "=?utf-8?q?caf=C3=A9?=",
                &[
                    "Content-Type: text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: 8bit",
                ],
                "Grüße, ☕\n\nFrom: a line that looks like a header\n",
            ),
            true,
        ),
        (
            message_with(
                MEMBERS[1],
                LIST,
                "private",
                &["X-No-Archive: yes"],
                "Not for the archive.\n",
            ),
            false,
        ),
        (
            message_with(
                MEMBERS[1],
                LIST,
                "opted out",
                &["X-Archive: No"],
                "Nor this.\n",
            ),
            false,
        ),
    ];
    for (text, _) in &posts {
        let reply = post(site.lmtp, MEMBERS[0], LIST, text).await;
        assert_eq!(reply.code, 250, "{reply:?}");
    }
    sink.wait_for_recipients(2 * posts.len() as u64, support::DEADLINE)
        .await
        .expect("every member receives every post");
    wait_for_archives(&site).await;

    let delivered = delivered(&sink.received());
    assert_eq!(delivered.len(), posts.len(), "each post once to anne");
    for (_, data) in &delivered {
        assert_eq!(
            header(data, "List-Archive").as_deref(),
            Some("<https://archive.example.org/ant/>"),
            "an archiver is enabled: List-Archive from archive_url"
        );
        assert_eq!(header(data, "Archived-At"), None, "mbox has no permalinks");
    }
    let archived_ids: Vec<String> = posts
        .iter()
        .filter(|(_, archived)| *archived)
        .map(|(text, _)| message_id(text))
        .collect();
    let mut expected_mbox: Vec<Vec<u8>> = delivered
        .iter()
        .filter(|(id, _)| archived_ids.contains(id))
        .map(|(_, data)| unix(data, true))
        .collect();
    expected_mbox.sort();
    assert_eq!(expected_mbox.len(), 3);

    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let mbox = site.path(&format!("var/archives/ant.example.org/{month}.mbox"));
    let read = python_read("mbox", &mbox);
    for (from, _) in &read {
        assert!(
            from.starts_with(MEMBERS[0]) && from.len() > MEMBERS[0].len() + 20,
            "From line: sender and date: {from:?}"
        );
    }
    let mut got: Vec<Vec<u8>> = read.into_iter().map(|(_, bytes)| bytes).collect();
    got.sort();
    assert_eq!(got.len(), 3, "three posts archived, none twice");
    for (got, want) in got.iter().zip(&expected_mbox) {
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(want),
            "the archived bytes are the delivered bytes, quoted"
        );
        assert_eq!(got, want);
    }
    let raw = std::fs::read(&mbox).expect("the mbox");
    assert!(
        raw.starts_with(b"From anne@example.com "),
        "mboxrd starts with a From line"
    );
    assert!(!raw.windows(2).any(|w| w == b"\r\n"), "LF line ends");

    let maildir = site.path("var/archives/prototype/ant@example.org");
    let mut got: Vec<Vec<u8>> = python_read("maildir", &maildir)
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    got.sort();
    let mut expected: Vec<Vec<u8>> = delivered
        .iter()
        .filter(|(id, _)| archived_ids.contains(id))
        .map(|(_, data)| unix(data, false))
        .collect();
    expected.sort();
    assert_eq!(
        got, expected,
        "the Maildir holds each archived post once, unquoted"
    );

    // A list that switches the mbox archiver off: nothing more in the mbox, the Maildir
    // still gets the post, and List-Archive stays (an archiver is still enabled).
    let rest = site.rest;
    let (status, _, body) = tokio::task::spawn_blocking(move || {
        http(
            rest,
            "PATCH",
            "/3.1/lists/ant.example.org/archivers",
            true,
            "application/x-www-form-urlencoded",
            "mbox=false",
        )
    })
    .await
    .expect("the request runs");
    assert_eq!(status, 204, "{body}");
    let directory_reload = std::time::Duration::from_millis(600);
    tokio::time::sleep(directory_reload).await;
    let before = std::fs::read(&mbox).expect("the mbox");
    let reply = post(
        site.lmtp,
        MEMBERS[0],
        LIST,
        &message_with(MEMBERS[0], LIST, "after", &[], "Only in the Maildir.\n"),
    )
    .await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(2 * posts.len() as u64 + 2, support::DEADLINE)
        .await
        .expect("the last post is delivered");
    wait_for_archives(&site).await;
    assert_eq!(std::fs::read(&mbox).expect("the mbox"), before);
    assert_eq!(python_read("maildir", &maildir).len(), 4);
    daemon.stop().await;
}
